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
    return R"(<saml:Assertion ID=")" + id + R"(" Version="2.0"><saml:Issuer>idp</saml:Issuer>)" +
           (signed_ ? signature("#" + id) : "") +
           "<saml:Subject><saml:NameID>alice@example.org</saml:NameID></saml:Subject>" + inner + "</saml:Assertion>";
}

std::string response(const std::string& body, const std::string& id = "r1") {
    return "<samlp:Response" + kNs + R"( ID=")" + id + R"(" Version="2.0">)" + body + "</samlp:Response>";
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

TEST(ResponseGuard, NamesRsaPssAsUnsupported) {
    const std::string plain = assertion("a1", "", false);
    for (const char* pss :
         {"http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
          "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1", "http://www.w3.org/2007/05/xmldsig-more#rsa-pss"})
        EXPECT_EQ(check(response(signature("#r1", pss) + plain)),
                  std::string("Response signature method RSA-PSS (") + pss +
                      ") cannot be verified with this xmlsec (1.2); have the IdP sign with RSA-SHA256 or ECDSA-SHA256");
    EXPECT_EQ(check(response(signature("#r1", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256") + plain)),
              std::nullopt);
}

TEST(ResponseGuard, RefusesSignaturesElsewhere) {
    EXPECT_EQ(check(response(assertion("a1", "<saml:Conditions ID=\"c1\">" + signature("#c1") + "</saml:Conditions>"))),
              "signature found outside the Response and Assertion");
}

TEST(ResponseGuard, RefusesCommentsAndCdataInsideTheAssertion) {
    const std::string with_comment = R"(<saml:Assertion ID="a1" Version="2.0"><saml:Issuer>idp</saml:Issuer>)" +
                                     signature("#a1") +
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

TEST(ResponseGuard, NestingPastLibxml2sLimitIsTooDeepNotMalformed) {
    // libxml2 stops at 256 levels without XML_PARSE_HUGE; the document itself is well-formed.
    std::string deep;
    for (int i = 0; i < 300; ++i) deep += "<x>";
    for (int i = 0; i < 300; ++i) deep += "</x>";
    EXPECT_EQ(check(response(assertion("a1", deep))), "XML nested too deeply");
    // within the limit, a missing end tag is still what it is
    EXPECT_EQ(check(response(assertion("a1", deep.substr(0, 100 * 3) + deep.substr(deep.size() - 99 * 4)))),
              "response is not well-formed XML");
}

// UTF-16 as a .NET or Java IdP library writes it when asked for a String's bytes.
std::string utf16le(const std::string& ascii, bool bom) {
    std::string out = bom ? std::string("\xFF\xFE") : std::string();
    for (char c : ascii) out.append({c, '\0'});
    return out;
}

TEST(ResponseGuard, RefusesUtf16WithAReason) {
    const std::string xml = R"(<?xml version="1.0" encoding="UTF-16"?>)" + response(assertion());
    EXPECT_EQ(check(utf16le(xml, true)), "response is UTF-16 or UTF-32 encoded; only UTF-8 is accepted");
    EXPECT_EQ(check(utf16le(response(assertion()), false)),
              "response is UTF-16 or UTF-32 encoded; only UTF-8 is accepted");
    std::string be = utf16le(xml, false).substr(1) + '\0';  // big-endian, no BOM
    EXPECT_EQ(check(be), "response is UTF-16 or UTF-32 encoded; only UTF-8 is accepted");
    EXPECT_EQ(check(R"(<?xml version="1.0" encoding="UTF-8"?>)" + response(assertion())), std::nullopt);
}

TEST(ResponseGuard, ResponseAndAssertionMustBeVersion2) {
    auto with_version = [](std::string xml, const std::string& element, const std::string& version) {
        const std::size_t at = xml.find(" Version=\"2.0\"", xml.find(element));
        xml.replace(at, std::string(R"( Version="2.0")").size(), version);
        return xml;
    };
    const std::string ok = response(assertion());
    EXPECT_EQ(check(with_version(ok, "<samlp:Response", R"( Version="1.1")")), "Response Version is \"1.1\", not 2.0");
    EXPECT_EQ(check(with_version(ok, "<samlp:Response", "")), "Response Version is missing, not 2.0");
    EXPECT_EQ(check(with_version(ok, "<saml:Assertion", R"( Version="2.1")")), "Assertion Version is \"2.1\", not 2.0");
    EXPECT_EQ(check(with_version(ok, "<saml:Assertion", R"( Version="")")), "Assertion Version is \"\", not 2.0");
    EXPECT_EQ(check(with_version(ok, "<saml:Assertion", "")), "Assertion Version is missing, not 2.0");
}

// --- encrypted assertions: the envelope in the Response, then the decrypted plaintext -------

const std::string kXenc = "http://www.w3.org/2001/04/xmlenc#";

std::string encrypted_key(const std::string& alg = kXenc + "rsa-oaep-mgf1p") {
    return R"(<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=")" + alg +
           R"("/><xenc:CipherData><xenc:CipherValue>AA==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>)";
}

std::string encrypted_assertion(const std::string& data_alg = kXenc + "aes256-cbc",
                                const std::string& key_info_extra = "",
                                const std::string& cipher = "<xenc:CipherValue>AA==</xenc:CipherValue>",
                                const std::string& beside = "", const std::string& key = encrypted_key()) {
    return R"(<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" )"
           R"(Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm=")" +
           data_alg + R"("/><ds:KeyInfo>)" + key + key_info_extra + "</ds:KeyInfo><xenc:CipherData>" + cipher +
           "</xenc:CipherData></xenc:EncryptedData>" + beside + "</saml:EncryptedAssertion>";
}

