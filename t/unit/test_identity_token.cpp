// The signed identity token: claims, both algorithms, and verification by libjwt AND by an
// independent check with OpenSSL (base64url and the signature done here, not by libjwt).
#include "identity/identity_token.hpp"

#include <gtest/gtest.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "identity/header_value.hpp"

namespace sso {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes

// --- independent tools ------------------------------------------------------------------

std::optional<std::string> base64url_decode(std::string_view in) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

struct Parts {
    std::string signing_input, header_json, payload_json, signature;
};

std::optional<Parts> split(const std::string& token) {
    const auto a = token.find('.');
    const auto b = token.find('.', a == std::string::npos ? 0 : a + 1);
    if (a == std::string::npos || b == std::string::npos || token.find('.', b + 1) != std::string::npos)
        return std::nullopt;
    auto h = base64url_decode(std::string_view(token).substr(0, a));
    auto p = base64url_decode(std::string_view(token).substr(a + 1, b - a - 1));
    auto s = base64url_decode(std::string_view(token).substr(b + 1));
    if (!h || !p || !s) return std::nullopt;
    return Parts{token.substr(0, b), *h, *p, *s};
}

struct JsonFree {
    void operator()(json_t* j) const { json_decref(j); }
};
using Json = std::unique_ptr<json_t, JsonFree>;

Json parse(const std::string& text) {
    json_error_t err;
    return Json(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &err));
}

std::string string_claim(json_t* obj, const char* name) {
    json_t* v = json_object_get(obj, name);
    if (!json_is_string(v)) return "<not a string>";
    return std::string(json_string_value(v), json_string_length(v));
}

bool hmac_verifies(const std::string& token, const std::string& secret) {
    auto parts = split(token);
    if (!parts) return false;
    Json header = parse(parts->header_json);
    if (!header || string_claim(header.get(), "alg") != "HS256") return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(parts->signing_input.data()), parts->signing_input.size(), mac, &len);
    return parts->signature == std::string(reinterpret_cast<char*>(mac), len);
}

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

bool rsa_verifies(const std::string& token, EVP_PKEY* pub) {
    auto parts = split(token);
    if (!parts) return false;
    Json header = parse(parts->header_json);
    if (!header || string_claim(header.get(), "alg") != "RS256") return false;
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    bool ok =
        EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pub) == 1 &&
        EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(parts->signature.data()), parts->signature.size(),
                         reinterpret_cast<const unsigned char*>(parts->signing_input.data()),
                         parts->signing_input.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

// What an upstream should do with libjwt: decode with the key AND pin the algorithm, since
// libjwt 1.10 takes the algorithm from the token's own header.
bool libjwt_verifies(const std::string& token, jwt_alg_t expected, const std::string& key) {
    jwt_t* decoded = nullptr;
    const int rc = jwt_decode(&decoded, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                              static_cast<int>(key.size()));
    const bool ok = rc == 0 && decoded && jwt_get_alg(decoded) == expected;
    jwt_free(decoded);
    return ok;
}

