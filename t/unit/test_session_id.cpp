#include "session/session_id.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace sso {
namespace {

std::string encode(std::string_view bytes) {
    std::string out(base64url_length(bytes.size()), '?');
    base64url_encode_into(
        std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()), out.data());
    return out;
}

TEST(Base64Url, Rfc4648VectorsWithoutPadding) {
    struct Case {
        std::string_view in, out;
    };
    const Case cases[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(encode(c.in), c.out) << c.in;
    }
}

TEST(Base64Url, UsesUrlSafeAlphabet) {
    // Standard base64 of fb ff bf is "+/+/"; base64url must use '-' and '_'.
    EXPECT_EQ(encode("\xfb\xff\xbf"), "-_-_");
    EXPECT_EQ(encode("\xff"), "_w");
    EXPECT_EQ(encode("\xfb\xf0"), "-_A");
}

TEST(Base64Url, LengthFormula) {
    EXPECT_EQ(base64url_length(0), 0u);
    EXPECT_EQ(base64url_length(1), 2u);
    EXPECT_EQ(base64url_length(2), 3u);
    EXPECT_EQ(base64url_length(3), 4u);
    EXPECT_EQ(base64url_length(16), 22u);
    EXPECT_EQ(base64url_length(32), 43u);
    EXPECT_EQ(base64url_length(kSessionIdBytes), kSessionIdChars);
}

TEST(SessionId, HasExpectedShape) {
    const auto id = new_session_id();
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->size(), kSessionIdChars);
    EXPECT_TRUE(is_well_formed_session_id(*id));
}

TEST(SessionId, AreUniqueAndCoverAlphabet) {
    std::set<std::string> seen;
    std::set<char> chars;
    for (int i = 0; i < 2000; ++i) {
        const auto id = new_session_id();
        ASSERT_TRUE(id.has_value());
        ASSERT_TRUE(is_well_formed_session_id(*id)) << *id;
        EXPECT_TRUE(seen.insert(*id).second) << "duplicate id " << *id;
        chars.insert(id->begin(), id->end());
    }
    // 2000 * 43 characters: all 64 symbols appear with overwhelming probability.
    EXPECT_EQ(chars.size(), 64u);
    EXPECT_TRUE(chars.count('-'));
    EXPECT_TRUE(chars.count('_'));
}

TEST(RandomToken, LengthsFollowEncoding) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{16}, std::size_t{32},
                          std::size_t{33}, kMaxRandomTokenBytes}) {
        const auto t = new_random_token(n);
        ASSERT_TRUE(t.has_value()) << n;
        EXPECT_EQ(t->size(), base64url_length(n)) << n;
        for (char c : *t) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
        }
    }
}

TEST(RandomToken, RefusesZeroAndOversized) {
    EXPECT_FALSE(new_random_token(0).has_value());
    EXPECT_FALSE(new_random_token(kMaxRandomTokenBytes + 1).has_value());
    EXPECT_FALSE(new_random_token(static_cast<std::size_t>(-1)).has_value());
}

TEST(RandomToken, DifferEachCall) {
    const auto a = new_random_token(16);
    const auto b = new_random_token(16);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
}

TEST(SessionIdShape, Table) {
    const std::string good(43, 'A');
    struct Case {
        std::string id;
        bool ok;
    };
    const std::vector<Case> cases = {
        {good, true},
        {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_Q", true},
        {std::string(43, '-'), true},
        {std::string(43, '_'), true},
        {"", false},
        {std::string(42, 'A'), false},
        {std::string(44, 'A'), false},
        {std::string(42, 'A') + "=", false},  // padding
        {std::string(42, 'A') + "+", false},  // standard base64
        {std::string(42, 'A') + "/", false},
        {std::string(42, 'A') + ".", false},
        {std::string(42, 'A') + " ", false},
        {" " + std::string(42, 'A'), false},
        {std::string(21, 'A') + std::string(1, '\0') + std::string(21, 'A'), false},
        {std::string(42, 'A') + "\xc3", false},
        {std::string(42, 'A') + ";", false},
        {std::string(42, 'A') + "\n", false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_well_formed_session_id(c.id), c.ok) << '"' << c.id << '"';
    }
}

}  // namespace
}  // namespace sso