std::optional<std::string> check_encrypted(const std::string& xml, bool rsa1_5 = false) {
    ResponseGuardLimits limits;
    limits.allow_rsa1_5 = rsa1_5;
    auto r = check_response(xml, limits);
    if (!r) return r.error().reason;
    if (!r->encrypted() || !r->encrypted_key) return "not seen as encrypted";
    return std::nullopt;
}

TEST(ResponseGuardEncrypted, AcceptsTheEnvelopesIdPsSend) {
    EXPECT_EQ(check_encrypted(response(encrypted_assertion())), std::nullopt);  // unsigned Response
    EXPECT_EQ(check_encrypted(response(signature("#r1") + encrypted_assertion())), std::nullopt);
    EXPECT_EQ(check_encrypted(response(encrypted_assertion("http://www.w3.org/2009/xmlenc11#aes128-gcm"))),
              std::nullopt);
    // the EncryptedKey beside the EncryptedData (SAML core 6.2), pointed at by RetrievalMethod
    const std::string xmlns = R"(<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#")";
    std::string beside = encrypted_key();
    beside.replace(0, std::string("<xenc:EncryptedKey").size(), xmlns);
    EXPECT_EQ(check_encrypted(response(encrypted_assertion(kXenc + "aes128-cbc", R"(<ds:RetrievalMethod URI="#ek1"/>)",
                                                           "<xenc:CipherValue>AA==</xenc:CipherValue>", beside, ""))),
              std::nullopt);
}

TEST(ResponseGuardEncrypted, RefusesAlgorithmsWeDoNotAccept) {
    EXPECT_EQ(check_encrypted(response(encrypted_assertion(kXenc + "tripledes-cbc"))),
              "data encryption algorithm not allowed: http://www.w3.org/2001/04/xmlenc#tripledes-cbc");
    const std::string rsa15 = response(encrypted_assertion(
        kXenc + "aes256-cbc", "", "<xenc:CipherValue>AA==</xenc:CipherValue>", "", encrypted_key(kXenc + "rsa-1_5")));
    EXPECT_EQ(
        check_encrypted(rsa15),
        "key transport algorithm not allowed: http://www.w3.org/2001/04/xmlenc#rsa-1_5 (sso_allow_rsa1_5 is off)");
    EXPECT_EQ(check_encrypted(rsa15, true), std::nullopt) << "sso_allow_rsa1_5 on";
}

