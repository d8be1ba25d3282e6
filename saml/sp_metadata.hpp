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
};

// Builds the EntityDescriptor with libxml2, so every value is escaped by the serialiser.
Result<std::string> build_sp_metadata(const SpMetadataInput& in);

}  // namespace sso
