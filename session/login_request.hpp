// A SAML login that leaves nothing in the store until it succeeds.
//
// The AuthnRequest ID proves itself: it carries the time it was issued and a nonce, and a MAC
// (HMAC-SHA256, truncated to 128 bits) over those, the IdP the request went to and the
// address to return to. The RelayState is the nonce followed by that address. The ACS checks
// the MAC against the Response's InResponseTo, its Issuer and the RelayState posted with it,
// and the age against sso_login_timeout; the caller then makes the ID one-time by putting it
// into the replay cache. Anonymous redirects to the IdP so cost the store nothing.
//
// The key is derived from a secret every node of a server block shares (the SP private key)
// and the SP's entityID, so it is the same after a reload, a restart, a binary upgrade and on
// every node, and differs between service providers.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sso {

// The RelayState travels through the browser and the IdP: a longer return address is not sent.
inline constexpr std::size_t kMaxLoginReturnTo = 1024;

struct LoginRequestToken {
    std::string request_id;   // the AuthnRequest ID (an xs:ID: "_" then base64url)
    std::string relay_state;  // nonce (22 characters) then return_to
};

enum class LoginRequestCheck {
    ok,
    malformed,       // not an ID this SP issues (wrong shape or version)
    relay_mismatch,  // the RelayState is not the one issued with this ID
    forged,          // the MAC does not verify: another IdP, another key, or altered
    expired,         // older than the lifetime
    from_future,     // issued later than now (more than the clock skew)
};

struct LoginRequestVerdict {
    LoginRequestCheck status = LoginRequestCheck::malformed;
    std::int64_t issued = 0;     // when status is ok, expired or from_future
    std::string_view return_to;  // a view into the RelayState, when status is ok
};

class LoginRequestKey {
public:
    // The MAC key is HMAC-SHA256(secret, label NUL sp_entity_id); valid() is false if OpenSSL
    // refused it or the secret is empty.
    LoginRequestKey(std::string_view secret, std::string_view sp_entity_id) noexcept;
    ~LoginRequestKey();
    LoginRequestKey(const LoginRequestKey&) = delete;
    LoginRequestKey& operator=(const LoginRequestKey&) = delete;

    [[nodiscard]] bool valid() const noexcept { return ctx_ != nullptr; }

    // A fresh ID and RelayState for a request to `idp` issued at `now`; nullopt when the
    // CSPRNG or the MAC fails. return_to is not checked here: the caller has done that.
    std::optional<LoginRequestToken> issue(std::string_view idp, std::string_view return_to, std::int64_t now) noexcept;

    // Checks an InResponseTo against the answering IdP and the posted RelayState. Lifetime and
    // skew in seconds: an ID is good from issued - skew until issued + lifetime + skew.
    LoginRequestVerdict verify(std::string_view request_id, std::string_view idp, std::string_view relay_state,
                               std::int64_t now, std::int64_t lifetime, std::int64_t skew) noexcept;

private:
    bool mac(std::string_view header, std::string_view idp, std::string_view return_to, unsigned char* out) noexcept;

    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* ctx_ = nullptr;
};

}  // namespace sso
