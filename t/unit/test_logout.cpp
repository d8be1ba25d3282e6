// Single Logout messages without nginx: our LogoutRequests and LogoutResponses are checked by
// a Lasso IdP in this process, and LogoutRequests that IdP signs (or not, or with another key)
// go through our checks.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>

#include "saml/base64.hpp"
#include "saml/handles.hpp"
#include "saml/logout.hpp"
#include "saml/saml_time.hpp"
#include "saml/service_provider.hpp"
#include "t/support/lasso_idp.hpp"

namespace sso {
namespace {

using testing::TestKeys;

constexpr const char* kSlo = "https://sp.example/sso/slo";

// The IdP's side verifies with Lasso's own calls, which lose the decoded query signature
// (259 bytes) per verification: t/lsan.supp names these two functions. The SP side verifies
// query signatures itself (saml/logout.cpp) and does not take that path.
// (A local copy is destroyed after the call, so it cannot become a tail call that drops the
// frame the suppression names.)
[[gnu::noinline]] int idp_side_process_request(LassoLogout* logout, const std::string& message) {
    std::string copy = message;
    return lasso_logout_process_request_msg(logout, copy.data());
}
[[gnu::noinline]] int idp_side_process_response(LassoLogout* logout, const std::string& message) {
    std::string copy = message;
    return lasso_logout_process_response_msg(logout, copy.data());
}

std::string with_slo(std::string metadata, const char* binding) {
    const std::string slo = std::string(R"(<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:)") +
                            binding + R"(" Location="https://idp.example/slo"/>)";
    metadata.insert(metadata.find("<md:SingleSignOnService"), slo);
    return metadata;
}

class LogoutTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { keys_ = new TestKeys(); }
    static void TearDownTestSuite() {
        delete keys_;
        keys_ = nullptr;
    }

    std::unique_ptr<ServiceProvider> sp(const char* binding = "HTTP-Redirect") {
        SpSettings s = testing::sp_settings(*keys_);
        if (binding) s.idp_metadata_xml = with_slo(s.idp_metadata_xml, binding);
        auto created = ServiceProvider::create(s);
        EXPECT_TRUE(created) << created.error().reason;
        return created ? std::move(*created) : nullptr;
    }

    // The IdP's side: a LassoServer with its key (or another's) and our SP metadata.
    GObjectPtr<LassoServer> idp(ServiceProvider& provider, const char* signer = "idp") {
        GObjectPtr<LassoServer> server(
            lasso_server_new_from_buffers(with_slo(testing::idp_metadata(keys_->cert("idp")), "HTTP-Redirect").c_str(),
                                          keys_->key(signer).c_str(), nullptr, keys_->cert(signer).c_str()));
        server->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
        EXPECT_EQ(lasso_server_add_provider_from_buffer(server.get(), LASSO_PROVIDER_ROLE_SP,
                                                        provider.metadata_xml().c_str(), nullptr, nullptr),
                  0);
        return server;
    }

