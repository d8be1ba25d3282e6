// Encrypted assertions end to end in the SP core: a Lasso IdP in this process encrypts the
// assertion to the certificate the SP metadata publishes (use="encryption"); the SP decrypts
// it with the SP key or with a separate encryption key, and refuses what it must.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>

#include "saml/base64.hpp"
#include "saml/service_provider.hpp"
#include "t/support/lasso_idp.hpp"

namespace sso {
namespace {

using testing::AnswerOptions;
using testing::TestKeys;

class EncryptedAssertionTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { keys_ = new TestKeys(); }
    static void TearDownTestSuite() {
        delete keys_;
        keys_ = nullptr;
    }
    static SpSettings settings() { return testing::sp_settings(*keys_); }
    static SpSettings with_encryption_pair(const char* who) {
        SpSettings s = settings();
        s.encryption_key_pem = keys_->key(who);
        s.encryption_cert_pem = keys_->cert(who);
        return s;
    }
    static std::unique_ptr<ServiceProvider> make(const SpSettings& s) {
        auto sp = ServiceProvider::create(s);
        EXPECT_TRUE(sp) << sp.error().reason;
        return sp ? std::move(sp.value()) : nullptr;
    }
    // The IdP's answer to a fresh AuthnRequest of `sp`, and the request.
    static std::pair<std::string, AuthnRequestMessage> answer(ServiceProvider& sp, AnswerOptions options) {
        auto request = sp.build_authn_request("r");
        EXPECT_TRUE(request);
        std::string response = testing::idp_answer(*keys_, sp, request.value(), options);
        EXPECT_FALSE(response.empty());
        return {response, request.value()};
    }
    static AnswerOptions encrypted() {
        AnswerOptions o;
        o.encrypt = true;
        o.typical_attributes = true;
        return o;
    }
    static std::string xml_of(const std::string& b64) { return *base64_decode_strict(b64, 1 << 20); }

    static TestKeys* keys_;
};
TestKeys* EncryptedAssertionTest::keys_ = nullptr;

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
}

