// Password hashes of internal accounts (the users file): parsed once at configuration time,
// verified per login. No home-made hashing: Argon2id through libargon2 (Debian's libargon2-dev,
// the library behind the `argon2` CLI), PBKDF2-HMAC through OpenSSL.
//
// Accepted encodings (anything else is refused by parse() with one sentence saying why):
//
//   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//       The PHC string that `argon2 SALT -id -e` prints; salt and hash in standard base64
//       without padding. Only Argon2id (not argon2i/argon2d), only version 19 (0x13).
//       Bounds, so that a users file can neither lower the cost to nothing nor stall a thread:
//         m in [kArgon2MinMemoryKiB, kArgon2MaxMemoryKiB] = [8 MiB, 1 GiB],
//         t in [1, kArgon2MaxPasses = 100], and m * t <= kArgon2MaxWorkKiB (4 GiB of memory
//         passes: about 4 s of one core; RFC 9106's m=64 MiB,t=3 is 192 MiB),
//         p in [1, kArgon2MaxLanes = 16],
//         salt 8..64 bytes, hash 16..64 bytes.
//
//   $pbkdf2-sha256$<rounds>$<salt>$<hash>      (and $pbkdf2-sha512$...)
//       passlib's format (`passlib.hash.pbkdf2_sha256.hash(pw)`): salt and hash in passlib's
//       "adapted base64" ('.' instead of '+', no padding). Rounds in [10,000, 10,000,000]
//       (passlib's defaults are 29,000 and 25,000), salt 8..64 bytes, hash exactly the digest
//       size (32 or 64 bytes), as passlib writes it.
//
// Base64 must be canonical (unused low bits zero), as both tools write it; numbers are plain
// decimal without sign or leading zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "saml/result.hpp"

namespace sso {

constexpr std::uint32_t kArgon2MinMemoryKiB = 8 * 1024;
constexpr std::uint32_t kArgon2MaxMemoryKiB = 1024 * 1024;
constexpr std::uint32_t kArgon2MaxPasses = 100;
constexpr std::uint64_t kArgon2MaxWorkKiB = 4ull * 1024 * 1024;
constexpr std::uint32_t kArgon2MaxLanes = 16;
constexpr std::uint32_t kPbkdf2MinRounds = 10'000;
constexpr std::uint32_t kPbkdf2MaxRounds = 10'000'000;
constexpr std::size_t kPasswordHashMinSalt = 8;
constexpr std::size_t kPasswordHashMaxSalt = 64;
constexpr std::size_t kPasswordHashMinOutput = 16;
constexpr std::size_t kPasswordHashMaxOutput = 64;
// Longer passwords never verify (bounds the work a request can ask for; Basic/form input).
constexpr std::size_t kMaxPasswordLength = 4096;
// Longer encodings are refused before any decoding.
constexpr std::size_t kMaxPasswordHashEncoding = 512;

class PasswordHash {
public:
    enum class Scheme { argon2id, pbkdf2_sha256, pbkdf2_sha512 };

    // Parses and checks an encoded hash; on error, one sentence saying what is wrong (unknown
    // scheme, bad base64, parameters out of bounds, ...), never quoting salt or hash. No
    // hashing happens here. Out of memory: an Error with code internal.
    static Result<PasswordHash> parse(std::string_view encoded) noexcept;

    // Whether `password` hashes to the stored hash; the final comparison is constant-time
    // (CRYPTO_memcmp). CPU-heavy (Argon2: up to the bounds above): call it off the event loop.
    // Thread-safe (const, no shared state; Argon2 runs its lanes in the calling thread, it
    // starts no threads). Empty password, password longer than kMaxPasswordLength, a password
    // with a NUL byte, or a library failure (e.g. out of memory) => false.
    bool verify(std::string_view password) const noexcept;

    // "argon2id" | "pbkdf2-sha256" | "pbkdf2-sha512"
    std::string_view scheme() const noexcept;
    Scheme scheme_id() const noexcept { return scheme_; }

    // Cost parameters as parsed (Argon2: memory KiB, passes, lanes; PBKDF2: rounds in `passes`).
    std::uint32_t memory_kib() const noexcept { return memory_kib_; }
    std::uint32_t passes() const noexcept { return passes_; }
    std::uint32_t lanes() const noexcept { return lanes_; }

private:
    PasswordHash() = default;

    Scheme scheme_ = Scheme::argon2id;
    std::uint32_t memory_kib_ = 0, passes_ = 0, lanes_ = 0;
    std::string salt_, hash_;  // raw bytes
};

}  // namespace sso