    // A LogoutRequest as an IdP sends it over HTTP-Redirect: the query, signed with `signer`'s
    // key unless null.
    std::string idp_request(const char* signer, std::int64_t issued, const char* destination = kSlo,
                            const char* session_index = "_s1") {
        GObjectPtr<LassoSamlp2LogoutRequest> request(LASSO_SAMLP2_LOGOUT_REQUEST(lasso_samlp2_logout_request_new()));
        auto* a = LASSO_SAMLP2_REQUEST_ABSTRACT(request.get());
        a->ID = g_strdup("_idp_request_1");
        a->Version = g_strdup("2.0");
        a->IssueInstant = g_strdup(format_saml_time(issued).c_str());
        a->Destination = g_strdup(destination);
        a->Issuer = LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>(testing::kIdpEntityId)));
        request->NameID =
            LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>("alice@example.org")));
        if (session_index) request->SessionIndex = g_strdup(session_index);
        GObjectPtr<LassoKey> key;
        if (signer) {
            const std::string pem = keys_->key(signer);
            key.reset(lasso_key_new_for_signature_from_memory(pem.data(), pem.size(), nullptr,
                                                              LASSO_SIGNATURE_METHOD_RSA_SHA256, nullptr));
        }
        GCharPtr url(lasso_node_export_to_saml2_query(LASSO_NODE(request.get()), "SAMLRequest", kSlo, key.get()));
        const std::string u = url ? url.get() : "";
        return u.substr(u.find('?') + 1);
    }

    // The same request as an IdP sends it over HTTP-POST: XML with an enveloped signature
    // (right after the Issuer) by `signer`, or none.
    std::string idp_post_request(const char* signer, const char* name_id, const char* id) {
        GObjectPtr<LassoSamlp2LogoutRequest> request(LASSO_SAMLP2_LOGOUT_REQUEST(lasso_samlp2_logout_request_new()));
        auto* a = LASSO_SAMLP2_REQUEST_ABSTRACT(request.get());
        a->ID = g_strdup(id);
        a->Version = g_strdup("2.0");
        a->IssueInstant = g_strdup(format_saml_time(std::time(nullptr)).c_str());
        a->Destination = g_strdup(kSlo);
        a->Issuer = LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>(testing::kIdpEntityId)));
        request->NameID = LASSO_SAML2_NAME_ID(lasso_saml2_name_id_new_with_string(const_cast<char*>(name_id)));
        request->SessionIndex = g_strdup("_s1");
        XmlDocPtr doc(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
        xmlNode* root = lasso_node_get_xmlNode(LASSO_NODE(request.get()), FALSE);
        xmlDocSetRootElement(doc.get(), root);
        if (signer) {
            const std::string pem = keys_->key(signer);
            GObjectPtr<LassoKey> key(lasso_key_new_for_signature_from_memory(
                pem.data(), pem.size(), nullptr, LASSO_SIGNATURE_METHOD_RSA_SHA256, nullptr));
            EXPECT_TRUE(lasso_key_saml2_xml_sign(key.get(), id, root));
            xmlNode* signature = xmlGetLastChild(root);
            xmlUnlinkNode(signature);
            xmlAddNextSibling(xmlFirstElementChild(root), signature);
        }
        xmlChar* buf = nullptr;
        int size = 0;
        xmlDocDumpMemoryEnc(doc.get(), &buf, &size, "UTF-8");
        XmlCharPtr owned(buf);
        return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
    }

    static TestKeys* keys_;
};
TestKeys* LogoutTest::keys_ = nullptr;

TEST(SloUrl, ReplacesTheLastSegmentOfTheAcsUrl) {
    EXPECT_EQ(slo_url_for("https://sp.example/sso/acs"), "https://sp.example/sso/slo");
    EXPECT_EQ(slo_url_for("https://sp.example/acs"), "https://sp.example/slo");
}

TEST(SloIndexKey, NamesEveryFieldUnambiguously) {
    const std::string k = slo_index_key("scope", "idp", "alice", "_s1");
    EXPECT_EQ(k, slo_index_key("scope", "idp", "alice", "_s1"));
    EXPECT_EQ(k.rfind("slo:", 0), 0u);
    EXPECT_EQ(k.size(), 4u + 64u);
    EXPECT_NE(k, slo_index_key("scope", "idp", "alice", "_s2"));
    EXPECT_NE(k, slo_index_key("other", "idp", "alice", "_s1"));
    EXPECT_NE(slo_index_key("s", "ab", "c", ""), slo_index_key("s", "a", "bc", ""));
}

TEST(SloSubjectKey, OneKeyPerNameIdOfAnIdPAndNeverAnIndexKey) {
    const std::string k = slo_subject_key("scope", "idp", "alice");
    EXPECT_EQ(k, slo_subject_key("scope", "idp", "alice"));
    EXPECT_EQ(k.rfind("sub:", 0), 0u);
    EXPECT_EQ(k.size(), 4u + 64u);
    EXPECT_NE(k, slo_subject_key("scope", "idp", "bob"));
    EXPECT_NE(k, slo_subject_key("scope", "other-idp", "alice"));
    EXPECT_NE(k, slo_subject_key("other", "idp", "alice"));
    EXPECT_NE(slo_subject_key("s", "ab", "c"), slo_subject_key("s", "a", "bc"));
    EXPECT_NE(k.substr(4), slo_index_key("scope", "idp", "alice", "").substr(4));
}

