#include <gtest/gtest.h>

#include <set>
#include <string>

#include "session/login_request.hpp"

namespace sso {
namespace {

constexpr std::string_view kSecret = "-----BEGIN PRIVATE KEY-----\nnot really a key, but secret bytes\n";
constexpr std::string_view kSp = "https://sp.example/sso/metadata";
constexpr std::string_view kIdp = "https://idp.example/metadata";
constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::int64_t kLifetime = 300;
constexpr std::int64_t kSkew = 60;

LoginRequestToken issue(LoginRequestKey& key, std::string_view return_to = "/app/?a=1") {
    auto t = key.issue(kIdp, return_to, kNow);
    EXPECT_TRUE(t.has_value());
    return t.value_or(LoginRequestToken{});
}

TEST(LoginRequest, VerifiesWhatItIssuedAndGivesBackTheReturnAddress) {
    LoginRequestKey key(kSecret, kSp);
    ASSERT_TRUE(key.valid());
    const LoginRequestToken t = issue(key);
    EXPECT_EQ(t.request_id.front(), '_');
    EXPECT_EQ(t.request_id.find_first_not_of("_-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
              std::string::npos);
    const auto v = key.verify(t.request_id, kIdp, t.relay_state, kNow + 10, kLifetime, kSkew);
    EXPECT_EQ(v.status, LoginRequestCheck::ok);
    EXPECT_EQ(v.issued, kNow);
    EXPECT_EQ(v.return_to, "/app/?a=1");
}

TEST(LoginRequest, IdsAreUniqueAndCarryNoState) {
    LoginRequestKey key(kSecret, kSp);
    std::set<std::string> ids, relays;
    for (int i = 0; i < 200; ++i) {
        const LoginRequestToken t = issue(key, "/");
        ids.insert(t.request_id);
        relays.insert(t.relay_state);
    }
    EXPECT_EQ(ids.size(), 200u);
    EXPECT_EQ(relays.size(), 200u);
}

TEST(LoginRequest, AnotherKeyOrAnotherSpDoesNotVerify) {
    LoginRequestKey key(kSecret, kSp);
    const LoginRequestToken t = issue(key);
    LoginRequestKey other_secret("another secret", kSp);
    LoginRequestKey other_sp(kSecret, "https://other-sp.example/metadata");
    EXPECT_EQ(other_secret.verify(t.request_id, kIdp, t.relay_state, kNow, kLifetime, kSkew).status,
              LoginRequestCheck::forged);
    EXPECT_EQ(other_sp.verify(t.request_id, kIdp, t.relay_state, kNow, kLifetime, kSkew).status,
              LoginRequestCheck::forged);
    // the same secret on another node (another instance) verifies
    LoginRequestKey same(kSecret, kSp);
    EXPECT_EQ(same.verify(t.request_id, kIdp, t.relay_state, kNow, kLifetime, kSkew).status, LoginRequestCheck::ok);
}

TEST(LoginRequest, AnswerFromAnotherIdpIsRefused) {
    LoginRequestKey key(kSecret, kSp);
    const LoginRequestToken t = issue(key);
    EXPECT_EQ(
        key.verify(t.request_id, "https://partner.example/metadata", t.relay_state, kNow, kLifetime, kSkew).status,
        LoginRequestCheck::forged);
}

TEST(LoginRequest, TamperedIdOrRelayStateIsRefused) {
    LoginRequestKey key(kSecret, kSp);
    const LoginRequestToken t = issue(key);
    // every character of the ID, changed
    for (std::size_t i = 1; i < t.request_id.size(); ++i) {
        std::string id = t.request_id;
        id[i] = id[i] == 'A' ? 'B' : 'A';
        const auto s = key.verify(id, kIdp, t.relay_state, kNow, kLifetime, kSkew).status;
        EXPECT_NE(s, LoginRequestCheck::ok) << i;
    }
    // the return address altered, the nonce altered, the RelayState of another login
    std::string relay = t.relay_state;
    relay.back() = '2';
    EXPECT_EQ(key.verify(t.request_id, kIdp, relay, kNow, kLifetime, kSkew).status, LoginRequestCheck::forged);
    relay = t.relay_state;
    relay[0] = relay[0] == 'A' ? 'B' : 'A';
    EXPECT_EQ(key.verify(t.request_id, kIdp, relay, kNow, kLifetime, kSkew).status, LoginRequestCheck::relay_mismatch);
    const LoginRequestToken other = issue(key);
    EXPECT_EQ(key.verify(t.request_id, kIdp, other.relay_state, kNow, kLifetime, kSkew).status,
              LoginRequestCheck::relay_mismatch);
    EXPECT_EQ(key.verify(t.request_id, kIdp, "", kNow, kLifetime, kSkew).status, LoginRequestCheck::relay_mismatch);
}

TEST(LoginRequest, MalformedIdsAreNotOurs) {
    LoginRequestKey key(kSecret, kSp);
    const LoginRequestToken t = issue(key);
    for (std::string id : {std::string("_bogus"), std::string(), t.request_id.substr(1), t.request_id + "A",
                           "x" + t.request_id.substr(1), t.request_id.substr(0, t.request_id.size() - 1) + "!"}) {
        EXPECT_EQ(key.verify(id, kIdp, t.relay_state, kNow, kLifetime, kSkew).status, LoginRequestCheck::malformed)
            << id;
    }
}

TEST(LoginRequest, LifetimeIsBoundedBothWays) {
    LoginRequestKey key(kSecret, kSp);
    const LoginRequestToken t = issue(key);
    auto at = [&](std::int64_t now) { return key.verify(t.request_id, kIdp, t.relay_state, now, kLifetime, kSkew); };
    EXPECT_EQ(at(kNow + kLifetime + kSkew - 1).status, LoginRequestCheck::ok);
    EXPECT_EQ(at(kNow + kLifetime + kSkew).status, LoginRequestCheck::expired);
    EXPECT_EQ(at(kNow + kLifetime + kSkew).issued, kNow);
    EXPECT_EQ(at(kNow - kSkew).status, LoginRequestCheck::ok);
    EXPECT_EQ(at(kNow - kSkew - 1).status, LoginRequestCheck::from_future);
}

TEST(LoginRequest, EmptySecretIsNoKey) {
    LoginRequestKey key("", kSp);
    EXPECT_FALSE(key.valid());
    EXPECT_FALSE(key.issue(kIdp, "/", kNow).has_value());
}

}  // namespace
}  // namespace sso
