// The signed identity token: a JWT (HS256 or RS256) that tells an upstream who the user is in a
// form it can verify, for upstreams that do not want to trust the proxy's plain headers.
// Built with libjwt (on jansson and OpenSSL); nothing here encodes or signs by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "saml/result.hpp"
#include "session/session_record.hpp"

struct jwt;  // libjwt's jwt_t

namespace sso {

enum class TokenAlg { hs256, rs256 };

inline constexpr std::size_t kMinHmacSecretBytes = 32;  // RFC 7518 3.2: at least the hash size
inline constexpr std::size_t kMaxTokenKeyBytes = 64 * 1024;
inline constexpr int kMinRsaBits = 2048;

struct JwtFree {
    void operator()(jwt* p) const noexcept;
};
using JwtPtr = std::unique_ptr<jwt, JwtFree>;

// A signing key, read and checked once when the configuration loads: an HMAC secret of at least
// 32 bytes (the file's bytes exactly, a trailing newline included), or an unencrypted PEM RSA
// private key of at least 2048 bits. It holds a libjwt object with the algorithm and key set,
// which every token starts from.
class TokenKey {
public:
    // Checks the key and that libjwt signs with it (one trial token). A config error otherwise.
    static Result<TokenKey> load(TokenAlg alg, std::string_view key_bytes);

    TokenAlg alg() const noexcept { return alg_; }
    jwt* prototype() const noexcept { return prototype_.get(); }

private:
    TokenKey(TokenAlg alg, JwtPtr prototype) : alg_(alg), prototype_(std::move(prototype)) {}
    TokenAlg alg_;
    JwtPtr prototype_;
};

// What the token says about the user, as raw bytes (UTF-8 expected; a byte sequence that is
// not UTF-8 is carried with U+FFFD in its place, since JSON strings are Unicode).
struct TokenClaims {
    std::string subject;              // sub: the user name ($sso_user)
    std::string email;                // omitted from the token when empty
    std::string name;                 // display name; omitted when empty
    std::vector<std::string> groups;  // always present, an array (possibly empty)
};

// Claims from a session's values as stored (header-safe, identity/header_value.hpp): the
// token carries the original bytes, not their %XX form. May throw std::bad_alloc.
TokenClaims claims_from_stored(std::string_view user, std::string_view email, std::string_view name,
                               const StringList& groups);

struct TokenOptions {
    std::string_view issuer;     // iss; omitted when empty
    std::string_view audience;   // aud; omitted when empty
    std::int64_t lifetime = 60;  // exp = iat + lifetime
};

// The compact JWS "header.payload.signature" with sub, email, name, groups, iat, exp, iss, aud.
// Never throws; an error result says why (allocation, a libjwt failure).
Result<std::string> sign_identity_token(const TokenKey& key, const TokenClaims& claims, const TokenOptions& options,
                                        std::int64_t now) noexcept;

// `s` with every byte sequence that is not well-formed UTF-8 replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace sso