TEST(LogoutStatusFor, SuccessUnknownPrincipalOrRequestDenied) {
    auto is = [](LogoutOutcome o, std::string_view status, std::string_view second) {
        const LogoutStatus s = logout_status_for(o);
        return s.status == status && s.second == second;
    };
    EXPECT_TRUE(is(LogoutOutcome::ended, "urn:oasis:names:tc:SAML:2.0:status:Success", ""));
    EXPECT_TRUE(is(LogoutOutcome::no_session, "urn:oasis:names:tc:SAML:2.0:status:Responder",
                   "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"));
    EXPECT_TRUE(is(LogoutOutcome::refused, "urn:oasis:names:tc:SAML:2.0:status:Requester",
                   "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"));
}

TEST_F(LogoutTest, SpMetadataPublishesSloForBothBindings) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    const std::string& md = provider->metadata_xml();
    EXPECT_NE(
        md.find(
            R"(Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/sso/slo")"),
        std::string::npos);
    EXPECT_NE(
        md.find(R"(Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/sso/slo")"),
        std::string::npos);
}

TEST_F(LogoutTest, NoSloWithoutTheIdPsEndpoint) {
    auto provider = sp(nullptr);
    ASSERT_TRUE(provider);
    EXPECT_FALSE(provider->logout(testing::kIdpEntityId)->idp_has_slo());
    EXPECT_FALSE(
        provider->logout(testing::kIdpEntityId)->build_request({"alice", "", "_s1", "", ""}, std::time(nullptr)));
}

TEST_F(LogoutTest, OurLogoutRequestVerifiesAtTheIdP) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    auto message = provider->logout(testing::kIdpEntityId)
                       ->build_request({"alice@example.org", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                                        "_s1", "", ""},
                                       std::time(nullptr));
    ASSERT_TRUE(message) << message.error().reason;
    EXPECT_EQ(message->binding, SloBinding::redirect);
    EXPECT_EQ(message->url.rfind("https://idp.example/slo?SAMLRequest=", 0), 0u);
    auto server = idp(*provider);
    GObjectPtr<LassoLogout> logout(lasso_logout_new(server.get()));
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(logout.get()), LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    std::string query = message->url.substr(message->url.find('?') + 1);
    ASSERT_EQ(idp_side_process_request(logout.get(), query), 0);
    auto* request = LASSO_SAMLP2_LOGOUT_REQUEST(LASSO_PROFILE(logout.get())->request);
    EXPECT_STREQ(request->NameID->content, "alice@example.org");
    EXPECT_STREQ(request->NameID->Format, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
    // the assertion had no qualifiers, so none are made up
    EXPECT_EQ(request->NameID->NameQualifier, nullptr);
    EXPECT_EQ(request->NameID->SPNameQualifier, nullptr);
    EXPECT_STREQ(request->SessionIndex, "_s1");
    EXPECT_STREQ(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->ID, message->id.c_str());
    EXPECT_STREQ(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->Destination, "https://idp.example/slo");
}

// SAML core 3.7.1: the IdP matches the NameID by value, Format, NameQualifier and
// SPNameQualifier; ours repeats them exactly as the assertion had them.
TEST_F(LogoutTest, OurLogoutRequestNamesTheNameIdWithItsQualifiers) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    auto message = provider->logout(testing::kIdpEntityId)
                       ->build_request({"AAdzZWNyZXQx", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "_s1",
                                        "https://idp.example/qualifier", "https://sp.example/affiliation"},
                                       std::time(nullptr));
    ASSERT_TRUE(message) << message.error().reason;
    auto server = idp(*provider);
    GObjectPtr<LassoLogout> logout(lasso_logout_new(server.get()));
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(logout.get()), LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    ASSERT_EQ(idp_side_process_request(logout.get(), message->url.substr(message->url.find('?') + 1)), 0);
    auto* nid = LASSO_SAMLP2_LOGOUT_REQUEST(LASSO_PROFILE(logout.get())->request)->NameID;
    EXPECT_STREQ(nid->content, "AAdzZWNyZXQx");
    EXPECT_STREQ(nid->Format, "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    EXPECT_STREQ(nid->NameQualifier, "https://idp.example/qualifier");
    EXPECT_STREQ(nid->SPNameQualifier, "https://sp.example/affiliation");
}

