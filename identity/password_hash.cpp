#include "identity/password_hash.hpp"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <new>
#include <optional>
#include <vector>

namespace sso {

namespace {

Error refuse(std::string reason) {
    return fail(SamlError::config, std::move(reason), "password");
}

// Base64 without padding, canonical (the unused low bits of the last character are zero).
// `c62`/`c63` pick the alphabet: '+' '/' for the PHC strings of argon2, '.' '/' for passlib.
std::optional<std::string> decode_base64_unpadded(std::string_view in, char c62, char c63) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    std::uint32_t bits = 0;
    int nbits = 0;
    for (const char c : in) {
        std::uint32_t v;
        if (c >= 'A' && c <= 'Z') {
            v = static_cast<std::uint32_t>(c - 'A');
        } else if (c >= 'a' && c <= 'z') {
            v = static_cast<std::uint32_t>(c - 'a' + 26);
        } else if (c >= '0' && c <= '9') {
            v = static_cast<std::uint32_t>(c - '0' + 52);
        } else if (c == c62) {
            v = 62;
        } else if (c == c63) {
            v = 63;
        } else {
            return std::nullopt;
        }
        bits = (bits << 6) | v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out.push_back(static_cast<char>((bits >> nbits) & 0xFF));
        }
    }
    if ((bits & ((1u << nbits) - 1)) != 0) return std::nullopt;  // non-canonical tail
    return out;
}

// Plain decimal: digits only, no sign, no leading zero, at most 10 digits.
std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) return parts;
        start = pos + 1;
    }
}

// "KEY=<decimal>" -> the number.
std::optional<std::uint64_t> parse_param(std::string_view field, std::string_view key) {
    if (field.size() <= key.size() || field.substr(0, key.size()) != key || field[key.size()] != '=') {
        return std::nullopt;
    }
    return parse_decimal(field.substr(key.size() + 1));
}

// Salt and hash of either scheme: decoded, with their lengths checked. `what` names the scheme.
std::optional<Error> decode_salt_and_hash(std::string_view what, std::string_view salt_b64, std::string_view hash_b64,
                                          char c62, std::size_t min_hash, std::size_t max_hash, std::string& salt,
                                          std::string& hash) {
    auto s = decode_base64_unpadded(salt_b64, c62, '/');
    if (!s) return refuse(std::string(what) + " salt is not valid base64");
    if (s->size() < kPasswordHashMinSalt || s->size() > kPasswordHashMaxSalt) {
        return refuse(std::string(what) + " salt is " + std::to_string(s->size()) + " bytes, outside " +
                      std::to_string(kPasswordHashMinSalt) + ".." + std::to_string(kPasswordHashMaxSalt));
    }
    auto h = decode_base64_unpadded(hash_b64, c62, '/');
    if (!h) return refuse(std::string(what) + " hash is not valid base64");
    if (h->size() < min_hash || h->size() > max_hash) {
        return refuse(std::string(what) + " hash is " + std::to_string(h->size()) + " bytes, " +
                      (min_hash == max_hash ? "not " + std::to_string(min_hash)
                                            : "outside " + std::to_string(min_hash) + ".." + std::to_string(max_hash)));
    }
    salt = std::move(*s);
    hash = std::move(*h);
    return std::nullopt;
}

std::string out_of_range(std::string_view what, std::uint64_t value, std::uint64_t lo, std::uint64_t hi) {
    return std::string(what) + std::to_string(value) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
}

}  // namespace

