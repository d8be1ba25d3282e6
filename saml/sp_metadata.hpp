// SP metadata: the document the administrator gives the IdP (Issuer, Return URL, certificate).
#pragma once

#include <string>
#include <string_view>

#include "saml/result.hpp"

namespace sso {

struct SpMetadataInput {
    std::string_view entity_id;
    std::string_view acs_url;
    std::string_view slo_url;          // SingleLogoutService (HTTP-Redirect and HTTP-POST); none when empty
    std::string_view cert_der_base64;  // signing certificate, DER in base64
    bool authn_requests_signed = true;
    bool want_assertions_signed = false;
    // The certificate IdPs encrypt assertions to (KeyDescriptor use="encryption"), DER in
    // base64, and whether RSA PKCS#1 v1.5 key transport is accepted (listed) besides RSA-OAEP.
    std::string_view encryption_cert_der_base64;
    bool allow_rsa1_5 = false;
};

// The EncryptionMethod algorithms the SP accepts, in order of preference (the response guard
// enforces the same list).
inline constexpr const char* kDataEncryptionAlgorithms[] = {
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",  "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",  "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
};
inline constexpr const char* kKeyTransportOaep = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
inline constexpr const char* kKeyTransportRsa1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

// Builds the EntityDescriptor with libxml2, so every value is escaped by the serialiser.
Result<std::string> build_sp_metadata(const SpMetadataInput& in);

}  // namespace sso