// Before any check, a message is read only for whom it comes from and what it answers.
TEST_F(LogoutTest, PeekReadsIssuerAndIdsOfUnverifiedMessages) {
    const std::int64_t now = std::time(nullptr);
    auto request = peek_logout_message(SloBinding::redirect, idp_request(nullptr, now), true, 256 * 1024);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->issuer, testing::kIdpEntityId);
    EXPECT_EQ(request->id, "_idp_request_1");
    auto post = peek_logout_message(
        SloBinding::post, base64_encode(idp_post_request(nullptr, "alice@example.org", "_unsigned")), true, 256 * 1024);
    ASSERT_TRUE(post);
    EXPECT_EQ(post->id, "_unsigned");
    EXPECT_FALSE(peek_logout_message(SloBinding::redirect, "SAMLRequest=not-deflate", true, 256 * 1024));
    EXPECT_FALSE(peek_logout_message(SloBinding::post, base64_encode("<!DOCTYPE x><x/>"), true, 256 * 1024));
}

TEST_F(LogoutTest, PostBindingCarriesAnXmlSignatureAfterTheIssuer) {
    auto provider = sp("HTTP-POST");
    ASSERT_TRUE(provider);
    auto message = provider->logout(testing::kIdpEntityId)
                       ->build_request({"alice@example.org", "", "_s1", "", ""}, std::time(nullptr));
    ASSERT_TRUE(message) << message.error().reason;
    EXPECT_EQ(message->binding, SloBinding::post);
    EXPECT_EQ(message->url, "https://idp.example/slo");
    EXPECT_EQ(message->field, "SAMLRequest");
    auto server = idp(*provider);
    GObjectPtr<LassoLogout> logout(lasso_logout_new(server.get()));
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(logout.get()), LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    EXPECT_EQ(idp_side_process_request(logout.get(), message->value), 0);
}

TEST_F(LogoutTest, AcceptsTheIdPsSignedLogoutRequest) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    const std::int64_t now = std::time(nullptr);
    auto request = provider->logout(testing::kIdpEntityId)
                       ->parse_request(SloBinding::redirect, idp_request("idp", now), "rs", now);
    ASSERT_TRUE(request) << request.error().reason;
    EXPECT_EQ(request->id, "_idp_request_1");
    EXPECT_EQ(request->name_id, "alice@example.org");
    EXPECT_EQ(request->session_index, "_s1");
    EXPECT_EQ(request->relay_state, "rs");
    EXPECT_GT(request->expires, now);
}

TEST_F(LogoutTest, RefusesUnsignedForeignStaleAndMisdirectedRequests) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    auto& slo = *provider->logout(testing::kIdpEntityId);
    const std::int64_t now = std::time(nullptr);
    auto reason = [&](const std::string& query) {
        auto r = slo.parse_request(SloBinding::redirect, query, "", now);
        return r ? std::string("accepted") : r.error().reason;
    };
    EXPECT_EQ(reason(idp_request(nullptr, now)), "message is not signed");
    EXPECT_EQ(reason(idp_request("other", now)), "signature does not verify with the IdP metadata certificate");
    EXPECT_NE(reason(idp_request("idp", now - 3600)).find("is too old"), std::string::npos);
    EXPECT_NE(reason(idp_request("idp", now + 3600)).find("is in the future"), std::string::npos);
    EXPECT_NE(reason(idp_request("idp", now, "https://elsewhere.example/slo")).find("is not our SLO URL"),
              std::string::npos);
    // a tampered query no longer matches its signature
    std::string query = idp_request("idp", now);
    query.replace(query.find("SAMLRequest=") + 14, 1, query[query.find("SAMLRequest=") + 14] == 'A' ? "B" : "A");
    EXPECT_NE(reason(query), "accepted");
}

