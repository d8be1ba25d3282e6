// IdP metadata as Lasso should load it: each signing certificate replaced by its bare RSA
// public key (ds:KeyValue). Lasso duplicates the IdP's xmlSecKey for every signature it
// verifies; with a certificate attached that copy is an X509_dup, which OpenSSL 3 performs by
// re-decoding the certificate: half the cost of a login. A bare key copies cheaply. The trust
// decision is unchanged: the key is the one in the metadata certificate, nothing else.
#pragma once

#include <string>

#include "saml/result.hpp"

namespace sso {

// Certificates without an RSA key (EC) are left as they are.
Result<std::string> metadata_with_bare_signing_keys(const std::string& metadata_xml);

}  // namespace sso
