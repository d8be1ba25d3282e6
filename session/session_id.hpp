// Session identifiers and other unguessable tokens.
//
// A session id is the only thing the browser holds, so it must be
// unguessable (256 bits from the OpenSSL CSPRNG) and cheap to validate
// before it is used as a lookup key in shared memory or Redis.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sso {

constexpr std::size_t kSessionIdBytes = 32;  // 256 bits of entropy
constexpr std::size_t kSessionIdChars = 43;  // base64url, no padding: ceil(32*8/6)

// Upper bound for new_random_token(); tokens are small by design and the
// random bytes live in a stack buffer.
constexpr std::size_t kMaxRandomTokenBytes = 256;

// Length of the unpadded base64url encoding of `bytes` input bytes.
constexpr std::size_t base64url_length(std::size_t bytes) noexcept {
    return (bytes * 8 + 5) / 6;
}

// Writes exactly base64url_length(in.size()) characters to `out`
// (base64url alphabet "A-Za-z0-9-_", no padding).
void base64url_encode_into(std::span<const unsigned char> in, char* out) noexcept;

// A fresh session id: 32 bytes from RAND_bytes, base64url without padding
// (43 chars). nullopt if the CSPRNG fails (or on allocation failure):
// the caller must then refuse to create a session rather than fall back.
std::optional<std::string> new_session_id() noexcept;

// True when `id` has the exact shape of a session id: 43 chars, all in
// [A-Za-z0-9_-]. Checked before any store lookup so junk cookies never reach it.
bool is_well_formed_session_id(std::string_view id) noexcept;

// `bytes` random bytes, base64url without padding (request IDs, CSRF tokens,
// relay state). nullopt when bytes == 0, bytes > kMaxRandomTokenBytes, or the
// CSPRNG fails.
std::optional<std::string> new_random_token(std::size_t bytes) noexcept;

}  // namespace sso
