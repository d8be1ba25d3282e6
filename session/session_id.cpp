#include "session/session_id.hpp"

#include <array>
#include <new>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace sso {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr bool is_base64url_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

void base64url_encode_into(std::span<const unsigned char> in, char* out) noexcept {
    std::size_t i = 0;
    const std::size_t n = in.size();
    for (; i + 3 <= n; i += 3) {
        const unsigned v = (unsigned{in[i]} << 16) | (unsigned{in[i + 1]} << 8) | in[i + 2];
        *out++ = kAlphabet[(v >> 18) & 0x3F];
        *out++ = kAlphabet[(v >> 12) & 0x3F];
        *out++ = kAlphabet[(v >> 6) & 0x3F];
        *out++ = kAlphabet[v & 0x3F];
    }
    const std::size_t rest = n - i;
    if (rest == 1) {
        const unsigned v = unsigned{in[i]} << 16;
        *out++ = kAlphabet[(v >> 18) & 0x3F];
        *out++ = kAlphabet[(v >> 12) & 0x3F];
    } else if (rest == 2) {
        const unsigned v = (unsigned{in[i]} << 16) | (unsigned{in[i + 1]} << 8);
        *out++ = kAlphabet[(v >> 18) & 0x3F];
        *out++ = kAlphabet[(v >> 12) & 0x3F];
        *out++ = kAlphabet[(v >> 6) & 0x3F];
    }
}

std::optional<std::string> new_random_token(std::size_t bytes) noexcept {
    if (bytes == 0 || bytes > kMaxRandomTokenBytes) {
        return std::nullopt;
    }
    std::array<unsigned char, kMaxRandomTokenBytes> raw;
    if (RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1) {
        return std::nullopt;
    }
    std::optional<std::string> result;
    try {
        result.emplace(base64url_length(bytes), '\0');
        base64url_encode_into(std::span<const unsigned char>(raw.data(), bytes), result->data());
    } catch (const std::bad_alloc&) {
        result.reset();
    }
    // Do not leave token material lying around on the stack.
    OPENSSL_cleanse(raw.data(), bytes);
    return result;
}

std::optional<std::string> new_session_id() noexcept {
    static_assert(base64url_length(kSessionIdBytes) == kSessionIdChars);
    return new_random_token(kSessionIdBytes);
}

bool is_well_formed_session_id(std::string_view id) noexcept {
    if (id.size() != kSessionIdChars) {
        return false;
    }
    for (const char c : id) {
        if (!is_base64url_char(c)) {
            return false;
        }
    }
    return true;
}

}  // namespace sso