TEST(ResponseGuardEncrypted, RefusesEnvelopesThatPointElsewhereOrHoldMore) {
    EXPECT_EQ(check_encrypted(response(encrypted_assertion(kXenc + "aes256-cbc", "",
                                                           R"(<xenc:CipherReference URI="file:///etc/passwd"/>)"))),
              "EncryptedData must carry exactly one inline CipherValue");
    EXPECT_EQ(check_encrypted(response(encrypted_assertion(kXenc + "aes256-cbc", encrypted_key()))),
              "EncryptedAssertion must have exactly one EncryptedKey");
    EXPECT_EQ(check_encrypted(response(
                  encrypted_assertion(kXenc + "aes256-cbc", "", "<xenc:CipherValue>AA==</xenc:CipherValue>", "", ""))),
              "EncryptedAssertion must have exactly one EncryptedKey");
    EXPECT_EQ(check_encrypted(response(
                  encrypted_assertion(kXenc + "aes256-cbc", R"(<ds:RetrievalMethod URI="http://evil/key"/>)"))),
              "EncryptedData KeyInfo uses a RetrievalMethod to another document");
    EXPECT_EQ(check_encrypted(response("<saml:EncryptedAssertion/>")), "EncryptedAssertion has no EncryptedData");
    EXPECT_EQ(
        check_encrypted(response(encrypted_assertion(
            kXenc + "aes256-cbc", "", "<xenc:CipherValue>AA==</xenc:CipherValue>", "<saml:Assertion ID=\"x\"/>"))),
        "response must contain exactly one assertion, found 2");
}

TEST(ResponseGuardEncrypted, OneAssertionAndSignaturesOnlyOnTheResponse) {
    EXPECT_EQ(check_encrypted(response(encrypted_assertion() + assertion())),
              "response must contain exactly one assertion, found 2");
    EXPECT_EQ(check_encrypted(response(encrypted_assertion() + encrypted_assertion())),
              "response must contain exactly one assertion, found 2");
    EXPECT_EQ(check_encrypted(response("<samlp:Extensions>" + encrypted_assertion() + "</samlp:Extensions>")),
              "encrypted assertion is not a direct child of the Response");
    // an encrypted assertion inside a plaintext one (Advice) is not read, so not accepted
    EXPECT_EQ(check(response(assertion("a1", "<saml:Advice>" + encrypted_assertion() + "</saml:Advice>"))),
              "encrypted content inside the assertion is not supported");
    EXPECT_EQ(check(response(assertion("a1", "<saml:Subject><saml:EncryptedID/></saml:Subject>"))),
              "encrypted content inside the assertion is not supported");
    std::string signed_envelope = encrypted_assertion();
    signed_envelope.insert(signed_envelope.find("<xenc:EncryptedData"), signature("#r1"));
    EXPECT_EQ(check_encrypted(response(signed_envelope)), "signature found outside the Response and Assertion");
    EXPECT_EQ(check_encrypted(response(signature("#x") + encrypted_assertion())),
              "Response signature Reference does not point at its parent element");
}

const std::string kSamlNs = R"( xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion")"
                            R"( xmlns:ds="http://www.w3.org/2000/09/xmldsig#")";

// A decrypted assertion declares its own namespaces (it was serialised on its own).
std::string plain(const std::string& id = "a1", const std::string& inner = "", bool signed_ = true) {
    std::string a = assertion(id, inner, signed_);
    a.insert(std::string("<saml:Assertion").size(), kSamlNs);
    return a;
}

std::optional<std::string> check_plain(const std::string& xml, bool response_signed, bool want_signed = false) {
    ResponseGuardLimits limits;
    limits.require_assertion_signature = want_signed;
    auto r = check_decrypted_assertion(xml, limits, response_signed);
    if (!r) return r.error().reason;
    if (r.value() != "a1") return "wrong ID " + r.value();
    return std::nullopt;
}

TEST(DecryptedAssertion, AcceptsOneAssertionSignedItselfOrByTheResponse) {
    EXPECT_EQ(check_plain(plain(), false), std::nullopt);
    EXPECT_EQ(check_plain("\n  " + plain() + "\n", false), std::nullopt);
    EXPECT_EQ(check_plain(plain("a1", "", false), true), std::nullopt);
}

TEST(DecryptedAssertion, RefusesSeveralAssertionsOrAnythingBeside) {
    EXPECT_EQ(check_plain(plain() + plain("a2"), false),
              "decrypted content must be exactly one Assertion, found 2 elements");
    EXPECT_EQ(check_plain(plain() + "evil", false), "decrypted content has text beside the assertion");
    EXPECT_EQ(check_plain("<x/>", true), "decrypted content must be exactly one Assertion, found 1 elements");
    EXPECT_EQ(check_plain("", true), "decrypted content must be exactly one Assertion, found 0 elements");
    EXPECT_EQ(check_plain("not xml <", true), "decrypted assertion is not well-formed XML");
    EXPECT_EQ(check_plain("</sso-decrypted><sso-decrypted>" + plain(), true),
              "decrypted assertion is not well-formed XML");
    EXPECT_EQ(check_plain("<!DOCTYPE x>" + plain(), true), "DOCTYPE or entity declarations are not allowed");
    // an assertion wrapped inside another element is not the one read
    EXPECT_EQ(check_plain("<saml:Advice" + kSamlNs + ">" + plain() + "</saml:Advice>", true),
              "decrypted content must be exactly one Assertion, found 1 elements");
    EXPECT_EQ(check_plain(plain("a1", "<saml:Advice>" + assertion("a2") + "</saml:Advice>"), true),
              "decrypted content must be exactly one Assertion, found 2 assertions");
}

TEST(DecryptedAssertion, HoldsThePlaintextToTheSignatureRules) {
    EXPECT_EQ(check_plain(plain("a1", "", false), false), "neither the Response nor the Assertion is signed");
    EXPECT_EQ(check_plain(plain("a1", "", false), true, true),
              "the Assertion is not signed (sso_want_assertions_signed is on)");
    std::string elsewhere = plain("a1", "", false);
    elsewhere.insert(elsewhere.find("<saml:Subject>"), signature("#other"));
    EXPECT_EQ(check_plain(elsewhere, false), "Assertion signature Reference does not point at its parent element");
    EXPECT_EQ(check_plain(plain("a1", "<saml:Conditions ID=\"c1\">" + signature("#c1") + "</saml:Conditions>"), true),
              "signature found outside the Response and Assertion");
    std::string comment = plain();
    comment.replace(comment.find("@example.org"), 0, "<!---->");
    EXPECT_EQ(check_plain(comment, true), "comment, CDATA or processing instruction inside the assertion");
    EXPECT_EQ(
        check_plain(plain("a1", "<saml:AttributeStatement><saml:EncryptedAttribute/></saml:AttributeStatement>"), true),
        "encrypted content inside the assertion is not supported");
    EXPECT_EQ(check_plain(plain("a1", "<x ID=\"a1\"/>"), true), "duplicate XML ID a1");
    std::string old_version = plain();
    old_version.replace(old_version.find(R"(Version="2.0")"), 13, R"(Version="1.0")");
    EXPECT_EQ(check_plain(old_version, true), "Assertion Version is \"1.0\", not 2.0");
}

}  // namespace
}  // namespace sso
