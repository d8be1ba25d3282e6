// Our own verification of an enveloped signature: which of digest and signature value failed,
// and ECDSA, which Lasso does not verify.
#include <gtest/gtest.h>

#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>

#include <ctime>
#include <memory>

#include "saml/base64.hpp"
#include "saml/lasso_log.hpp"
#include "saml/response_guard.hpp"
#include "saml/service_provider.hpp"
#include "saml/signature_verifier.hpp"
#include "t/support/lasso_idp.hpp"

namespace sso {
namespace {

using testing::TestKeys;

constexpr const char* kNsSaml = "urn:oasis:names:tc:SAML:2.0:assertion";

xmlNode* first(xmlNode* n, const char* name) {
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0) return n;
        if (xmlNode* found = first(n->children, name)) return found;
    }
    return nullptr;
}

class SignatureVerifierTest : public ::testing::Test {
protected:
    // xmlsec's transforms exist once Lasso has initialised it, as in nginx; a test run on its
    // own (as ctest runs each) must not depend on another test having done it first.
    static void SetUpTestSuite() {
        ASSERT_TRUE(lasso_ready());
        keys_ = new TestKeys();
    }
    static void TearDownTestSuite() {
        delete keys_;
        keys_ = nullptr;
    }
    static std::vector<std::string> cert(const char* who) { return {testing::pem_body(keys_->cert(who))}; }

    // A Response the in-process IdP signed (Response and Assertion), parsed by the guard.
    static CheckedResponse signed_response() {
        auto sp = ServiceProvider::create(testing::sp_settings(*keys_));
        EXPECT_TRUE(sp);
        auto request = sp.value()->build_authn_request("r");
        auto xml = base64_decode_strict(testing::idp_answer(*keys_, *sp.value(), *request), 1 << 20);
        EXPECT_TRUE(xml);
        auto checked = check_response(*xml, {});
        EXPECT_TRUE(checked) << checked.error().reason;
        return std::move(checked.value());
    }
    static xmlNode* assertion_of(xmlNode* response) {
        for (xmlNode* c = response->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "Assertion") == 0) return c;
        return nullptr;
    }

    static TestKeys* keys_;
};
TestKeys* SignatureVerifierTest::keys_ = nullptr;

TEST_F(SignatureVerifierTest, VerifiesTheIdPsRsaSignatures) {
    CheckedResponse r = signed_response();
    xmlNode* root = xmlDocGetRootElement(r.doc.get());
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), root, cert("idp")), SignatureStatus::valid);
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), assertion_of(root), cert("idp")), SignatureStatus::valid);
    // another certificate first, then the right one: each is tried
    std::vector<std::string> both = cert("other");
    both.push_back(cert("idp").front());
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), root, both), SignatureStatus::valid);
}

TEST_F(SignatureVerifierTest, AnotherKeyIsASignatureFailureNotADigestOne) {
    CheckedResponse r = signed_response();
    xmlNode* root = xmlDocGetRootElement(r.doc.get());
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), root, cert("other")), SignatureStatus::signature_invalid);
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), assertion_of(root), cert("ec")),
              SignatureStatus::signature_invalid);
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), root, {}), SignatureStatus::unusable);
}

TEST_F(SignatureVerifierTest, ContentChangedAfterSigningIsADigestMismatch) {
    CheckedResponse r = signed_response();
    xmlNode* root = xmlDocGetRootElement(r.doc.get());
    xmlNode* assertion = assertion_of(root);
    xmlNodeSetContent(first(assertion, "NameID"), BAD_CAST "mallory@example.org");
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), assertion, cert("idp")), SignatureStatus::digest_mismatch);
    // the assertion is inside the signed Response: its digest no longer matches either
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), root, cert("idp")), SignatureStatus::digest_mismatch);
    // whatever the key: the digest does not depend on it
    EXPECT_EQ(verify_enveloped_signature(r.doc.get(), assertion, cert("other")), SignatureStatus::digest_mismatch);
}

