#include "session/login_request.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <span>

#include "session/session_id.hpp"

namespace sso {
namespace {

constexpr unsigned char kVersion = 1;
constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kHeaderBytes = 1 + 8 + kNonceBytes;  // version, issued (big-endian), nonce
constexpr std::size_t kRawBytes = kHeaderBytes + kMacBytes;
constexpr std::size_t kIdChars = 1 + base64url_length(kRawBytes);
constexpr std::size_t kNonceChars = base64url_length(kNonceBytes);
constexpr std::string_view kLabel = "nginx-sso AuthnRequest ID v1";

int b64url_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Exactly out.size() bytes from their unpadded base64url text; false on any other input.
bool b64url_decode(std::string_view in, std::span<unsigned char> out) noexcept {
    if (in.size() != base64url_length(out.size())) return false;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t n = 0;
    for (char c : in) {
        const int v = b64url_value(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<unsigned char>(acc >> bits);
        }
    }
    // The unused low bits of the last character must be zero: one text per value.
    return n == out.size() && (acc & ((1u << bits) - 1)) == 0;
}

void put_length(EVP_MAC_CTX* ctx, std::size_t n, bool& ok) noexcept {
    const unsigned char b[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    ok = ok && EVP_MAC_update(ctx, b, sizeof b) == 1;
}

}  // namespace

LoginRequestKey::LoginRequestKey(std::string_view secret, std::string_view sp_entity_id) noexcept {
    if (secret.empty()) return;
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac_) return;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    // The key proper is derived, so that the secret itself is never a MAC key of messages.
    unsigned char key[32];
    std::size_t key_len = 0;
    EVP_MAC_CTX* derive = EVP_MAC_CTX_new(mac_);
    static constexpr unsigned char nul = 0;
    bool ok = derive &&
              EVP_MAC_init(derive, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) == 1;
    ok = ok && EVP_MAC_update(derive, reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size()) == 1;
    ok = ok && EVP_MAC_update(derive, &nul, 1) == 1;
    ok = ok &&
         EVP_MAC_update(derive, reinterpret_cast<const unsigned char*>(sp_entity_id.data()), sp_entity_id.size()) == 1;
    ok = ok && EVP_MAC_final(derive, key, &key_len, sizeof key) == 1;
    EVP_MAC_CTX_free(derive);
    if (ok) ctx_ = EVP_MAC_CTX_new(mac_);
    if (ctx_ && EVP_MAC_init(ctx_, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx_);
        ctx_ = nullptr;
    }
    OPENSSL_cleanse(key, sizeof key);
}

LoginRequestKey::~LoginRequestKey() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
}

bool LoginRequestKey::mac(std::string_view header, std::string_view idp, std::string_view return_to,
                          unsigned char* out) noexcept {
    if (!ctx_) return false;
    bool ok = EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1;
    ok = ok && EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(header.data()), header.size()) == 1;
    put_length(ctx_, idp.size(), ok);
    ok = ok && EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(idp.data()), idp.size()) == 1;
    put_length(ctx_, return_to.size(), ok);
    ok = ok && EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(return_to.data()), return_to.size()) == 1;
    unsigned char full[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    ok = ok && EVP_MAC_final(ctx_, full, &len, sizeof full) == 1 && len >= kMacBytes;
    if (ok) std::memcpy(out, full, kMacBytes);
    return ok;
}

std::optional<LoginRequestToken> LoginRequestKey::issue(std::string_view idp, std::string_view return_to,
                                                        std::int64_t now) noexcept {
    std::array<unsigned char, kRawBytes> raw{};
    raw[0] = kVersion;
    const auto issued = static_cast<std::uint64_t>(now);
    for (int i = 0; i < 8; ++i) raw[1 + i] = static_cast<unsigned char>(issued >> (56 - 8 * i));
    if (RAND_bytes(raw.data() + 9, kNonceBytes) != 1) return std::nullopt;
    if (!mac({reinterpret_cast<const char*>(raw.data()), kHeaderBytes}, idp, return_to, raw.data() + kHeaderBytes))
        return std::nullopt;
    try {
        LoginRequestToken t;
        t.request_id.resize(kIdChars);
        t.request_id[0] = '_';  // an xs:ID starts with a letter or '_'
        base64url_encode_into(raw, t.request_id.data() + 1);
        t.relay_state.resize(kNonceChars);
        base64url_encode_into(std::span<const unsigned char>(raw.data() + 9, kNonceBytes), t.relay_state.data());
        t.relay_state.append(return_to);
        return t;
    } catch (...) {
        return std::nullopt;
    }
}

LoginRequestVerdict LoginRequestKey::verify(std::string_view request_id, std::string_view idp,
                                            std::string_view relay_state, std::int64_t now, std::int64_t lifetime,
                                            std::int64_t skew) noexcept {
    LoginRequestVerdict v;
    std::array<unsigned char, kRawBytes> raw{};
    if (request_id.size() != kIdChars || request_id[0] != '_' || !b64url_decode(request_id.substr(1), raw) ||
        raw[0] != kVersion)
        return v;
    std::uint64_t issued = 0;
    for (int i = 0; i < 8; ++i) issued = (issued << 8) | raw[1 + i];
    std::array<unsigned char, kNonceBytes> nonce{};
    if (relay_state.size() < kNonceChars || !b64url_decode(relay_state.substr(0, kNonceChars), nonce) ||
        CRYPTO_memcmp(nonce.data(), raw.data() + 9, kNonceBytes) != 0) {
        v.status = LoginRequestCheck::relay_mismatch;
        return v;
    }
    const std::string_view return_to = relay_state.substr(kNonceChars);
    unsigned char expected[kMacBytes];
    if (!mac({reinterpret_cast<const char*>(raw.data()), kHeaderBytes}, idp, return_to, expected) ||
        CRYPTO_memcmp(expected, raw.data() + kHeaderBytes, kMacBytes) != 0) {
        v.status = LoginRequestCheck::forged;
        return v;
    }
    v.issued = static_cast<std::int64_t>(issued);
    if (v.issued > now + skew) {
        v.status = LoginRequestCheck::from_future;
    } else if (now >= v.issued + lifetime + skew) {
        v.status = LoginRequestCheck::expired;
    } else {
        v.status = LoginRequestCheck::ok;
        v.return_to = return_to;
    }
    return v;
}

}  // namespace sso