Result<PasswordHash> PasswordHash::parse(std::string_view encoded) noexcept {
    try {
        if (encoded.empty()) return refuse("the password hash is empty");
        if (encoded.size() > kMaxPasswordHashEncoding) {
            return refuse("the password hash is longer than " + std::to_string(kMaxPasswordHashEncoding) +
                          " characters");
        }
        const auto fields = split(encoded, '$');
        if (fields.size() < 2 || !fields[0].empty()) {
            return refuse(
                "the password hash does not start with \"$argon2id$\", \"$pbkdf2-sha256$\" or \"$pbkdf2-sha512$\"");
        }
        const auto scheme = fields[1];
        PasswordHash h;
        if (scheme == "argon2id") {
            // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
            if (fields.size() != 6) {
                return refuse(
                    "an argon2id hash has the form $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>");
            }
            const auto version = parse_param(fields[2], "v");
            if (!version || *version != ARGON2_VERSION_13) return refuse("the argon2id version is not v=19");
            const auto params = split(fields[3], ',');
            std::optional<std::uint64_t> m, t, p;
            if (params.size() == 3) {
                m = parse_param(params[0], "m");
                t = parse_param(params[1], "t");
                p = parse_param(params[2], "p");
            }
            if (!m || !t || !p) return refuse("the argon2id parameters are not \"m=<KiB>,t=<passes>,p=<lanes>\"");
            if (*m < kArgon2MinMemoryKiB || *m > kArgon2MaxMemoryKiB) {
                return refuse(out_of_range("argon2id memory m=", *m, kArgon2MinMemoryKiB, kArgon2MaxMemoryKiB) +
                              " KiB");
            }
            if (*t < 1 || *t > kArgon2MaxPasses)
                return refuse(out_of_range("argon2id passes t=", *t, 1, kArgon2MaxPasses));
            if (*m * *t > kArgon2MaxWorkKiB) {
                return refuse("argon2id m*t = " + std::to_string(*m * *t) + " KiB exceeds " +
                              std::to_string(kArgon2MaxWorkKiB) + " KiB (4 GiB of memory passes)");
            }
            if (*p < 1 || *p > kArgon2MaxLanes)
                return refuse(out_of_range("argon2id lanes p=", *p, 1, kArgon2MaxLanes));
            if (auto err = decode_salt_and_hash("argon2id", fields[4], fields[5], '+', kPasswordHashMinOutput,
                                                kPasswordHashMaxOutput, h.salt_, h.hash_)) {
                return *err;
            }
            h.scheme_ = Scheme::argon2id;
            h.memory_kib_ = static_cast<std::uint32_t>(*m);
            h.passes_ = static_cast<std::uint32_t>(*t);
            h.lanes_ = static_cast<std::uint32_t>(*p);
            return h;
        }
        if (scheme == "pbkdf2-sha256" || scheme == "pbkdf2-sha512") {
            const bool sha512 = scheme == "pbkdf2-sha512";
            // "", "pbkdf2-sha256", rounds, salt, hash
            if (fields.size() != 5) {
                return refuse("a " + std::string(scheme) + " hash has the form $" + std::string(scheme) +
                              "$<rounds>$<salt>$<hash>");
            }
            const auto rounds = parse_decimal(fields[2]);
            if (!rounds) return refuse("the " + std::string(scheme) + " rounds are not a decimal number");
            if (*rounds < kPbkdf2MinRounds || *rounds > kPbkdf2MaxRounds) {
                return refuse(
                    out_of_range(std::string(scheme) + " rounds ", *rounds, kPbkdf2MinRounds, kPbkdf2MaxRounds));
            }
            const std::size_t digest = sha512 ? 64 : 32;
            if (auto err = decode_salt_and_hash(scheme, fields[3], fields[4], '.', digest, digest, h.salt_, h.hash_)) {
                return *err;
            }
            h.scheme_ = sha512 ? Scheme::pbkdf2_sha512 : Scheme::pbkdf2_sha256;
            h.passes_ = static_cast<std::uint32_t>(*rounds);
            return h;
        }
        if (scheme == "argon2i" || scheme == "argon2d") {
            return refuse(std::string(scheme) + " hashes are not accepted, only argon2id");
        }
        return refuse("unknown password hash scheme (argon2id, pbkdf2-sha256 or pbkdf2-sha512 are accepted)");
    } catch (const std::bad_alloc&) {
        return fail(SamlError::internal, "out of memory");
    }
}

bool PasswordHash::verify(std::string_view password) const noexcept {
    // A NUL never verifies: HMAC pads short keys with zero bytes, so to PBKDF2 "pw" and "pw\0"
    // are the same password; no one types a NUL, and refusing it keeps all schemes alike.
    if (password.empty() || password.size() > kMaxPasswordLength || hash_.empty() ||
        password.find('\0') != std::string_view::npos) {
        return false;
    }
    std::array<unsigned char, kPasswordHashMaxOutput> out{};
    bool computed = false;
    if (scheme_ == Scheme::argon2id) {
        // argon2_ctx rather than argon2id_hash_raw: the same result, but the lanes run in this
        // thread (threads = 1) instead of p new threads per login. Default flags: libargon2
        // writes neither the password nor the salt, so handing it our const bytes is safe.
        argon2_context ctx{};
        ctx.out = out.data();
        ctx.outlen = static_cast<std::uint32_t>(hash_.size());
        ctx.pwd = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(password.data()));
        ctx.pwdlen = static_cast<std::uint32_t>(password.size());
        ctx.salt = const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(salt_.data()));
        ctx.saltlen = static_cast<std::uint32_t>(salt_.size());
        ctx.t_cost = passes_;
        ctx.m_cost = memory_kib_;
        ctx.lanes = lanes_;
        ctx.threads = 1;
        ctx.version = ARGON2_VERSION_13;
        ctx.flags = ARGON2_DEFAULT_FLAGS;
        computed = argon2_ctx(&ctx, Argon2_id) == ARGON2_OK;
    } else {
        const EVP_MD* md = scheme_ == Scheme::pbkdf2_sha512 ? EVP_sha512() : EVP_sha256();
        computed =
            PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                              reinterpret_cast<const unsigned char*>(salt_.data()), static_cast<int>(salt_.size()),
                              static_cast<int>(passes_), md, static_cast<int>(hash_.size()), out.data()) == 1;
    }
    const bool match = computed && CRYPTO_memcmp(out.data(), hash_.data(), hash_.size()) == 0;
    OPENSSL_cleanse(out.data(), out.size());
    return match;
}

std::string_view PasswordHash::scheme() const noexcept {
    switch (scheme_) {
        case Scheme::argon2id:
            return "argon2id";
        case Scheme::pbkdf2_sha256:
            return "pbkdf2-sha256";
        case Scheme::pbkdf2_sha512:
            return "pbkdf2-sha512";
    }
    return "";
}

}  // namespace sso
