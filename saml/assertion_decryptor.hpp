// Decrypts the EncryptedAssertion of a Response with the SP's encryption key (XML Encryption
// through xmlsec; the key is parsed once, when the configuration loads). Which algorithms are
// acceptable is the response guard's decision (check_response); this only runs xmlsec on the
// two nodes it found and returns the plaintext, which then goes through
// check_decrypted_assertion like any assertion.
#pragma once

#include <memory>
#include <string>

#include "saml/lasso_includes.hpp"
#include "saml/result.hpp"

namespace sso {

class AssertionDecryptor {
public:
    // An unencrypted PEM RSA private key. xmlsec must be initialised (lasso_init does it).
    static Result<std::unique_ptr<AssertionDecryptor>> from_pem(const std::string& key_pem);
    ~AssertionDecryptor();
    AssertionDecryptor(const AssertionDecryptor&) = delete;
    AssertionDecryptor& operator=(const AssertionDecryptor&) = delete;

    // The session key from `encrypted_key` (RSA), then the content of `encrypted_data` (AES).
    // The document is not modified. Errors are invalid_response with a reason for the log.
    Result<std::string> decrypt(xmlNode* encrypted_data, xmlNode* encrypted_key) const;

private:
    explicit AssertionDecryptor(xmlSecKey* key) : key_(key) {}
    xmlSecKey* key_;
};

}  // namespace sso
