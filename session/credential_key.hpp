// The key under which a checked user name and password are cached (HTTP Basic against a
// directory): HMAC-SHA256 over directory, user name and password under a secret made at
// configuration load. The cache so holds no password and no plain hash of one, and a new
// password is a different key.
#pragma once

#include <openssl/types.h>

#include <span>
#include <string>
#include <string_view>

namespace sso {

class CredentialKey {
public:
    // `secret` is copied into the keyed context; valid() is false if OpenSSL refused it.
    explicit CredentialKey(std::span<const unsigned char> secret) noexcept;
    ~CredentialKey();
    CredentialKey(const CredentialKey&) = delete;
    CredentialKey& operator=(const CredentialKey&) = delete;

    [[nodiscard]] bool valid() const noexcept { return ctx_ != nullptr; }

    // "basic:" + 64 lower-case hex digits of HMAC-SHA256(secret, directory NUL user NUL
    // password); empty on failure. Not thread-safe: one instance per thread (each nginx
    // worker has its own copy after fork). The keyed context is reset, not rebuilt, per call:
    // OpenSSL 3's one-shot HMAC() fetches the digest and sets the key every time, which was
    // 21.7k of the 26.6k instructions of a cached Basic check (callgrind, bench figure 4b).
    std::string derive(std::string_view directory, std::string_view user, std::string_view password) noexcept;

private:
    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* ctx_ = nullptr;
};

}  // namespace sso
