#include "identity/identity_token.hpp"

#include <cstdlib>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "identity/header_value.hpp"

namespace sso {

void JwtFree::operator()(jwt* p) const noexcept {
    jwt_free(p);
}

namespace {

struct JsonFree {
    void operator()(json_t* p) const noexcept { json_decref(p); }
};
using JsonPtr = std::unique_ptr<json_t, JsonFree>;

struct CharFree {
    void operator()(char* p) const noexcept { std::free(p); }  // libjwt and jansson allocate with malloc
};
using CharPtr = std::unique_ptr<char, CharFree>;

struct BioFree {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};

// An encrypted key is refused rather than prompted for: nginx has no terminal to ask on.
int no_passphrase(char*, int, int, void*) {
    return -1;
}

Error config_error(std::string reason) {
    return fail(SamlError::config, std::move(reason), "jwt_key");
}

Error internal_error(const char* reason) noexcept {
    try {
        return fail(SamlError::internal, reason);
    } catch (...) {
        return Error{SamlError::internal, {}, {}};
    }
}

std::string check_rsa_key(std::string_view pem) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return "out of memory";
    std::unique_ptr<EVP_PKEY, PkeyFree> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    ERR_clear_error();
    if (!pkey) return "not an unencrypted PEM private key";
    if (!EVP_PKEY_is_a(pkey.get(), "RSA"))
        return std::string("a ") + EVP_PKEY_get0_type_name(pkey.get()) + " key, not an RSA key (RS256 needs one)";
    const int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits)
        return "an RSA key of " + std::to_string(bits) + " bits; RS256 needs at least " + std::to_string(kMinRsaBits);
    return {};
}

bool set_string(json_t* object, const char* claim, std::string_view value) {
    const std::string text = valid_utf8(value);
    return json_object_set_new(object, claim, json_stringn(text.data(), text.size())) == 0;
}

}  // namespace

Result<TokenKey> TokenKey::load(TokenAlg alg, std::string_view key) {
    if (key.size() > kMaxTokenKeyBytes)
        return config_error("the key file is larger than " + std::to_string(kMaxTokenKeyBytes) + " bytes");
    if (alg == TokenAlg::hs256) {
        if (key.size() < kMinHmacSecretBytes)
            return config_error("the HMAC secret is " + std::to_string(key.size()) + " bytes; HS256 needs at least " +
                                std::to_string(kMinHmacSecretBytes));
        if (key.starts_with("-----BEGIN"))
            return config_error("the HMAC secret is a PEM document; \"hs256\" takes a secret, \"rs256\" a key");
    } else if (std::string why = check_rsa_key(key); !why.empty()) {
        return config_error(why);
    }
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) return internal_error("jwt_new failed");
    JwtPtr prototype(raw);
    if (jwt_set_alg(prototype.get(), alg == TokenAlg::hs256 ? JWT_ALG_HS256 : JWT_ALG_RS256,
                    reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) != 0)
        return config_error("libjwt refused the key");
    TokenKey loaded(alg, std::move(prototype));
    // A key that libjwt cannot use shows now, not on the first request.
    auto trial = sign_identity_token(loaded, TokenClaims{}, TokenOptions{}, 0);
    ERR_clear_error();
    if (!trial) return config_error("libjwt cannot sign with this key");
    return loaded;
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto byte = [&](std::size_t i) -> unsigned { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
    auto cont = [&](std::size_t i) { return (byte(i) & 0xC0u) == 0x80u; };
    for (std::size_t i = 0; i < s.size();) {
        const unsigned c = byte(i);
        std::size_t n = 0;  // length of a well-formed sequence at i (Unicode table 3-7), 0 if none
        if (c < 0x80)
            n = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            n = cont(i + 1) ? 2 : 0;
        else if (c >= 0xE0 && c <= 0xEF) {
            const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            n = byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) ? 3 : 0;
        } else if (c >= 0xF0 && c <= 0xF4) {
            const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            n = byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
        }
        if (n) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        }
    }
    return out;
}

TokenClaims claims_from_stored(std::string_view user, std::string_view email, std::string_view name,
                               const StringList& groups) {
    TokenClaims claims;
    claims.subject = decode_header_value(user);
    claims.email = decode_header_value(email);
    claims.name = decode_header_value(name);
    claims.groups.reserve(groups.count);
    groups.for_each([&](std::string_view g) { claims.groups.push_back(decode_header_value(g)); });
    return claims;
}

Result<std::string> sign_identity_token(const TokenKey& key, const TokenClaims& claims, const TokenOptions& options,
                                        std::int64_t now) noexcept {
    try {
        JwtPtr token(jwt_dup(key.prototype()));  // the algorithm and key, set at load
        JsonPtr grants(json_object());
        JsonPtr groups(json_array());
        if (!token || !grants || !groups) return internal_error("identity token: out of memory");
        bool ok = set_string(grants.get(), "sub", claims.subject);
        if (!claims.email.empty()) ok = ok && set_string(grants.get(), "email", claims.email);
        if (!claims.name.empty()) ok = ok && set_string(grants.get(), "name", claims.name);
        for (const std::string& g : claims.groups) {
            const std::string text = valid_utf8(g);
            ok = ok && json_array_append_new(groups.get(), json_stringn(text.data(), text.size())) == 0;
        }
        ok = ok && json_object_set(grants.get(), "groups", groups.get()) == 0;
        ok = ok && json_object_set_new(grants.get(), "iat", json_integer(now)) == 0;
        ok = ok && json_object_set_new(grants.get(), "exp", json_integer(now + options.lifetime)) == 0;
        if (!options.issuer.empty()) ok = ok && set_string(grants.get(), "iss", options.issuer);
        if (!options.audience.empty()) ok = ok && set_string(grants.get(), "aud", options.audience);
        if (!ok) return internal_error("identity token: cannot build the claims");
        CharPtr json(json_dumps(grants.get(), JSON_COMPACT));
        if (!json || jwt_add_grants_json(token.get(), json.get()) != 0)
            return internal_error("identity token: libjwt refused the claims");
        CharPtr encoded(jwt_encode_str(token.get()));
        if (!encoded) return internal_error("identity token: libjwt could not sign");
        return std::string(encoded.get());
    } catch (...) {
        return internal_error("identity token: out of memory");
    }
}

}  // namespace sso
