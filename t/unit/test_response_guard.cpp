// Structural checks run before any signature is verified. These documents are not signed:
// the guard looks only at shape, so each case isolates one rule.
#include <gtest/gtest.h>

#include <string>

#include "saml/response_guard.hpp"

namespace sso {
namespace {

const std::string kNs =
    R"( xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion")"
    R"( xmlns:ds="http://www.w3.org/2000/09/xmldsig#")";

std::string signature(const std::string& uri,
                      const std::string& method = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                      const std::string& transforms =
                          R"(<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>)"
                          R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)",
                      const std::string& extra = "") {
    return R"(<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)"
           R"(<ds:SignatureMethod Algorithm=")" +
           method + R"("/><ds:Reference URI=")" + uri + R"("><ds:Transforms>)" + transforms +
           R"(</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>)"
           R"(<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue>)" +
           extra + "</ds:Signature>";
}

std::string assertion(const std::string& id = "a1", const std::string& inner = "", bool signed_ = true) {
    return R"(<saml:Assertion ID=")" + id + R"("><saml:Issuer>idp</saml:Issuer>)" +
           (signed_ ? signature("#" + id) : "") +
           "<saml:Subject><saml:NameID>alice@example.org</saml:NameID></saml:Subject>" + inner + "</saml:Assertion>";
}

std::string response(const std::string& body, const std::string& id = "r1") {
    return "<samlp:Response" + kNs + R"( ID=")" + id + R"(">)" + body + "</samlp:Response>";
}

std::optional<std::string> check(const std::string& xml, bool sha1 = false) {
    return check_response_structure(xml, {24, 4096, sha1});
}

TEST(ResponseGuard, AcceptsTheShapesIdPsSend) {
    EXPECT_EQ(check(response(assertion())), std::nullopt);                                    // assertion signed
    EXPECT_EQ(check(response(signature("#r1") + assertion("a1", "", false))), std::nullopt);  // response signed
    EXPECT_EQ(check(response(signature("#r1") + assertion())), std::nullopt);                 // both
}

TEST(ResponseGuard, RefusesUnsignedDocuments) {
    EXPECT_EQ(check(response(assertion("a1", "", false))), "neither the Response nor the Assertion is signed");
}

TEST(ResponseGuard, RefusesDoctypeAndEntities) {
    EXPECT_EQ(check("<!DOCTYPE x [<!ENTITY e \"x\">]>" + response(assertion())),
              "DOCTYPE or entity declarations are not allowed");
    EXPECT_EQ(check("<!DOCTYPE samlp:Response SYSTEM \"file:///etc/passwd\">" + response(assertion())),
              "DOCTYPE or entity declarations are not allowed");
}

TEST(ResponseGuard, RefusesWhatIsNotAResponse) {
    EXPECT_EQ(check("not xml"), "response is not well-formed XML");
    EXPECT_EQ(check("<samlp:LogoutResponse" + kNs + "/>"), "document is not a SAML 2.0 Response");
}

TEST(ResponseGuard, RefusesSeveralOrWrappedAssertions) {
    EXPECT_EQ(check(response(assertion("a1") + assertion("a2"))),
              "response must contain exactly one assertion, found 2");
    EXPECT_EQ(check(response("")), "response must contain exactly one assertion, found 0");
    // XSW: the signed assertion hidden in Extensions, an unsigned evil one in its place
    EXPECT_EQ(
        check(response("<samlp:Extensions>" + assertion("a1") + "</samlp:Extensions>" + assertion("evil", "", false))),
        "response must contain exactly one assertion, found 2");
    EXPECT_EQ(check(response("<samlp:Extensions>" + assertion("a1") + "</samlp:Extensions>")),
              "assertion is not a direct child of the Response");
}

TEST(ResponseGuard, RefusesDuplicateIds) {
    EXPECT_EQ(check(response(assertion("r1"))), "duplicate XML ID r1");
}

TEST(ResponseGuard, SignaturesMustSignTheirParentWithAllowedAlgorithms) {
    const std::string plain = assertion("a1", "", false);
    EXPECT_EQ(check(response(signature("#a1") + plain)),
              "Response signature Reference does not point at its parent element");
    EXPECT_EQ(check(response(signature("") + plain)),
              "Response signature Reference does not point at its parent element");
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2000/09/xmldsig#rsa-sha1") + plain)),
              "Response signature method not allowed: http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2000/09/xmldsig#rsa-sha1") + plain), true),
              std::nullopt)
        << "sso_allow_sha1 on accepts RSA-SHA1";
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                       R"(<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/>)") +
                             plain)),
              "Response signature transform not allowed: http://www.w3.org/TR/1999/REC-xpath-19991116");
    EXPECT_EQ(
        check(response(signature("#r1", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                 R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>)") +
                       plain)),
        "Response signature transform not allowed: http://www.w3.org/2001/10/xml-exc-c14n#WithComments");
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                       R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)",
                                       "<ds:Object>" + std::string() + "</ds:Object>") +
                             plain)),
              "Response signature carries an Object element");
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                       R"(<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>)",
                                       R"(<ds:KeyInfo><ds:RetrievalMethod URI="http://evil/key"/></ds:KeyInfo>)") +
                             plain)),
              "Response signature KeyInfo uses RetrievalMethod");
    EXPECT_EQ(check(response(signature("#r1") + signature("#r1") + plain)), "several signatures on one element");
}

TEST(ResponseGuard, RefusesSignaturesElsewhere) {
    EXPECT_EQ(check(response(assertion("a1", "<saml:Conditions ID=\"c1\">" + signature("#c1") + "</saml:Conditions>"))),
              "signature found outside the Response and Assertion");
}

TEST(ResponseGuard, RefusesCommentsAndCdataInsideTheAssertion) {
    const std::string with_comment = R"(<saml:Assertion ID="a1"><saml:Issuer>idp</saml:Issuer>)" + signature("#a1") +
                                     "<saml:Subject><saml:NameID>alice@example.org<!---->.evil.example</saml:NameID>"
                                     "</saml:Subject></saml:Assertion>";
    EXPECT_EQ(check(response(with_comment)), "comment, CDATA or processing instruction inside the assertion");
    std::string with_cdata = with_comment;
    with_cdata.replace(with_cdata.find("<!---->"), 7, "<![CDATA[]]>");
    EXPECT_EQ(check(response(with_cdata)), "comment, CDATA or processing instruction inside the assertion");
    // outside the assertion a comment changes nothing we read
    EXPECT_EQ(check(response("<!-- hi -->" + assertion())), std::nullopt);
}

TEST(ResponseGuard, RefusesDeepOrHugeDocuments) {
    std::string deep;
    for (int i = 0; i < 40; ++i) deep += "<x>";
    for (int i = 0; i < 40; ++i) deep += "</x>";
    EXPECT_EQ(check(response(assertion("a1", "<saml:AttributeStatement>" + deep + "</saml:AttributeStatement>"))),
              "XML nested too deeply");
    std::string many;
    for (int i = 0; i < 5000; ++i) many += "<y/>";
    EXPECT_EQ(check(response(assertion("a1", many))), "too many XML elements");
}

}  // namespace
}  // namespace sso