std::string pem_of(EVP_PKEY* key, bool is_public, const EVP_CIPHER* cipher = nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_public)
        PEM_write_bio_PUBKEY(bio, key);
    else
        PEM_write_bio_PrivateKey(bio, key, cipher, reinterpret_cast<unsigned char*>(const_cast<char*>("pw")),
                                 cipher ? 2 : 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

// One RSA-2048 key for the whole suite (generating one takes a while).
struct RsaKey {
    Pkey key;
    std::string private_pem, public_pem;
};
const RsaKey& rsa2048() {
    static const RsaKey k = [] {
        RsaKey r{Pkey(EVP_RSA_gen(2048)), {}, {}};
        r.private_pem = pem_of(r.key.get(), false);
        r.public_pem = pem_of(r.key.get(), true);
        return r;
    }();
    return k;
}

TokenClaims alice() {
    TokenClaims c;
    c.subject = "alice@example.org";
    c.email = "alice@example.org";
    c.name = "Alice Liddell";
    c.groups = {"staff", "print-operators"};
    return c;
}

TokenKey load(TokenAlg alg, std::string_view key) {
    auto k = TokenKey::load(alg, key);
    EXPECT_TRUE(k.ok()) << (k ? "" : k.error().reason);
    return std::move(k.value());
}

std::string sign(const TokenKey& key, const TokenClaims& claims, TokenOptions options = {}, std::int64_t now = 1000) {
    auto t = sign_identity_token(key, claims, options, now);
    EXPECT_TRUE(t.ok()) << (t ? "" : t.error().reason);
    return t ? t.value() : std::string();
}

Json payload(const std::string& token) {
    auto parts = split(token);
    return parts ? parse(parts->payload_json) : Json();
}

// --- tests ------------------------------------------------------------------------------

TEST(IdentityToken, Hs256CarriesEveryClaimTypedRight) {
    const TokenKey key = load(TokenAlg::hs256, kSecret);
    const std::string token = sign(
        key, alice(), {.issuer = "https://sso.example.org", .audience = "print-portal", .lifetime = 90}, 1700000000);
    auto parts = split(token);
    ASSERT_TRUE(parts);
    Json header = parse(parts->header_json);
    ASSERT_TRUE(header);
    EXPECT_EQ(string_claim(header.get(), "alg"), "HS256");
    EXPECT_EQ(string_claim(header.get(), "typ"), "JWT");

    Json p = parse(parts->payload_json);
    ASSERT_TRUE(p) << parts->payload_json;
    EXPECT_EQ(string_claim(p.get(), "sub"), "alice@example.org");
    EXPECT_EQ(string_claim(p.get(), "email"), "alice@example.org");
    EXPECT_EQ(string_claim(p.get(), "name"), "Alice Liddell");
    EXPECT_EQ(string_claim(p.get(), "iss"), "https://sso.example.org");
    EXPECT_EQ(string_claim(p.get(), "aud"), "print-portal");
    json_t* groups = json_object_get(p.get(), "groups");
    ASSERT_TRUE(json_is_array(groups));
    ASSERT_EQ(json_array_size(groups), 2u);
    EXPECT_STREQ(json_string_value(json_array_get(groups, 0)), "staff");
    EXPECT_STREQ(json_string_value(json_array_get(groups, 1)), "print-operators");
    ASSERT_TRUE(json_is_integer(json_object_get(p.get(), "iat")));
    ASSERT_TRUE(json_is_integer(json_object_get(p.get(), "exp")));
    EXPECT_EQ(json_integer_value(json_object_get(p.get(), "iat")), 1700000000);
    EXPECT_EQ(json_integer_value(json_object_get(p.get(), "exp")), 1700000090);
    EXPECT_EQ(json_object_size(p.get()), 8u);  // sub email name groups iat exp iss aud, nothing else

    EXPECT_TRUE(hmac_verifies(token, kSecret));
    EXPECT_TRUE(libjwt_verifies(token, JWT_ALG_HS256, kSecret));
    EXPECT_FALSE(hmac_verifies(token, "0123456789abcdef0123456789abcdeX"));
    EXPECT_FALSE(libjwt_verifies(token, JWT_ALG_HS256, "0123456789abcdef0123456789abcdeX"));
}

TEST(IdentityToken, Rs256VerifiesWithThePublicKey) {
    const RsaKey& rsa = rsa2048();
    const TokenKey key = load(TokenAlg::rs256, rsa.private_pem);
    EXPECT_EQ(key.alg(), TokenAlg::rs256);
    const std::string token = sign(key, alice(), {.lifetime = 60}, 1700000000);
    auto parts = split(token);
    ASSERT_TRUE(parts);
    EXPECT_EQ(string_claim(parse(parts->header_json).get(), "alg"), "RS256");
    EXPECT_EQ(parts->signature.size(), 256u);  // one RSA-2048 block

    // Independently: the public half of the key, OpenSSL's RSASSA-PKCS1-v1_5 with SHA-256.
    BIO* bio = BIO_new_mem_buf(rsa.public_pem.data(), static_cast<int>(rsa.public_pem.size()));
    Pkey pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    ASSERT_TRUE(pub);
    EXPECT_TRUE(rsa_verifies(token, pub.get()));
    EXPECT_TRUE(libjwt_verifies(token, JWT_ALG_RS256, rsa.public_pem));

    Json p = payload(token);
    EXPECT_EQ(json_integer_value(json_object_get(p.get(), "exp")) - json_integer_value(json_object_get(p.get(), "iat")),
              60);
    // Without issuer and audience configured, the token names neither.
    EXPECT_EQ(json_object_get(p.get(), "iss"), nullptr);
    EXPECT_EQ(json_object_get(p.get(), "aud"), nullptr);
}

TEST(IdentityToken, ATamperedTokenFailsEveryVerifier) {
    const TokenKey hs = load(TokenAlg::hs256, kSecret);
    const TokenKey rs = load(TokenAlg::rs256, rsa2048().private_pem);
    for (const TokenKey* key : {&hs, &rs}) {
        const std::string token = sign(*key, alice());
        auto parts = split(token);
        ASSERT_TRUE(parts);
        // The same header and signature over a payload that says "bob".
        TokenClaims bob = alice();
        bob.subject = "bob@example.org";
        const std::string other = sign(*key, bob);
        const std::string forged = token.substr(0, token.find('.')) +
                                   other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                                   token.substr(token.rfind('.'));
        ASSERT_NE(forged, token);
        ASSERT_NE(forged, other);
        if (key == &hs) {
            EXPECT_FALSE(hmac_verifies(forged, kSecret));
            EXPECT_FALSE(libjwt_verifies(forged, JWT_ALG_HS256, kSecret));
        } else {
            BIO* bio = BIO_new_mem_buf(rsa2048().public_pem.data(), static_cast<int>(rsa2048().public_pem.size()));
            Pkey pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
            BIO_free(bio);
            EXPECT_FALSE(rsa_verifies(forged, pub.get()));
            EXPECT_FALSE(libjwt_verifies(forged, JWT_ALG_RS256, rsa2048().public_pem));
        }
    }
}

TEST(IdentityToken, AnAlgorithmMismatchIsRejected) {
    const RsaKey& rsa = rsa2048();
    // The classic confusion: an HS256 token whose HMAC key is the RS256 verifier's public PEM.
    jwt_t* forged = nullptr;
    ASSERT_EQ(jwt_new(&forged), 0);
    jwt_add_grant(forged, "sub", "mallory");
    ASSERT_EQ(jwt_set_alg(forged, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(rsa.public_pem.data()),
                          static_cast<int>(rsa.public_pem.size())),
              0);
    char* text = jwt_encode_str(forged);
    ASSERT_NE(text, nullptr);
    const std::string confused(text);
    std::free(text);
    jwt_free(forged);
    BIO* bio = BIO_new_mem_buf(rsa.public_pem.data(), static_cast<int>(rsa.public_pem.size()));
    Pkey pub(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    EXPECT_FALSE(libjwt_verifies(confused, JWT_ALG_RS256, rsa.public_pem));
    EXPECT_FALSE(rsa_verifies(confused, pub.get()));

    // And the other way: our RS256 token offered to an HS256 verifier, our HS256 to an RS256 one.
    const std::string rs_token = sign(load(TokenAlg::rs256, rsa.private_pem), alice());
    const std::string hs_token = sign(load(TokenAlg::hs256, kSecret), alice());
    EXPECT_FALSE(libjwt_verifies(rs_token, JWT_ALG_HS256, kSecret));
    EXPECT_FALSE(hmac_verifies(rs_token, kSecret));
    EXPECT_FALSE(libjwt_verifies(hs_token, JWT_ALG_RS256, rsa.public_pem));
    EXPECT_FALSE(rsa_verifies(hs_token, pub.get()));
}

TEST(IdentityToken, AbsentNameAndEmailAreOmittedAndGroupsStayAnArray) {
    TokenClaims c;
    c.subject = "svc-scanner";
    const std::string token = sign(load(TokenAlg::hs256, kSecret), c);
    Json p = payload(token);
    ASSERT_TRUE(p);
    EXPECT_EQ(string_claim(p.get(), "sub"), "svc-scanner");
    EXPECT_EQ(json_object_get(p.get(), "email"), nullptr);
    EXPECT_EQ(json_object_get(p.get(), "name"), nullptr);
    json_t* groups = json_object_get(p.get(), "groups");
    ASSERT_TRUE(json_is_array(groups));
    EXPECT_EQ(json_array_size(groups), 0u);
    EXPECT_TRUE(hmac_verifies(token, kSecret));
}

TEST(IdentityToken, HostileValuesStayJsonEscapedAndExact) {
    // As a session stores them (header-safe), decoded back to the user's exact bytes.
    const std::string name = "Zo\xc3\xab \xc3\x86r\xc3\xb8sk\xc3\xb8\x62ing\r\nX-Evil: 1\",\"sub\":\"root";
    const std::string group = "\xe5\xb1\xb1\xe7\x94\xb0\t\"}";
    const std::string user = "z\r\n";
    const std::vector<std::string> stored_groups = {encode_header_value(group), encode_header_value("a%41")};
    // The stored list form of a session's groups: u16 count, then u32 length + bytes each.
    std::string list;
    list.push_back('\0');
    list.push_back(static_cast<char>(stored_groups.size()));
    for (const auto& g : stored_groups) {
        const auto n = static_cast<std::uint32_t>(g.size());
        for (int shift : {24, 16, 8, 0}) list.push_back(static_cast<char>((n >> shift) & 0xFF));
        list += g;
    }
    const StringList groups{list, stored_groups.size()};
    const TokenClaims claims = claims_from_stored(encode_header_value(user), encode_header_value("zoe@example.org"),
                                                  encode_header_value(name), groups);
    EXPECT_EQ(claims.name, name);
    EXPECT_EQ(claims.subject, user);

    const std::string token = sign(load(TokenAlg::hs256, kSecret), claims);
    auto parts = split(token);
    ASSERT_TRUE(parts);
    // No raw control character in the JSON text: CR, LF and TAB are escaped.
    for (char ch : parts->payload_json) EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << parts->payload_json;
    Json p = parse(parts->payload_json);
    ASSERT_TRUE(p) << parts->payload_json;
    EXPECT_EQ(string_claim(p.get(), "name"), name);
    EXPECT_EQ(string_claim(p.get(), "sub"), user);  // the quote trick did not add or replace a claim
    json_t* g = json_object_get(p.get(), "groups");
    ASSERT_EQ(json_array_size(g), 2u);
    EXPECT_EQ(std::string(json_string_value(json_array_get(g, 0))), group);
    EXPECT_EQ(std::string(json_string_value(json_array_get(g, 1))), "a%41");  // decoded once only
    EXPECT_TRUE(hmac_verifies(token, kSecret));
}

TEST(IdentityToken, BytesThatAreNotUtf8BecomeReplacementCharacters) {
    struct Case {
        std::string in, out;
    };
    const std::string r = "\xEF\xBF\xBD";
    const std::vector<Case> cases = {
        {"plain", "plain"},
        {"Zo\xc3\xab", "Zo\xc3\xab"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},  // U+1F600, four bytes
        {"\xed\x9f\xbf", "\xed\x9f\xbf"},          // U+D7FF, just below the surrogates
        {"a\xff"
         "b",
         "a" + r + "b"},
        {"\xc0\xaf", r + r},                  // overlong '/'
        {"\xe0\x80\xaf", r + r + r},          // overlong, three bytes
        {"\xed\xa0\x80", r + r + r},          // a UTF-16 surrogate
        {"\xf4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
        {"\xc3", r},                          // truncated at the end
        {"\xe2\x82"
         "x",
         r + r + "x"},
    };
    for (const auto& c : cases) EXPECT_EQ(valid_utf8(c.in), c.out) << c.in;

    TokenClaims claims = alice();
    claims.name = "Bj\xf6rn";  // Latin-1, as a misconfigured directory might hand it over
    Json p = payload(sign(load(TokenAlg::hs256, kSecret), claims));
    ASSERT_TRUE(p);
    EXPECT_EQ(string_claim(p.get(), "name"), "Bj" + r + "rn");
}

TEST(IdentityToken, KeysAreCheckedWhenLoaded) {
    auto refused = [](TokenAlg alg, const std::string& key) {
        auto k = TokenKey::load(alg, key);
        EXPECT_FALSE(k.ok());
        if (k.ok()) return std::string();
        EXPECT_EQ(k.error().code, SamlError::config);
        return k.error().reason;
    };
    EXPECT_NE(refused(TokenAlg::hs256, kSecret.substr(0, 31)).find("31 bytes"), std::string::npos);
    EXPECT_NE(refused(TokenAlg::hs256, "").find("at least 32"), std::string::npos);
    EXPECT_NE(refused(TokenAlg::hs256, rsa2048().private_pem).find("PEM"), std::string::npos);
    EXPECT_TRUE(TokenKey::load(TokenAlg::hs256, kSecret).ok());
    EXPECT_TRUE(TokenKey::load(TokenAlg::hs256, std::string(200, '\0')).ok());  // bytes, not text
    EXPECT_FALSE(TokenKey::load(TokenAlg::hs256, std::string(kMaxTokenKeyBytes + 1, 'k')).ok());

    EXPECT_NE(refused(TokenAlg::rs256, kSecret).find("not an unencrypted PEM private key"), std::string::npos);
    EXPECT_NE(refused(TokenAlg::rs256, rsa2048().public_pem).find("not an unencrypted PEM private key"),
              std::string::npos);
    Pkey small(EVP_RSA_gen(1024));
    EXPECT_NE(refused(TokenAlg::rs256, pem_of(small.get(), false)).find("1024 bits"), std::string::npos);
    Pkey ec(EVP_EC_gen("P-256"));
    EXPECT_NE(refused(TokenAlg::rs256, pem_of(ec.get(), false)).find("not an RSA key"), std::string::npos);
    // Encrypted: refused, never prompted for (nginx has no terminal).
    EXPECT_NE(refused(TokenAlg::rs256, pem_of(rsa2048().key.get(), false, EVP_aes_256_cbc()))
                  .find("not an unencrypted PEM private key"),
              std::string::npos);
}

TEST(IdentityToken, EachTokenIsSignedAfreshFromTheSameKey) {
    const TokenKey key = load(TokenAlg::hs256, kSecret);
    const std::string a = sign(key, alice(), {.lifetime = 60}, 1000);
    const std::string b = sign(key, alice(), {.lifetime = 60}, 1001);
    EXPECT_NE(a, b);
    EXPECT_EQ(json_integer_value(json_object_get(payload(b).get(), "iat")), 1001);
    // The prototype is not changed by signing: a later token has exactly its own claims.
    TokenClaims bare;
    bare.subject = "x";
    Json p = payload(sign(key, bare));
    EXPECT_EQ(json_object_size(p.get()), 4u);  // sub groups iat exp
}

}  // namespace
}  // namespace sso