// An element signed with ECDSA-SHA256 by the "ec" key, as an IdP would sign its Assertion.
XmlDocPtr ecdsa_signed(const TestKeys& keys) {
    const std::string xml = std::string("<saml:Assertion xmlns:saml=\"") + kNsSaml +
                            "\" ID=\"a1\" Version=\"2.0\"><saml:Issuer>idp</saml:Issuer>"
                            "<saml:Subject><saml:NameID>alice@example.org</saml:NameID></saml:Subject>"
                            "</saml:Assertion>";
    XmlDocPtr doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "a.xml", nullptr, XML_PARSE_NONET));
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xmlAddID(nullptr, doc.get(), BAD_CAST "a1", xmlHasProp(root, BAD_CAST "ID"));
    xmlNode* sig =
        xmlSecTmplSignatureCreate(doc.get(), xmlSecTransformExclC14NId, xmlSecTransformEcdsaSha256Id, nullptr);
    xmlAddNextSibling(first(root, "Issuer"), sig);
    xmlNode* ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, nullptr, BAD_CAST "#a1", nullptr);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
    const std::string pem = keys.key("ec");
    std::unique_ptr<xmlSecDSigCtx, void (*)(xmlSecDSigCtxPtr)> ctx(xmlSecDSigCtxCreate(nullptr), xmlSecDSigCtxDestroy);
    ctx->signKey = xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(pem.data()),
                                                static_cast<xmlSecSize>(pem.size()), xmlSecKeyDataFormatPem, nullptr,
                                                nullptr, nullptr);
    if (!ctx->signKey || xmlSecDSigCtxSign(ctx.get(), sig) < 0) return nullptr;
    return doc;
}

TEST_F(SignatureVerifierTest, VerifiesEcdsaSha256) {
    XmlDocPtr doc = ecdsa_signed(*keys_);
    ASSERT_TRUE(doc);
    xmlNode* root = xmlDocGetRootElement(doc.get());
    EXPECT_EQ(verify_enveloped_signature(doc.get(), root, cert("ec")), SignatureStatus::valid);
    EXPECT_EQ(verify_enveloped_signature(doc.get(), root, cert("idp")), SignatureStatus::signature_invalid);
    xmlNodeSetContent(first(root, "NameID"), BAD_CAST "mallory@example.org");
    EXPECT_EQ(verify_enveloped_signature(doc.get(), root, cert("ec")), SignatureStatus::digest_mismatch);
}

// --- through ServiceProvider::consume_response ---------------------------------------------

std::string serialise_base64(xmlDoc* doc) {
    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpMemoryEnc(doc, &buf, &size, "UTF-8");
    std::string xml(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
    xmlFree(buf);
    return base64_encode(xml);
}

void remove_signature(xmlNode* element) {
    for (xmlNode* c = element->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "Signature") == 0) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            return;
        }
}

// Signs `element` (its ID registered in `doc`) with the "ec" key, ECDSA-SHA256, after its Issuer.
bool sign_ecdsa(const TestKeys& keys, xmlDoc* doc, xmlNode* element) {
    XmlCharPtr id(xmlGetProp(element, BAD_CAST "ID"));
    xmlAddID(nullptr, doc, id.get(), xmlHasProp(element, BAD_CAST "ID"));
    xmlNode* sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId, xmlSecTransformEcdsaSha256Id,
                                                   nullptr, BAD_CAST "ds");
    xmlAddNextSibling(first(element->children, "Issuer"), sig);
    const std::string uri = "#" + std::string(reinterpret_cast<const char*>(id.get()));
    xmlNode* ref =
        xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, nullptr, BAD_CAST uri.c_str(), nullptr);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
    const std::string pem = keys.key("ec");
    std::unique_ptr<xmlSecDSigCtx, void (*)(xmlSecDSigCtxPtr)> ctx(xmlSecDSigCtxCreate(nullptr), xmlSecDSigCtxDestroy);
    ctx->signKey = xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(pem.data()),
                                                static_cast<xmlSecSize>(pem.size()), xmlSecKeyDataFormatPem, nullptr,
                                                nullptr, nullptr);
    return ctx->signKey && xmlSecDSigCtxSign(ctx.get(), sig) >= 0;
}

