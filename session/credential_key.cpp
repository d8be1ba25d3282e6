#include "session/credential_key.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace sso {

CredentialKey::CredentialKey(std::span<const unsigned char> secret) noexcept {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac_) return;
    ctx_ = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx_ && EVP_MAC_init(ctx_, secret.data(), secret.size(), params) == 1) return;
    EVP_MAC_CTX_free(ctx_);
    ctx_ = nullptr;
}

CredentialKey::~CredentialKey() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
}

std::string CredentialKey::derive(std::string_view directory, std::string_view user,
                                  std::string_view password) noexcept {
    if (!ctx_) return {};
    static constexpr unsigned char nul = 0;
    // A null key keeps the one set at construction and only restarts the MAC.
    bool ok = EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1;
    auto update = [&](const void* p, std::size_t n) {
        ok = ok && EVP_MAC_update(ctx_, static_cast<const unsigned char*>(p), n) == 1;
    };
    update(directory.data(), directory.size());
    update(&nul, 1);
    update(user.data(), user.size());
    update(&nul, 1);
    update(password.data(), password.size());
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    ok = ok && EVP_MAC_final(ctx_, mac, &len, sizeof mac) == 1;
    if (!ok) return {};
    static constexpr char digits[] = "0123456789abcdef";
    try {
        std::string out = "basic:";
        out.reserve(out.size() + 2 * len);
        for (std::size_t i = 0; i < len; ++i) {
            out += digits[mac[i] >> 4];
            out += digits[mac[i] & 15];
        }
        return out;
    } catch (...) {
        return {};
    }
}

}  // namespace sso
