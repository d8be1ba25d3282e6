// Test support: real keys in a temp dir and a Lasso IdP in this process that answers the
// SP's AuthnRequests with signed Responses. Used by the unit tests and bench/login_bench.cpp,
// so the SP core is exercised against real SAML without nginx or a network.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "saml/service_provider.hpp"

namespace sso::testing {

// RSA-2048 key pairs "sp", "idp" and "other" and an EC P-256 pair "ec", made with the openssl
// tool; removed at the end.
class TestKeys {
public:
    TestKeys();
    ~TestKeys();
    TestKeys(const TestKeys&) = delete;
    TestKeys& operator=(const TestKeys&) = delete;

    std::string key(const std::string& who) const;   // PEM
    std::string cert(const std::string& who) const;  // PEM

private:
    std::filesystem::path dir_;
};

std::string pem_body(const std::string& pem);  // the base64 between the PEM armour lines

inline constexpr const char* kIdpEntityId = "https://idp.example/md";

// Metadata of the in-process IdP, with `cert_pem` as its signing certificate.
std::string idp_metadata(const std::string& cert_pem);

// SP settings for https://sp.example with the keys above and the IdP's metadata.
SpSettings sp_settings(const TestKeys& keys);

struct AnswerOptions {
    std::string signer = "idp";  // whose key signs (a name in TestKeys)
    std::int64_t valid_for = 300;
    bool typical_attributes = false;  // mail, displayName and five groups
    // Encrypt the assertion (Lasso's LASSO_ENCRYPTION_MODE_ASSERTION) to the encryption
    // certificate in `encrypt_for` (SP metadata; empty: the SP's own), AES-256-CBC by default.
    bool encrypt = false;
    std::string encrypt_for;
    bool rsa1_5 = false;  // key transport RSA PKCS#1 v1.5 instead of RSA-OAEP
    std::string name_id;  // the Subject's NameID instead of the one Lasso makes up (when not empty)
};

// The IdP's signed Response (base64, as posted to the ACS) to `request`; empty on failure.
std::string idp_answer(const TestKeys& keys, ServiceProvider& sp, const AuthnRequestMessage& request,
                       const AnswerOptions& options = {});

}  // namespace sso::testing
