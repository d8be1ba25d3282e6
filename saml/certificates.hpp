// When the certificates a server depends on expire: each IdP's signing and encryption
// certificates (from its metadata) and our own. An expired certificate is the most common cause
// of a sudden SSO outage, so they are read once when the metadata loads, for sso_status, the
// metrics and a warning ahead of time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sso {

struct CertificateExpiry {
    std::string idp;             // the IdP's entityID; empty for our own (the SP's) certificates
    std::string use;             // "signing", "encryption", or "both" (a KeyDescriptor without use)
    std::string subject;         // RFC 2253 ("CN=IdP,O=Example")
    std::int64_t not_after = 0;  // seconds since the epoch
    std::string serial;          // hexadecimal: tells apart a renewed certificate with the same subject
};

// The subject and notAfter of a certificate, DER or PEM; nullopt when it does not parse.
std::optional<CertificateExpiry> der_certificate_expiry(std::string_view der);
std::optional<CertificateExpiry> pem_certificate_expiry(std::string_view pem);

// The certificates of one IdP's EntityDescriptor (as idp_entities_of returns it): every
// X509Certificate of its IDPSSODescriptor's KeyDescriptors, in document order, with `idp` set.
// Certificates that do not parse are left out (the metadata checks report those).
std::vector<CertificateExpiry> idp_certificates(std::string_view entity_id, const std::string& entity_xml);

inline constexpr std::int64_t kCertificateWarnWindow = 30 * 86400;

// The warning for a certificate that has expired or expires within `window` seconds of `now`
// ("... expires in 12 days (notAfter 2026-12-14T00:00:00Z)"); empty when it is not due.
std::string certificate_expiry_warning(const CertificateExpiry& c, std::int64_t now,
                                       std::int64_t window = kCertificateWarnWindow);

}  // namespace sso