TEST_F(EncryptedAssertionTest, MetadataPublishesSigningAndEncryptionKeys) {
    auto sp = make(settings());
    const std::string& md = sp->metadata_xml();
    const std::string sp_cert = testing::pem_body(keys_->cert("sp"));
    EXPECT_NE(md.find(R"(<md:KeyDescriptor use="signing">)"), std::string::npos) << md;
    EXPECT_NE(md.find(R"(<md:KeyDescriptor use="encryption">)"), std::string::npos) << md;
    EXPECT_EQ(count(md, sp_cert), 2u) << "by default the SP certificate is the encryption certificate";
    EXPECT_NE(md.find(R"(Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm")"), std::string::npos);
    EXPECT_NE(md.find(R"(Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc")"), std::string::npos);
    EXPECT_NE(md.find(R"(Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p")"), std::string::npos);
    EXPECT_EQ(md.find("rsa-1_5"), std::string::npos);
    EXPECT_EQ(md.find("tripledes"), std::string::npos);

    SpSettings s = with_encryption_pair("other");
    s.allow_rsa1_5 = true;
    auto separate = make(s);
    const std::string& md2 = separate->metadata_xml();
    EXPECT_EQ(count(md2, sp_cert), 1u);
    const auto enc = md2.find(R"(use="encryption")");
    ASSERT_NE(enc, std::string::npos);
    EXPECT_GT(md2.find(testing::pem_body(keys_->cert("other"))), enc);
    EXPECT_NE(md2.find(R"(Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5")"), std::string::npos);
    // the metadata alone (no IdP yet) says the same
    auto alone = ServiceProvider::sp_metadata(s);
    ASSERT_TRUE(alone);
    EXPECT_EQ(alone.value(), md2);
}

TEST_F(EncryptedAssertionTest, DecryptsWithTheSpKeyByDefault) {
    auto sp = make(settings());
    auto [response, request] = answer(*sp, encrypted());
    const std::string xml = xml_of(response);
    ASSERT_NE(xml.find("EncryptedAssertion"), std::string::npos);
    ASSERT_EQ(xml.find("alice@example.org"), std::string::npos) << "the plaintext must not show";
    auto result = sp->consume_response(response, std::time(nullptr));
    ASSERT_TRUE(result) << result.error().reason;
    EXPECT_EQ(result->in_response_to, request.request_id);
    EXPECT_FALSE(result->name_id.empty());
    ASSERT_EQ(result->attributes.size(), 3u);
    EXPECT_EQ(result->attributes[0].values, std::vector<std::string>{"alice@example.org"});
}

TEST_F(EncryptedAssertionTest, DecryptsWithASeparateEncryptionKey) {
    SpSettings s = with_encryption_pair("other");
    s.want_assertions_signed = true;  // the Lasso IdP signs the assertion inside the ciphertext
    auto sp = make(s);
    auto [response, request] = answer(*sp, encrypted());
    auto result = sp->consume_response(response, std::time(nullptr));
    ASSERT_TRUE(result) << result.error().reason;
    EXPECT_EQ(result->in_response_to, request.request_id);
}

TEST_F(EncryptedAssertionTest, RefusesAnAssertionEncryptedForAnotherKey) {
    auto sp = make(settings());
    // The IdP encrypts to the certificate another configuration publishes.
    auto elsewhere = make(with_encryption_pair("other"));
    AnswerOptions o = encrypted();
    o.encrypt_for = elsewhere->metadata_xml();
    auto [response, request] = answer(*sp, o);
    auto result = sp->consume_response(response, std::time(nullptr));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, SamlError::invalid_response);
    EXPECT_EQ(result.error().reason, "cannot decrypt the EncryptedKey with the SP encryption key");
}

TEST_F(EncryptedAssertionTest, RefusesTamperedCiphertext) {
    auto sp = make(settings());
    auto [response, request] = answer(*sp, encrypted());
    std::string xml = xml_of(response);
    // The last CipherValue is the EncryptedData's: change one block in its middle.
    const auto value = xml.rfind("<CipherValue>");
    ASSERT_NE(value, std::string::npos);
    const auto at = value + 13 + 40;
    xml[at] = xml[at] == 'A' ? 'B' : 'A';
    auto result = sp->consume_response(base64_encode(xml), std::time(nullptr));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, SamlError::invalid_response);
    EXPECT_TRUE(result.error().reason.starts_with("cannot decrypt the EncryptedData") ||
                result.error().reason.starts_with("decrypted "))
        << result.error().reason;
}

TEST_F(EncryptedAssertionTest, RequireEncryptedRefusesPlaintext) {
    SpSettings s = settings();
    s.require_encrypted_assertions = true;
    auto sp = make(s);
    auto [plain, r1] = answer(*sp, AnswerOptions{});
    auto refused = sp->consume_response(plain, std::time(nullptr));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().reason, "the assertion is not encrypted (sso_require_encrypted_assertions is on)");
    auto [enc, r2] = answer(*sp, encrypted());
    auto accepted = sp->consume_response(enc, std::time(nullptr));
    EXPECT_TRUE(accepted) << accepted.error().reason;
}

TEST_F(EncryptedAssertionTest, Rsa1_5KeyTransportOnlyWhenAllowed) {
    AnswerOptions o = encrypted();
    o.rsa1_5 = true;
    auto sp = make(settings());
    auto [response, request] = answer(*sp, o);
    ASSERT_NE(xml_of(response).find("#rsa-1_5"), std::string::npos);
    auto refused = sp->consume_response(response, std::time(nullptr));
    ASSERT_FALSE(refused);
    EXPECT_EQ(
        refused.error().reason,
        "key transport algorithm not allowed: http://www.w3.org/2001/04/xmlenc#rsa-1_5 (sso_allow_rsa1_5 is off)");

    SpSettings s = settings();
    s.allow_rsa1_5 = true;
    auto lenient = make(s);
    auto [r2, q2] = answer(*lenient, o);
    auto accepted = lenient->consume_response(r2, std::time(nullptr));
    EXPECT_TRUE(accepted) << accepted.error().reason;
}

TEST_F(EncryptedAssertionTest, ChecksStillApplyToTheDecryptedAssertion) {
    auto sp = make(settings());
    auto [response, request] = answer(*sp, encrypted());
    const std::int64_t now = std::time(nullptr);
    auto late = sp->consume_response(response, now + 3600);
    ASSERT_FALSE(late);
    EXPECT_NE(late.error().reason.find("has expired"), std::string::npos) << late.error().reason;
    // another SP (another entityID and ACS) must not accept it, even with the same keys
    SpSettings other = settings();
    other.entity_id = "https://other.example/sso/metadata";
    other.acs_url = "https://other.example/sso/acs";
    auto sp2 = make(other);
    auto wrong = sp2->consume_response(response, now);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, SamlError::invalid_response);
}

TEST_F(EncryptedAssertionTest, EncryptionKeyConfigurationErrorsNameTheDirective) {
    SpSettings s = settings();
    s.encryption_key_pem = keys_->key("other");
    auto half = ServiceProvider::create(s);
    ASSERT_FALSE(half);
    EXPECT_EQ(half.error().subject, "encryption_certificate");
    EXPECT_EQ(half.error().reason, "the encryption key and certificate go together: set both or neither");

    s = settings();
    s.encryption_cert_pem = keys_->cert("other");
    EXPECT_EQ(ServiceProvider::create(s).error().subject, "encryption_key");

    s = with_encryption_pair("other");
    s.encryption_cert_pem = keys_->cert("idp");
    auto mismatch = ServiceProvider::create(s);
    ASSERT_FALSE(mismatch);
    EXPECT_EQ(mismatch.error().subject, "encryption_key");
    EXPECT_EQ(mismatch.error().reason, "private key does not match the certificate");

    s = with_encryption_pair("other");
    s.encryption_cert_pem = "junk";
    EXPECT_EQ(ServiceProvider::create(s).error().subject, "encryption_certificate");
}

}  // namespace
}  // namespace sso
