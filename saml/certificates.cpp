#include "saml/certificates.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>

#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/key_descriptors.hpp"
#include "saml/saml_time.hpp"

namespace sso {
namespace {

constexpr const char* kNsMd = "urn:oasis:names:tc:SAML:2.0:metadata";

struct X509Free {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};

std::optional<CertificateExpiry> expiry_of(const X509* cert) {
    if (!cert) return std::nullopt;
    CertificateExpiry out;
    // Seconds from the epoch to notAfter, without going through a time_t of this platform.
    ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
    if (!epoch) return std::nullopt;
    int days = 0, secs = 0;
    const int ok = ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notAfter(cert));
    ASN1_TIME_free(epoch);
    if (ok != 1) return std::nullopt;
    out.not_after = static_cast<std::int64_t>(days) * 86400 + secs;
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        if (char* hex = BN_bn2hex(bn)) {
            out.serial = hex;
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        const long len = BIO_get_mem_data(bio.get(), &data);
        if (len > 0) out.subject.assign(data, static_cast<std::size_t>(len));
    }
    return out;
}

void collect(const xmlNode* n, std::string_view entity_id, std::vector<CertificateExpiry>& out) {
    std::vector<MetadataCertificate> certs;
    collect_metadata_certificates(n, certs);
    for (const MetadataCertificate& c : certs) {
        auto der = base64_decode_strict(c.base64, 64 * 1024);
        if (!der) continue;
        auto e = der_certificate_expiry(*der);
        if (!e) continue;
        e->idp = entity_id;
        e->use = c.use.empty() ? "both" : c.use;
        out.push_back(std::move(*e));
    }
}

}  // namespace

std::optional<CertificateExpiry> der_certificate_expiry(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    return expiry_of(cert.get());
}

std::optional<CertificateExpiry> pem_certificate_expiry(std::string_view pem) {
    std::unique_ptr<BIO, BioFree> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!in) return std::nullopt;
    X509Ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    return expiry_of(cert.get());
}

std::vector<CertificateExpiry> idp_certificates(std::string_view entity_id, const std::string& xml) {
    std::vector<CertificateExpiry> out;
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "idp-metadata.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) return out;
    const xmlNode* entity = xmlDocGetRootElement(doc.get());
    for (const xmlNode* role = entity ? entity->children : nullptr; role; role = role->next)
        if (is_element(role, kNsMd, "IDPSSODescriptor")) collect(role->children, entity_id, out);
    return out;
}

std::string certificate_expiry_warning(const CertificateExpiry& c, std::int64_t now, std::int64_t window) {
    const std::int64_t left = c.not_after - now;
    if (left > window) return {};
    const std::string use = c.use == "both" ? "signing and encryption" : c.use;
    std::string what = (c.idp.empty() ? "our " : "IdP \"" + c.idp + "\" ") + use + " certificate \"" + c.subject + "\"";
    const std::string when = " (notAfter " + format_saml_time(c.not_after) + ")";
    if (left <= 0) return what + " has expired" + when;
    const std::int64_t days = left / 86400;
    return what + " expires in " +
           (days >= 1 ? std::to_string(days) + (days == 1 ? " day" : " days")
                      : std::to_string(left / 3600) + (left / 3600 == 1 ? " hour" : " hours")) +
           when;
}

}  // namespace sso
