// The SP without nginx: built from real keys, answering a Response that a Lasso IdP (in this
// process) signs for the AuthnRequest the SP issued.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "saml/handles.hpp"
#include "saml/saml_time.hpp"
#include "saml/service_provider.hpp"

namespace sso {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string pem_body(const std::string& pem) {
    std::string out;
    std::istringstream in(pem);
    for (std::string line; std::getline(in, line);)
        if (line.find("-----") == std::string::npos) out += line;
    return out;
}

class ServiceProviderTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new fs::path(fs::temp_directory_path() / ("sso-sp-test-" + std::to_string(::getpid())));
        fs::create_directories(*dir_);
        for (const char* who : {"sp", "idp", "other"}) {
            const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + std::string(who) +
                                    " -keyout " + (*dir_ / (std::string(who) + ".key")).string() + " -out " +
                                    (*dir_ / (std::string(who) + ".crt")).string() + " 2>/dev/null";
            ASSERT_EQ(std::system(cmd.c_str()), 0);
        }
    }
    static void TearDownTestSuite() {
        fs::remove_all(*dir_);
        delete dir_;
    }

    static std::string file(const char* name) { return slurp(*dir_ / name); }

    static std::string idp_metadata() {
        return R"(<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/md">)"
               R"(<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">)"
               R"(<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>)" +
               pem_body(file("idp.crt")) +
               R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>)"
               R"(<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>)"
               R"(</md:IDPSSODescriptor></md:EntityDescriptor>)";
    }

    static SpSettings settings() {
        SpSettings s;
        s.entity_id = "https://sp.example/sso/metadata";
        s.acs_url = "https://sp.example/sso/acs";
        s.key_pem = file("sp.key");
        s.cert_pem = file("sp.crt");
        s.idp_metadata_xml = idp_metadata();
        return s;
    }

    // What a Lasso IdP answers to the SP's AuthnRequest, signed with `key`.
    static std::string idp_answer(ServiceProvider& sp, const AuthnRequestMessage& request, const char* key = "idp.key",
                                  const char* cert = "idp.crt") {
        GObjectPtr<LassoServer> idp(
            lasso_server_new_from_buffers(idp_metadata().c_str(), file(key).c_str(), nullptr, file(cert).c_str()));
        EXPECT_TRUE(idp);
        idp->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
        EXPECT_EQ(lasso_server_add_provider_from_buffer(idp.get(), LASSO_PROVIDER_ROLE_SP, sp.metadata_xml().c_str(),
                                                        nullptr, nullptr),
                  0);
        GObjectPtr<LassoLogin> login(lasso_login_new(idp.get()));
        std::string query = request.redirect_url.substr(request.redirect_url.find('?') + 1);
        EXPECT_EQ(lasso_login_process_authn_request_msg(login.get(), query.data()), 0);
        EXPECT_EQ(lasso_login_validate_request_msg(login.get(), TRUE, TRUE), 0);
        const std::int64_t now = std::time(nullptr);
        const std::string instant = format_saml_time(now), before = format_saml_time(now - 60),
                          after = format_saml_time(now + 300);
        EXPECT_EQ(lasso_login_build_assertion(login.get(), LASSO_SAML2_AUTHN_CONTEXT_PASSWORD, instant.c_str(), nullptr,
                                              before.c_str(), after.c_str()),
                  0);
        EXPECT_EQ(lasso_login_build_authn_response_msg(login.get()), 0);
        return LASSO_PROFILE(login.get())->msg_body;
    }

    static fs::path* dir_;
};
fs::path* ServiceProviderTest::dir_ = nullptr;

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

TEST_F(ServiceProviderTest, RefusesAnAnswerSignedByAnotherKey) {
    auto sp = ServiceProvider::create(settings());
    ASSERT_TRUE(sp);
    auto request = sp.value()->build_authn_request("r");
    const std::string answer = idp_answer(*sp.value(), request.value(), "other.key", "other.crt");
    auto result = sp.value()->consume_response(answer, std::time(nullptr));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, SamlError::invalid_response);
    EXPECT_EQ(result.error().reason, "signature does not verify with the IdP metadata certificate");
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
