#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "saml/metadata_keys.hpp"

namespace sso {
namespace {

std::string cert_body(const char* algorithm_args) {
    const std::string dir = testing::TempDir();
    const std::string crt = dir + "/mk-" + std::to_string(std::rand()) + ".crt";
    const std::string cmd = std::string("openssl req -x509 -nodes -days 1 -subj /CN=k ") + algorithm_args +
                            " -keyout /dev/null -out " + crt + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream in(crt);
    std::string out, line;
    while (std::getline(in, line))
        if (line.find("-----") == std::string::npos) out += line;
    std::remove(crt.c_str());
    return out;
}

std::string metadata(const std::string& cert) {
    return R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="idp">)"
           R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
           R"(<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">)"
           R"(<ds:X509Data><ds:X509Certificate>)" +
           cert +
           R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>)";
}

TEST(MetadataKeys, RsaCertificatesBecomeTheirBareKey) {
    auto out = metadata_with_bare_signing_keys(metadata(cert_body("-newkey rsa:2048")));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->find("X509Certificate"), std::string::npos) << *out;
    EXPECT_NE(out->find("<ds:KeyValue><ds:RSAKeyValue><ds:Modulus>"), std::string::npos) << *out;
    EXPECT_NE(out->find("<ds:Exponent>AQAB</ds:Exponent>"), std::string::npos) << *out;
    EXPECT_NE(out->find(R"(entityID="idp")"), std::string::npos);
}

TEST(MetadataKeys, OtherCertificatesStayAsTheyAre) {
    const std::string ec = cert_body("-newkey ec -pkeyopt ec_paramgen_curve:prime256v1");
    auto out = metadata_with_bare_signing_keys(metadata(ec));
    ASSERT_TRUE(out);
    EXPECT_NE(out->find(ec), std::string::npos);
    auto garbage = metadata_with_bare_signing_keys(metadata("bm90IGEgY2VydA=="));
    ASSERT_TRUE(garbage);
    EXPECT_NE(garbage->find("bm90IGEgY2VydA=="), std::string::npos);
}

TEST(MetadataKeys, RefusesWhatIsNotXml) {
    EXPECT_FALSE(metadata_with_bare_signing_keys("<md:EntityDescriptor"));
}

}  // namespace
}  // namespace sso
