// IdP metadata checks: validity, cache duration and the metadata signature. Signed documents
// are made by the xmlsec1 command-line tool (a signer we did not write), then checked by ours.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "saml/idp_metadata.hpp"
#include "saml/saml_time.hpp"
#include "t/support/lasso_idp.hpp"

namespace sso {
namespace {

using testing::TestKeys;

constexpr std::int64_t kNow = 1'800'000'000;

const TestKeys& keys() {
    static TestKeys k;
    return k;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string entity(const std::string& root_attributes, const std::string& signature_template = "") {
    return R"(<?xml version="1.0"?>)"
           R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/md" )" +
           root_attributes + ">" + signature_template +
           R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
           R"(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" )"
           R"(Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>)";
}

std::string signature_template(const std::string& reference_uri, const std::string& method = "rsa-sha256",
                               const std::string& digest = "http://www.w3.org/2001/04/xmlenc#sha256",
                               const std::string& extra_reference = "") {
    const std::string sig_ns =
        method == "rsa-sha1" ? "http://www.w3.org/2000/09/xmldsig#" : "http://www.w3.org/2001/04/xmldsig-more#";
    return R"(<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>)"
           R"(<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)"
           R"(<ds:SignatureMethod Algorithm=")" +
           sig_ns + method + R"("/><ds:Reference URI=")" + reference_uri +
           R"("><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>)"
           R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>)"
           R"(<ds:DigestMethod Algorithm=")" +
           digest + R"("/><ds:DigestValue/></ds:Reference>)" + extra_reference +
           R"(</ds:SignedInfo><ds:SignatureValue/></ds:Signature>)";
}

// Signs `tmpl` with the named test key, using the xmlsec1 tool.
std::string xmlsec1_sign(const std::string& tmpl, const std::string& who = "idp") {
    const std::string dir = ::testing::TempDir();
    const std::string base = dir + "/md-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
    std::ofstream(base + ".xml") << tmpl;
    std::ofstream(base + ".key") << keys().key(who);
    const std::string cmd = "xmlsec1 --sign --privkey-pem " + base + ".key --id-attr:ID " +
                            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor --output " + base + ".signed " +
                            base + ".xml 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string out = read(base + ".signed");
    for (const char* ext : {".xml", ".key", ".signed"}) std::remove((base + ext).c_str());
    return out;
}

MetadataTrust trust(const std::string& who = "idp") {
    return MetadataTrust{keys().cert(who), false};
}

std::string reason(const Result<IdpMetadataInfo>& r) {
    return r ? std::string("(accepted)") : r.error().reason;
}

TEST(XsDuration, ParsesTheFormsMetadataUses) {
    EXPECT_EQ(parse_xs_duration("PT1H"), 3600);
    EXPECT_EQ(parse_xs_duration("P1D"), 86400);
    EXPECT_EQ(parse_xs_duration("PT30M"), 1800);
    EXPECT_EQ(parse_xs_duration("PT0.5S"), 0);
    EXPECT_EQ(parse_xs_duration("P0Y0M7DT12H"), 7 * 86400 + 12 * 3600);
    EXPECT_EQ(parse_xs_duration("P1M"), 30 * 86400);
    EXPECT_EQ(parse_xs_duration("PT6H30M15S"), 6 * 3600 + 30 * 60 + 15);
}

TEST(XsDuration, RefusesMalformedAndNegative) {
    for (const char* bad :
         {"", "P", "PT", "1H", "-PT1H", "PT1D", "P1H", "PT1H1H", "P1D1Y", "PTH", "P1DT", "PT1.5H", "P99999999999999Y"})
        EXPECT_FALSE(parse_xs_duration(bad)) << bad;
}

TEST(IdpMetadata, ReadsEntityIdValidUntilAndCacheDuration) {
    const std::string until = format_saml_time(kNow + 3600);
    auto info = check_idp_metadata(entity("validUntil=\"" + until + "\" cacheDuration=\"PT15M\""), kNow, {});
    ASSERT_TRUE(info) << reason(info);
    EXPECT_EQ(info->entity_id, "https://idp.example/md");
    EXPECT_EQ(info->valid_until, kNow + 3600);
    EXPECT_EQ(info->cache_duration, 900);
    EXPECT_FALSE(info->signature_verified);
}

TEST(IdpMetadata, ExpiredMetadataIsRefused) {
    auto info = check_idp_metadata(entity("validUntil=\"" + format_saml_time(kNow - 1) + "\""), kNow, {});
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().reason.find("expired"), std::string::npos) << reason(info);
    EXPECT_EQ(info.error().subject, "idp_metadata");
}

TEST(IdpMetadata, MalformedDocumentsAreRefusedWithAReason) {
    EXPECT_NE(reason(check_idp_metadata("", kNow, {})).find("empty"), std::string::npos);
    EXPECT_NE(reason(check_idp_metadata("<html>oops</html>", kNow, {})).find("EntityDescriptor"), std::string::npos);
    EXPECT_NE(reason(check_idp_metadata("<md:EntityDescriptor", kNow, {})).find("well-formed"), std::string::npos);
    const std::string doctype = R"(<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>)" + entity("").substr(21);
    EXPECT_NE(reason(check_idp_metadata(doctype, kNow, {})).find("DOCTYPE"), std::string::npos);
    EXPECT_NE(reason(check_idp_metadata(entity("cacheDuration=\"soon\""), kNow, {})).find("cacheDuration"),
              std::string::npos);
    EXPECT_NE(reason(check_idp_metadata(entity("validUntil=\"tomorrow\""), kNow, {})).find("validUntil"),
              std::string::npos);
}

