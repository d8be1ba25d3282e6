// Checks an IdP metadata document before it is used: well-formed, not expired (validUntil),
// how long it may be cached (cacheDuration) and, when the administrator names a certificate,
// that the document is signed by that certificate's key. Used for metadata read from a file,
// fetched from a URL, or taken from the on-disk copy of the last good fetch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "saml/result.hpp"

namespace sso {

struct MetadataTrust {
    std::string certificate_pem;  // empty: the signature is not checked
    bool allow_sha1 = false;      // RSA-SHA1 / SHA-1 digests in the metadata signature
};

// The subject of a PEM certificate, one line in RFC 2253 form ("CN=Metadata Signer,O=Example");
// empty when it cannot be read. For the status page: who vouches for the metadata.
std::string certificate_subject(std::string_view pem);

struct IdpMetadataInfo {
    std::string entity_id;
    std::optional<std::int64_t> valid_until;     // unix time from the root's validUntil
    std::optional<std::int64_t> cache_duration;  // seconds, from the root's cacheDuration
    bool signature_verified = false;             // true only when a certificate was given
};

// Errors are SamlError::config with subject "idp_metadata" and a reason an administrator can act on.
Result<IdpMetadataInfo> check_idp_metadata(std::string_view xml, std::int64_t now, const MetadataTrust& trust);

// xs:duration as metadata uses it ("PT1H", "P1D", "P0Y0M7DT12H"): whole seconds, a year
// counted as 365 days and a month as 30. Negative and malformed durations give nullopt.
std::optional<std::int64_t> parse_xs_duration(std::string_view text) noexcept;

}  // namespace sso