TEST_F(LogoutTest, PostLogoutRequestsNeedTheIdPsSignatureOnTheRoot) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    auto& slo = *provider->logout(testing::kIdpEntityId);
    const std::int64_t now = std::time(nullptr);
    auto parse = [&](const std::string& xml) {
        return slo.parse_request(SloBinding::post, base64_encode(xml), "", now);
    };
    auto good = parse(idp_post_request("idp", "bob@example.org", "_signed"));
    ASSERT_TRUE(good) << good.error().reason;
    EXPECT_EQ(good->name_id, "bob@example.org");
    auto unsigned_request = parse(idp_post_request(nullptr, "alice@example.org", "_unsigned"));
    ASSERT_FALSE(unsigned_request);
    EXPECT_EQ(unsigned_request.error().reason, "message is not signed");
    EXPECT_FALSE(parse(idp_post_request("other", "alice@example.org", "_rogue")));
    // Signature wrapping: the IdP's signed request for bob tucked into an unsigned one for alice.
    const std::string inner = idp_post_request("idp", "bob@example.org", "_inner");
    std::string outer = idp_post_request(nullptr, "alice@example.org", "_outer");
    const std::string signed_element = inner.substr(inner.find("<samlp:LogoutRequest"));
    outer.insert(outer.find("<saml:NameID"), "<samlp:Extensions>" + signed_element + "</samlp:Extensions>");
    auto wrapped = parse(outer);
    ASSERT_FALSE(wrapped);
    EXPECT_EQ(wrapped.error().reason, "message is not signed");
}

TEST_F(LogoutTest, OurLogoutResponseNamesTheRequestAndItsStatus) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    auto response =
        provider->logout(testing::kIdpEntityId)
            ->build_response("_idp_request_1", "urn:oasis:names:tc:SAML:2.0:status:Responder",
                             "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal", "rs", std::time(nullptr));
    ASSERT_TRUE(response) << response.error().reason;
    EXPECT_EQ(response->url.rfind("https://idp.example/slo?SAMLResponse=", 0), 0u);
    EXPECT_NE(response->url.find("&RelayState=rs&SigAlg="), std::string::npos);
    auto server = idp(*provider);
    GObjectPtr<LassoLogout> logout(lasso_logout_new(server.get()));
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(logout.get()), LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    std::string query = response->url.substr(response->url.find('?') + 1);
    // Lasso reports the non-success status, after verifying the signature and parsing.
    EXPECT_EQ(idp_side_process_response(logout.get(), query), LASSO_LOGOUT_ERROR_UNKNOWN_PRINCIPAL);
    auto* sr = LASSO_SAMLP2_STATUS_RESPONSE(LASSO_PROFILE(logout.get())->response);
    ASSERT_TRUE(sr);
    EXPECT_STREQ(sr->InResponseTo, "_idp_request_1");
}

// An unverifiable LogoutRequest is still answered, signed, with Requester/RequestDenied.
TEST_F(LogoutTest, OurRefusalIsASignedRequestDenied) {
    auto provider = sp();
    ASSERT_TRUE(provider);
    const LogoutStatus refused = logout_status_for(LogoutOutcome::refused);
    auto response = provider->logout(testing::kIdpEntityId)
                        ->build_response("_unsigned_1", refused.status, refused.second, "", std::time(nullptr));
    ASSERT_TRUE(response) << response.error().reason;
    auto server = idp(*provider);
    GObjectPtr<LassoLogout> logout(lasso_logout_new(server.get()));
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(logout.get()), LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    EXPECT_EQ(idp_side_process_response(logout.get(), response->url.substr(response->url.find('?') + 1)),
              LASSO_PROFILE_ERROR_REQUEST_DENIED);
    auto* sr = LASSO_SAMLP2_STATUS_RESPONSE(LASSO_PROFILE(logout.get())->response);
    ASSERT_TRUE(sr && sr->Status && sr->Status->StatusCode && sr->Status->StatusCode->StatusCode);
    EXPECT_STREQ(sr->Status->StatusCode->Value, "urn:oasis:names:tc:SAML:2.0:status:Requester");
    EXPECT_STREQ(sr->Status->StatusCode->StatusCode->Value, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied");
    EXPECT_STREQ(sr->InResponseTo, "_unsigned_1");
}

}  // namespace
}  // namespace sso