TEST(IdpMetadata, SignatureByTheConfiguredCertificateVerifies) {
    for (const std::string uri : {"#_md1", ""}) {
        const std::string signed_xml = xmlsec1_sign(entity("ID=\"_md1\"", signature_template(uri)));
        auto info = check_idp_metadata(signed_xml, kNow, trust());
        ASSERT_TRUE(info) << reason(info) << "\n" << signed_xml;
        EXPECT_TRUE(info->signature_verified);
    }
}

TEST(IdpMetadata, UnsignedMetadataIsRefusedWhenACertificateIsConfigured) {
    auto info = check_idp_metadata(entity("ID=\"_md1\""), kNow, trust());
    EXPECT_NE(reason(info).find("not signed"), std::string::npos) << reason(info);
}

TEST(IdpMetadata, SignatureByAnotherKeyIsRefused) {
    const std::string signed_xml = xmlsec1_sign(entity("ID=\"_md1\"", signature_template("#_md1")), "other");
    auto info = check_idp_metadata(signed_xml, kNow, trust());
    EXPECT_NE(reason(info).find("does not verify"), std::string::npos) << reason(info);
}

TEST(IdpMetadata, ACertificateInKeyInfoIsNotTrusted) {
    // Signed by "other", with other's certificate in KeyInfo: still refused, the key comes
    // from the configuration only.
    std::string tmpl = signature_template("#_md1");
    const std::string key_info = "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>" +
                                 testing::pem_body(keys().cert("other")) +
                                 "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>";
    tmpl.insert(tmpl.find("</ds:Signature>"), key_info);
    const std::string signed_xml = xmlsec1_sign(entity("ID=\"_md1\"", tmpl), "other");
    ASSERT_NE(signed_xml.find("X509Certificate"), std::string::npos);
    EXPECT_NE(reason(check_idp_metadata(signed_xml, kNow, trust())).find("does not verify"), std::string::npos);
}

TEST(IdpMetadata, ChangedContentAfterSigningIsRefused) {
    std::string signed_xml = xmlsec1_sign(entity("ID=\"_md1\"", signature_template("#_md1")));
    const std::string from = "https://idp.example/sso", to = "https://evil.example/sso";
    ASSERT_NE(signed_xml.find(from), std::string::npos);
    signed_xml.replace(signed_xml.find(from), from.size(), to);
    EXPECT_NE(reason(check_idp_metadata(signed_xml, kNow, trust())).find("does not verify"), std::string::npos);
}

TEST(IdpMetadata, Sha1IsRefusedUnlessAllowed) {
    const std::string signed_xml = xmlsec1_sign(
        entity("ID=\"_md1\"", signature_template("#_md1", "rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")));
    EXPECT_NE(reason(check_idp_metadata(signed_xml, kNow, trust())).find("RSA-SHA1"), std::string::npos);
    MetadataTrust sha1 = trust();
    sha1.allow_sha1 = true;
    auto info = check_idp_metadata(signed_xml, kNow, sha1);
    EXPECT_TRUE(info) << reason(info);
}

TEST(IdpMetadata, ASignatureOverAPartOfTheDocumentIsRefused) {
    // A valid signature whose Reference names an inner element: the rest could be anything.
    std::string doc = entity("ID=\"_md1\"", signature_template("#_inner"));
    doc.replace(doc.find("<md:IDPSSODescriptor "), 21, "<md:IDPSSODescriptor ID=\"_inner\" ");
    auto info = check_idp_metadata(doc, kNow, trust());
    EXPECT_NE(reason(info).find("whole document"), std::string::npos) << reason(info);
}

TEST(IdpMetadata, SeveralReferencesAreRefused) {
    const std::string extra =
        R"(<ds:Reference URI="#_md1"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>)"
        R"(<ds:DigestValue/></ds:Reference>)";
    auto info = check_idp_metadata(
        entity("ID=\"_md1\"",
               signature_template("#_md1", "rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256", extra)),
        kNow, trust());
    EXPECT_NE(reason(info).find("exactly one Reference"), std::string::npos) << reason(info);
}

TEST(IdpMetadata, AnXsltTransformIsRefused) {
    std::string tmpl = signature_template("#_md1");
    const std::string c14n = R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)";
    tmpl.replace(tmpl.find(c14n), c14n.size(),
                 R"(<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>)");
    auto info = check_idp_metadata(entity("ID=\"_md1\"", tmpl), kNow, trust());
    EXPECT_NE(reason(info).find("not allowed"), std::string::npos) << reason(info);
}

TEST(IdpMetadata, ExpiryIsCheckedOnSignedMetadataToo) {
    const std::string signed_xml = xmlsec1_sign(
        entity("ID=\"_md1\" validUntil=\"" + format_saml_time(kNow + 60) + "\"", signature_template("#_md1")));
    EXPECT_TRUE(check_idp_metadata(signed_xml, kNow, trust()));
    EXPECT_NE(reason(check_idp_metadata(signed_xml, kNow + 61, trust())).find("expired"), std::string::npos);
}

}  // namespace
}  // namespace sso
