#include "identity/header_value.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sso {
namespace {

// Reference decoder for the round-trip property.
std::string percent_decode(std::string_view s) {
    auto hex = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

TEST(HeaderValue, Table) {
    struct Case {
        std::string raw, encoded;
    };
    const std::vector<Case> cases = {
        {"", ""},
        {"alice", "alice"},
        {"alice@example.org", "alice@example.org"},
        {"Alice Smith", "Alice Smith"},  // space is kept
        {"a;b,c\"d\\e", "a;b,c\"d\\e"},  // printable ASCII kept
        {"100%", "100%25"},
        {"%41", "%2541"},                                    // '%' always escaped
        {"Zo\xc3\xab", "Zo%C3%AB"},                          // UTF-8 "Zoë"
        {"\xe5\xb1\xb1\xe7\x94\xb0", "%E5%B1%B1%E7%94%B0"},  // "山田"
        {"a\r\nX-Evil: 1", "a%0D%0AX-Evil: 1"},              // CRLF injection
        {"a\nb", "a%0Ab"},
        {"a\rb", "a%0Db"},
        {std::string("a\0b", 3), "a%00b"},
        {"\t", "%09"},
        {"\x7f", "%7F"},
        {"\xff", "%FF"},
        {"~ ", "~ "},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(encode_header_value(c.raw), c.encoded) << c.raw;
        EXPECT_EQ(encoded_header_value_length(c.raw), c.encoded.size()) << c.raw;
    }
}

TEST(HeaderValue, EveryByteIsSafeAndRoundTrips) {
    std::string all;
    for (int c = 0; c < 256; ++c) {
        all.push_back(static_cast<char>(c));
    }
    const std::string enc = encode_header_value(all);
    for (const char ch : enc) {
        const auto c = static_cast<unsigned char>(ch);
        EXPECT_TRUE(c >= 0x20 && c <= 0x7E) << int{c};
    }
    EXPECT_EQ(enc.find('\r'), std::string::npos);
    EXPECT_EQ(enc.find('\n'), std::string::npos);
    EXPECT_EQ(percent_decode(enc), all);
    // 0x20..0x7E except '%' stay as one byte; the other 162 bytes take three.
    EXPECT_EQ(enc.size(), 94u + 162u * 3u);
}

TEST(HeaderValue, IntoWritesExactlyTheLength) {
    const std::string raw = "Zo\xc3\xab\r\n%x";
    const std::size_t n = encoded_header_value_length(raw);
    std::string buf(n + 8, '#');
    encode_header_value_into(raw, buf.data() + 4);
    EXPECT_EQ(buf.substr(0, 4), "####");
    EXPECT_EQ(buf.substr(4 + n), "####");
    EXPECT_EQ(buf.substr(4, n), encode_header_value(raw));
    EXPECT_EQ(buf.substr(4, n), "Zo%C3%AB%0D%0A%25x");
}

TEST(HeaderValue, IdentityHeaderNames) {
    struct Case {
        std::string name;
        bool identity;
    };
    const std::vector<Case> cases = {
        {"X-SSO-User", true},
        {"x-sso-user", true},
        {"x_sso_user", true},
        {"X-Sso_User", true},
        {"X_SSO-Email", true},
        {"x-sso-", true},
        {"X-SSO-", true},
        {"x_sso_", true},
        {"X-SSO", false},
        {"X-SSOUser", false},
        {"X-SSO.User", false},
        {"X-SS0-User", false},
        {"XSSO-User", false},
        {"X--SSO-User", false},
        {" X-SSO-User", false},
        {"Y-SSO-User", false},
        {"X-Forwarded-User", false},
        {"", false},
        {"x", false},
        {"x-sso", false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(is_identity_header_name(c.name), c.identity) << c.name;
    }
}

TEST(HeaderValue, DecodeIsTheExactInverse) {
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    EXPECT_EQ(decode_header_value(encode_header_value(all)), all);
    EXPECT_EQ(decode_header_value("Zo%C3%AB%0D%0AX-Evil: 1"), "Zo\xc3\xab\r\nX-Evil: 1");
    EXPECT_EQ(decode_header_value("%2541"), "%41");  // decoded once, not twice
    // Never written by the encoder, kept as they are rather than guessed at.
    EXPECT_EQ(decode_header_value("100%"), "100%");
    EXPECT_EQ(decode_header_value("%4"), "%4");
    EXPECT_EQ(decode_header_value("%G1x"), "%G1x");
    EXPECT_EQ(decode_header_value("%e2%82%ac"), "\xe2\x82\xac");
}

TEST(HeaderValue, HeaderNameMatchesInAnyCaseAndSpelling) {
    EXPECT_TRUE(is_header_name("X-SSO-JWT", "X-SSO-JWT"));
    EXPECT_TRUE(is_header_name("x-sso-jwt", "X-SSO-JWT"));
    EXPECT_TRUE(is_header_name("X_Sso_Jwt", "X-SSO-JWT"));
    EXPECT_TRUE(is_header_name("x-identity-token", "X_Identity_Token"));
    EXPECT_FALSE(is_header_name("X-SSO-JWT2", "X-SSO-JWT"));
    EXPECT_FALSE(is_header_name("X-SSO-JW", "X-SSO-JWT"));
    EXPECT_FALSE(is_header_name("X.SSO.JWT", "X-SSO-JWT"));
    EXPECT_FALSE(is_header_name(" X-SSO-JWT", "X-SSO-JWT"));
    EXPECT_FALSE(is_header_name("", "X-SSO-JWT"));
}

}  // namespace
}  // namespace sso