class ConsumeSignedResponseTest : public SignatureVerifierTest {
protected:
    // The IdP's RSA-signed answer to a fresh request of `sp`, parsed.
    static XmlDocPtr answer(ServiceProvider& sp) {
        auto request = sp.build_authn_request("r");
        auto xml = base64_decode_strict(testing::idp_answer(*keys_, sp, *request), 1 << 20);
        return XmlDocPtr(xmlReadMemory(xml->data(), static_cast<int>(xml->size()), "r.xml", nullptr, XML_PARSE_NONET));
    }
};

TEST_F(ConsumeSignedResponseTest, ContentChangedAfterSigningIsNamedAsSuch) {
    auto sp = ServiceProvider::create(testing::sp_settings(*keys_));
    ASSERT_TRUE(sp);
    for (bool response_signed : {true, false}) {
        XmlDocPtr doc = answer(*sp.value());
        xmlNode* root = xmlDocGetRootElement(doc.get());
        if (!response_signed) remove_signature(root);
        xmlNode* attribute_free = first(root->children, "AuthnStatement");
        ASSERT_NE(attribute_free, nullptr);
        xmlSetProp(attribute_free, BAD_CAST "SessionIndex", BAD_CAST "changed-after-signing");
        auto result = sp.value()->consume_response(serialise_base64(doc.get()), std::time(nullptr));
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().reason, std::string("digest of the signed ") +
                                             (response_signed ? "Response" : "Assertion") +
                                             " does not match: the content was changed after signing");
    }
}

TEST_F(ConsumeSignedResponseTest, AcceptsAnEcdsaSha256SignedAssertion) {
    SpSettings settings = testing::sp_settings(*keys_);
    settings.idp_metadata_xml = testing::idp_metadata(keys_->cert("ec"));
    auto sp = ServiceProvider::create(settings);
    ASSERT_TRUE(sp) << sp.error().reason;
    for (const char* signed_element : {"Assertion", "Response"}) {
        XmlDocPtr doc = answer(*sp.value());
        xmlNode* root = xmlDocGetRootElement(doc.get());
        xmlNode* assertion = assertion_of(root);
        remove_signature(root);
        remove_signature(assertion);
        ASSERT_TRUE(sign_ecdsa(*keys_, doc.get(), std::string(signed_element) == "Assertion" ? assertion : root));
        auto result = sp.value()->consume_response(serialise_base64(doc.get()), std::time(nullptr));
        ASSERT_TRUE(result) << signed_element << ": " << result.error().reason;
        EXPECT_FALSE(result->name_id.empty());

        // the same, changed after signing
        xmlNodeSetContent(first(assertion, "NameID"), BAD_CAST "mallory@example.org");
        result = sp.value()->consume_response(serialise_base64(doc.get()), std::time(nullptr));
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().reason, "digest of the signed " + std::string(signed_element) +
                                             " does not match: the content was changed after signing");
    }
}

TEST_F(ConsumeSignedResponseTest, RefusesAnEcdsaSignatureByAnotherKey) {
    auto sp = ServiceProvider::create(testing::sp_settings(*keys_));  // the metadata has the RSA key
    ASSERT_TRUE(sp);
    XmlDocPtr doc = answer(*sp.value());
    xmlNode* root = xmlDocGetRootElement(doc.get());
    remove_signature(root);
    remove_signature(assertion_of(root));
    ASSERT_TRUE(sign_ecdsa(*keys_, doc.get(), assertion_of(root)));
    auto result = sp.value()->consume_response(serialise_base64(doc.get()), std::time(nullptr));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().reason, "signature does not verify with the IdP metadata certificate");
}

TEST(SigningCertificates, TakesSigningKeyDescriptorsOnly) {
    const std::string md =
        R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="x">)"
        R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
        R"(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
        R"(<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>BBBB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
        R"(<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>CCCC</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
        R"(</md:IDPSSODescriptor></md:EntityDescriptor>)";
    EXPECT_EQ(signing_certificates(md), (std::vector<std::string>{"AAAA", "CCCC"}));
}

}  // namespace
}  // namespace sso
