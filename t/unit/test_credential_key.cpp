#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <string>

#include "session/credential_key.hpp"

namespace sso {
namespace {

constexpr std::array<unsigned char, 32> kSecret = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

std::string reference(std::string_view msg) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), kSecret.data(), kSecret.size(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
         mac, &len);
    std::string hex = "basic:";
    for (unsigned i = 0; i < len; ++i) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", mac[i]);
        hex += b;
    }
    return hex;
}

TEST(CredentialKey, IsHmacSha256OfTheJoinedPartsAndStaysSoWhenReused) {
    CredentialKey key(kSecret);
    ASSERT_TRUE(key.valid());
    using namespace std::string_literals;
    // the same context, reset between calls, gives what a fresh one-shot HMAC gives
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(key.derive("corp", "alice", "alice-pw"), reference("corp\0alice\0alice-pw"s));
        EXPECT_EQ(key.derive("corp", "", ""), reference("corp\0\0"s));
    }
}

TEST(CredentialKey, EveryPartAndItsBoundaryCounts) {
    CredentialKey key(kSecret);
    const std::string k = key.derive("corp", "alice", "pw");
    EXPECT_EQ(k.size(), 6u + 64u);
    EXPECT_NE(k, key.derive("corp", "alice", "pw2"));
    EXPECT_NE(k, key.derive("corp", "alicep", "w"));  // the separator keeps "alice"+"pw" apart
    EXPECT_NE(k, key.derive("other", "alice", "pw"));
    const std::array<unsigned char, 32> other{};
    EXPECT_NE(k, CredentialKey(other).derive("corp", "alice", "pw"));
}

}  // namespace
}  // namespace sso
