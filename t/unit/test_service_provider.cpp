// The SP without nginx: built from real keys, answering a Response that a Lasso IdP (in this
// process) signs for the AuthnRequest the SP issued.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>

#include "saml/service_provider.hpp"
#include "t/support/lasso_idp.hpp"

namespace sso {
namespace {

using testing::AnswerOptions;
using testing::TestKeys;

class ServiceProviderTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { keys_ = new TestKeys(); }
    static void TearDownTestSuite() {
        delete keys_;
        keys_ = nullptr;
    }

    static std::string file(const char* name) {
        const std::string n(name);
        const std::string who = n.substr(0, n.find('.'));
        return n.ends_with(".key") ? keys_->key(who) : keys_->cert(who);
    }
    static std::string idp_metadata() { return testing::idp_metadata(keys_->cert("idp")); }
    static SpSettings settings() { return testing::sp_settings(*keys_); }
    static std::string idp_answer(ServiceProvider& sp, const AuthnRequestMessage& request, const char* signer = "idp",
                                  bool typical_attributes = false) {
        AnswerOptions options;
        options.signer = signer;
        options.typical_attributes = typical_attributes;
        return testing::idp_answer(*keys_, sp, request, options);
    }
    static std::string pem_body(const std::string& pem) { return testing::pem_body(pem); }

    static TestKeys* keys_;
};
TestKeys* ServiceProviderTest::keys_ = nullptr;

TEST_F(ServiceProviderTest, MetadataNamesIssuerReturnUrlAndCertificate) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp) << sp.error().reason;
    const std::string& md = sp.value()->metadata_xml();
    EXPECT_NE(md.find(R"(entityID="https://sp.example/sso/metadata")"), std::string::npos);
    EXPECT_NE(md.find(R"(Location="https://sp.example/sso/acs")"), std::string::npos);
    EXPECT_NE(md.find(pem_body(file("sp.crt"))), std::string::npos);
    EXPECT_EQ(sp.value()->idp_entity_id(), "https://idp.example/md");
}

TEST_F(ServiceProviderTest, AuthnRequestIsSignedWithRsaSha256) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("relay-1");
    ASSERT_TRUE(request);
    EXPECT_EQ(request->redirect_url.rfind("https://idp.example/sso?SAMLRequest=", 0), 0u);
    EXPECT_NE(request->redirect_url.find("RelayState=relay-1"), std::string::npos);
    EXPECT_NE(request->redirect_url.find("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"),
              std::string::npos);
    EXPECT_NE(request->redirect_url.find("&Signature="), std::string::npos);
    EXPECT_FALSE(request->request_id.empty());
    EXPECT_NE(sp.value()->build_authn_request("relay-2")->request_id, request->request_id);
}

TEST_F(ServiceProviderTest, AcceptsTheIdPsSignedAnswer) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("r");
    ASSERT_TRUE(request);
    const std::string answer = idp_answer(*sp.value(), request.value());
    auto result = sp.value()->consume_response(answer, std::time(nullptr));
    ASSERT_TRUE(result) << result.error().reason;
    EXPECT_EQ(result->in_response_to, request->request_id);
    EXPECT_EQ(result->idp, "https://idp.example/md");
    EXPECT_FALSE(result->name_id.empty());
    EXPECT_FALSE(result->assertion_id.empty());
    EXPECT_GT(result->not_on_or_after, std::time(nullptr));
}

TEST_F(ServiceProviderTest, AnAggregateOfManyIdpsUsesEachOnesOwnCertificate) {
    // (25 IdPs: each costs Lasso ~20 ms to load, and far more under ASan's slow unwinding.)
    // 24 IdPs whose certificate is "other", and the real IdP in the middle of them: an answer
    // from the real IdP verifies with its own certificate only, never with its neighbours'.
    const std::string real = idp_metadata();
    const std::string entity = real.substr(0, real.find("xmlns:md=")) + real.substr(real.find("entityID="));
    std::string aggregate = R"(<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" )"
                            R"(xmlns:ds="http://www.w3.org/2000/09/xmldsig#">)";
    const std::string decoy = testing::idp_metadata(keys_->cert("other"));
    for (int i = 0; i < 25; ++i) {
        if (i == 12) {
            aggregate += entity;
            continue;
        }
        std::string d = decoy.substr(0, decoy.find("xmlns:md=")) + decoy.substr(decoy.find("entityID="));
        const std::string id = testing::kIdpEntityId;
        d.replace(d.find(id), id.size(), "https://idp" + std::to_string(i) + ".example/md");
        aggregate += d;
    }
    aggregate += "</md:EntitiesDescriptor>";
    SpSettings s = settings();
    s.idp_metadata_xml = aggregate;
    auto sp = ServiceProvider::create(s);
    ASSERT_TRUE(sp) << sp.error().reason;
    ASSERT_EQ(sp.value()->idps().size(), 25u);
    EXPECT_TRUE(sp.value()->knows_idp("https://idp24.example/md"));
    auto request = sp.value()->build_authn_request("r", testing::kIdpEntityId);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->idp, testing::kIdpEntityId);
    auto good = sp.value()->consume_response(idp_answer(*sp.value(), request.value()), std::time(nullptr));
    ASSERT_TRUE(good) << good.error().reason;
    EXPECT_EQ(good->idp, testing::kIdpEntityId);
    auto bad = sp.value()->consume_response(idp_answer(*sp.value(), request.value(), "other"), std::time(nullptr));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().reason.find("signature does not verify"), std::string::npos) << bad.error().reason;
}

