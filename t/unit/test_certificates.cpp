#include "saml/certificates.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "saml/base64.hpp"

namespace sso {
namespace {

constexpr std::int64_t kNotAfter = 1798761600;  // 2027-01-01T00:00:00Z

struct X509Free {
    void operator()(X509* c) const noexcept { X509_free(c); }
};
struct KeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct BioFree {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};

// A self-signed certificate for CN=`cn` whose notAfter is exactly `not_after`, DER.
std::string make_der(const char* cn, std::int64_t not_after) {
    std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    std::unique_ptr<X509, X509Free> cert(X509_new());
    EXPECT_TRUE(key && cert);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(not_after - 86400));
    ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(not_after));
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Example"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert.get(), &der);
    EXPECT_GT(len, 0);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
}

std::string to_pem(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// base64 wrapped at 64 columns, as metadata usually carries it
std::string wrapped_b64(const std::string& der) {
    const std::string b64 = base64_encode(der);
    std::string out = "\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) out += "    " + b64.substr(i, 64) + "\n";
    return out;
}

std::string key_descriptor(const char* use, const std::string& der) {
    std::string attr = use ? std::string(" use=\"") + use + "\"" : std::string();
    return "<md:KeyDescriptor" + attr + "><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" + wrapped_b64(der) +
           "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
}

TEST(Certificates, NotAfterAndSubjectOfDerAndPem) {
    const std::string der = make_der("IdP signer", kNotAfter);
    auto d = der_certificate_expiry(der);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->not_after, kNotAfter);
    EXPECT_EQ(d->subject, "CN=IdP signer,O=Example");
    EXPECT_EQ(d->serial, "01");
    auto p = pem_certificate_expiry(to_pem(der));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->not_after, kNotAfter);
    EXPECT_EQ(p->subject, d->subject);
    EXPECT_FALSE(der_certificate_expiry("not a certificate"));
    EXPECT_FALSE(pem_certificate_expiry("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    EXPECT_FALSE(pem_certificate_expiry(""));
}

TEST(Certificates, EveryKeyDescriptorOfTheIdpRole) {
    const std::string sign1 = make_der("sign-old", kNotAfter), sign2 = make_der("sign-new", kNotAfter + 86400 * 365);
    const std::string enc = make_der("enc", kNotAfter + 10), any = make_der("any", kNotAfter + 20);
    const std::string other = make_der("attribute authority", kNotAfter + 30);
    const std::string xml =
        R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" )"
        R"(xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.org">)"
        R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)" +
        key_descriptor("signing", sign1) + key_descriptor("signing", sign2) + key_descriptor("encryption", enc) +
        key_descriptor(nullptr, any) +
        // a certificate that does not parse is left out
        R"(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==)"
        R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
        R"(</md:IDPSSODescriptor><md:AttributeAuthorityDescriptor protocolSupportEnumeration="x">)" +
        key_descriptor("signing", other) + "</md:AttributeAuthorityDescriptor></md:EntityDescriptor>";
    const auto certs = idp_certificates("https://idp.example.org", xml);
    ASSERT_EQ(certs.size(), 4u);
    const char* subjects[] = {"CN=sign-old,O=Example", "CN=sign-new,O=Example", "CN=enc,O=Example", "CN=any,O=Example"};
    const char* uses[] = {"signing", "signing", "encryption", "both"};
    const std::int64_t ends[] = {kNotAfter, kNotAfter + 86400 * 365, kNotAfter + 10, kNotAfter + 20};
    for (std::size_t i = 0; i < certs.size(); ++i) {
        EXPECT_EQ(certs[i].idp, "https://idp.example.org");
        EXPECT_EQ(certs[i].subject, subjects[i]);
        EXPECT_EQ(certs[i].use, uses[i]);
        EXPECT_EQ(certs[i].not_after, ends[i]);
    }
    EXPECT_TRUE(idp_certificates("x", "<not xml").empty());
}

TEST(Certificates, WarningWithinTheWindowOnly) {
    CertificateExpiry idp{"https://idp.example.org", "signing", "CN=IdP", kNotAfter};
    CertificateExpiry ours{"", "both", "CN=SP", kNotAfter};
    EXPECT_EQ(certificate_expiry_warning(idp, kNotAfter - 31 * 86400), "");
    EXPECT_EQ(certificate_expiry_warning(idp, kNotAfter - 30 * 86400 - 1), "");
    EXPECT_EQ(certificate_expiry_warning(idp, kNotAfter - 30 * 86400),
              "IdP \"https://idp.example.org\" signing certificate \"CN=IdP\" expires in 30 days "
              "(notAfter 2027-01-01T00:00:00Z)");
    EXPECT_EQ(certificate_expiry_warning(ours, kNotAfter - 86400 - 5),
              "our signing and encryption certificate \"CN=SP\" expires in 1 day (notAfter 2027-01-01T00:00:00Z)");
    EXPECT_EQ(certificate_expiry_warning(ours, kNotAfter - 3 * 3600),
              "our signing and encryption certificate \"CN=SP\" expires in 3 hours (notAfter 2027-01-01T00:00:00Z)");
    EXPECT_EQ(certificate_expiry_warning(idp, kNotAfter),
              "IdP \"https://idp.example.org\" signing certificate \"CN=IdP\" has expired "
              "(notAfter 2027-01-01T00:00:00Z)");
    EXPECT_NE(certificate_expiry_warning(idp, kNotAfter + 86400 * 400).find("has expired"), std::string::npos);
    EXPECT_EQ(certificate_expiry_warning(idp, kNotAfter - 10 * 86400, 7 * 86400), "");
}

}  // namespace
}  // namespace sso