TEST_F(ServiceProviderTest, ReadsTheAttributesAsTheIdPSentThem) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("r");
    auto result =
        sp.value()->consume_response(idp_answer(*sp.value(), request.value(), "idp", true), std::time(nullptr));
    ASSERT_TRUE(result) << result.error().reason;
    ASSERT_EQ(result->attributes.size(), 3u);
    EXPECT_EQ(result->attributes[0].name, "mail");
    EXPECT_EQ(result->attributes[0].values, std::vector<std::string>{"alice@example.org"});
    EXPECT_EQ(result->attributes[2].values,
              (std::vector<std::string>{"staff", "print-operators", "scan", "finance", "all-employees"}));
}

TEST_F(ServiceProviderTest, RefusesAnAnswerSignedByAnotherKey) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("r");
    const std::string answer = idp_answer(*sp.value(), request.value(), "other");
    auto result = sp.value()->consume_response(answer, std::time(nullptr));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, SamlError::invalid_response);
    EXPECT_EQ(result.error().reason, "signature does not verify with the IdP metadata certificate");
}

TEST_F(ServiceProviderTest, RefusesANameIdOfWhiteSpace) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    AnswerOptions options;
    for (const char* blank : {"   ", " \t\n "}) {
        options.name_id = blank;
        auto request = sp.value()->build_authn_request("r");
        auto result = sp.value()->consume_response(testing::idp_answer(*keys_, *sp.value(), *request, options),
                                                   std::time(nullptr));
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().reason, "assertion NameID is only white space");
    }
    options.name_id = " alice ";  // not blank: taken as sent
    auto request = sp.value()->build_authn_request("r");
    auto result =
        sp.value()->consume_response(testing::idp_answer(*keys_, *sp.value(), *request, options), std::time(nullptr));
    ASSERT_TRUE(result) << result.error().reason;
    EXPECT_EQ(result->name_id, " alice ");
}

TEST_F(ServiceProviderTest, TimeConditionsUseTheClockSkew) {
    SpSettings s = settings();
    s.clock_skew = 30;
    auto sp = ServiceProvider::create(s);
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("r");
    const std::string answer = idp_answer(*sp.value(), request.value());
    const std::int64_t now = std::time(nullptr);
    // NotOnOrAfter is now+300: still fine 320 s later (within the skew), expired 400 s later.
    EXPECT_TRUE(sp.value()->consume_response(answer, now + 320));
    auto late = sp.value()->consume_response(answer, now + 400);
    ASSERT_FALSE(late);
    EXPECT_NE(late.error().reason.find("has expired"), std::string::npos) << late.error().reason;
    // NotBefore is now-60: 100 s earlier is beyond the skew.
    auto early = sp.value()->consume_response(answer, now - 100);
    ASSERT_FALSE(early);
    EXPECT_NE(early.error().reason.find("not yet valid"), std::string::npos) << early.error().reason;
}

TEST_F(ServiceProviderTest, RefusesMalformedInputWithABadRequest) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    for (const char* bad : {"", "!!!!", "PHg+"}) {
        auto r = sp.value()->consume_response(bad, std::time(nullptr));
        ASSERT_FALSE(r) << bad;
    }
    EXPECT_EQ(sp.value()->consume_response("!!!!", 0).error().code, SamlError::bad_request);
}

TEST_F(ServiceProviderTest, ConfigurationErrorsNameTheInput) {
    SpSettings s = settings();
    s.key_pem = file("other.key");
    auto mismatch = ServiceProvider::create(s);
    ASSERT_FALSE(mismatch);
    EXPECT_EQ(mismatch.error().subject, "key");
    EXPECT_EQ(mismatch.error().reason, "private key does not match the certificate");

    s = settings();
    s.cert_pem = "not a certificate";
    EXPECT_EQ(ServiceProvider::create(s).error().subject, "certificate");

    for (const char* md : {"<x", "<EntityDescriptor/>", "<!DOCTYPE x><x/>",
                           R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>)"}) {
        s = settings();
        s.idp_metadata_xml = md;
        auto r = ServiceProvider::create(s);
        ASSERT_FALSE(r) << md;
        EXPECT_EQ(r.error().subject, "idp_metadata") << md;
        EXPECT_EQ(r.error().code, SamlError::config);
    }
}

}  // namespace
}  // namespace sso
