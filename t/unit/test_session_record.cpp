#include "session/session_record.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace sso {
namespace {

SessionRecord sample() {
    SessionRecord r;
    r.scope = "https://sp.example.org/saml";
    r.user = "alice";
    r.email = "alice@example.org";
    r.display_name = "Alice Zo\xc3\xab";
    r.groups = {"staff", "admins", ""};
    r.attributes = {
        {"urn:oid:0.9.2342.19200300.100.1.3", {"alice@example.org"}},
        {"mail", {"alice@example.org"}},
        {"eduPersonAffiliation", {"member", "staff", "employee"}},
        {"empty", {}},
    };
    r.auth_method = "saml";
    r.idp = "https://idp.example.org/idp";
    r.name_id = "AAdzZWNyZXQx";
    r.name_id_format = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    r.session_index = "_abc123";
    r.source = "corp-directory";
    r.name_qualifier = "https://idp.example.org/idp";
    r.sp_name_qualifier = "https://sp.example.org/saml";
    r.created = 1700000000;
    r.last_seen = 1700000100;
    r.expires = 1700028800;
    return r;
}

// Hand-built encodings for hostile-input tests.
class Bytes {
public:
    Bytes& raw(std::string_view s) {
        out_.append(s);
        return *this;
    }
    Bytes& u8(std::uint8_t v) {
        out_.push_back(static_cast<char>(v));
        return *this;
    }
    Bytes& u16(std::uint16_t v) { return u8(static_cast<std::uint8_t>(v >> 8)).u8(static_cast<std::uint8_t>(v)); }
    Bytes& u32(std::uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) u8(static_cast<std::uint8_t>(v >> s));
        return *this;
    }
    Bytes& i64(std::int64_t v) {
        for (int s = 56; s >= 0; s -= 8) u8(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> s));
        return *this;
    }
    Bytes& str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        return raw(s);
    }
    Bytes& header(std::uint8_t version = 3) { return raw("SSOR").u8(version); }
    Bytes& four_strings() { return str("scope").str("user").str("email").str("name"); }
    Bytes& tail() {
        return str("saml")
            .str("idp")
            .str("nid")
            .str("fmt")
            .str("idx")
            .str("src")
            .str("nq")
            .str("spnq")
            .i64(1)
            .i64(2)
            .i64(3);
    }
    Bytes& tail_v2() { return str("saml").str("idp").str("nid").str("fmt").str("idx").str("src").i64(1).i64(2).i64(3); }
    Bytes& tail_v1() { return str("saml").str("idp").str("nid").str("fmt").str("idx").i64(1).i64(2).i64(3); }
    const std::string& get() const { return out_; }

private:
    std::string out_;
};

TEST(SessionRecord, RoundTrip) {
    const SessionRecord r = sample();
    const std::string bytes = encode_session(r);
    ASSERT_FALSE(bytes.empty());
    const auto back = decode_session(bytes);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

TEST(SessionRecord, EmptyRecordRoundTrip) {
    const SessionRecord r;
    const std::string bytes = encode_session(r);
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes.substr(0, 5), std::string("SSOR\x03", 5));
    const auto back = decode_session(bytes);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

TEST(SessionRecord, BinaryAndExtremeValuesRoundTrip) {
    SessionRecord r = sample();
    r.user = std::string("a\0b\xff\r\n", 6);
    r.groups = {std::string(1, '\0'), "\xff\xfe"};
    r.created = std::numeric_limits<std::int64_t>::min();
    r.last_seen = -1;
    r.expires = std::numeric_limits<std::int64_t>::max();
    const auto back = decode_session(encode_session(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

TEST(SessionRecord, MatchesHandBuiltLayout) {
    SessionRecord r;
    r.scope = "scope";
    r.user = "user";
    r.email = "email";
    r.display_name = "name";
    r.groups = {"g1"};
    r.attributes = {{"a", {"v1", "v2"}}};
    r.auth_method = "saml";
    r.idp = "idp";
    r.name_id = "nid";
    r.name_id_format = "fmt";
    r.session_index = "idx";
    r.source = "src";
    r.name_qualifier = "nq";
    r.sp_name_qualifier = "spnq";
    r.created = 1;
    r.last_seen = 2;
    r.expires = 3;
    const std::string expected =
        Bytes().header().four_strings().u16(1).str("g1").u16(1).str("a").u16(2).str("v1").str("v2").tail().get();
    EXPECT_EQ(encode_session(r), expected);
    const auto back = decode_session(expected);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
}

// Sessions written before `source` existed (version 1) still read, with no source; a version-1
// layout that carries a source, or a version from the future, does not.
TEST(SessionRecord, VersionOneStillReads) {
    const std::string v1 = Bytes().header(1).four_strings().u16(0).u16(0).tail_v1().get();
    const auto back = decode_session(v1);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->session_index, "idx");
    EXPECT_EQ(back->source, "");
    EXPECT_EQ(back->expires, 3);
    ASSERT_TRUE(view_session(v1).has_value());
    EXPECT_FALSE(decode_session(Bytes().header(1).four_strings().u16(0).u16(0).tail_v2().get()).has_value());
    EXPECT_FALSE(decode_session(Bytes().header(4).four_strings().u16(0).u16(0).tail().get()).has_value());
    EXPECT_FALSE(decode_session(Bytes().header(0).four_strings().u16(0).u16(0).tail_v1().get()).has_value());
}

// Sessions written before the NameID qualifiers were kept (version 2) still read, without them;
// a version-2 layout that carries them does not.
TEST(SessionRecord, VersionTwoStillReadsWithoutQualifiers) {
    const std::string v2 = Bytes().header(2).four_strings().u16(0).u16(0).tail_v2().get();
    const auto back = decode_session(v2);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->source, "src");
    EXPECT_EQ(back->name_qualifier, "");
    EXPECT_EQ(back->sp_name_qualifier, "");
    EXPECT_EQ(back->expires, 3);
    auto view = view_session(v2);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->session_index, "idx");
    EXPECT_FALSE(decode_session(Bytes().header(2).four_strings().u16(0).u16(0).tail().get()).has_value());
    EXPECT_FALSE(decode_session(Bytes().header(3).four_strings().u16(0).u16(0).tail_v2().get()).has_value());
}

TEST(SessionRecord, EveryTruncationIsRefused) {
    const std::string bytes = encode_session(sample());
    ASSERT_FALSE(bytes.empty());
    for (std::size_t len = 0; len < bytes.size(); ++len) {
        EXPECT_FALSE(decode_session(std::string_view(bytes).substr(0, len)).has_value()) << len;
    }
    // Also with the truncated copy in its own allocation, so ASan sees any over-read.
    for (std::size_t len = 0; len < bytes.size(); ++len) {
        const std::string copy = bytes.substr(0, len);
        EXPECT_FALSE(decode_session(copy).has_value()) << len;
    }
}

TEST(SessionRecord, FlippedBytesNeverCrashAndStayCanonical) {
    const std::string bytes = encode_session(sample());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (unsigned mask : {0x01u, 0x02u, 0x10u, 0x80u, 0xFFu}) {
            std::string mutated = bytes;
            mutated[i] = static_cast<char>(static_cast<unsigned char>(mutated[i]) ^ mask);
            const auto r = decode_session(mutated);
            // Strictness means anything accepted re-encodes to the same bytes.
            if (r) {
                EXPECT_EQ(encode_session(*r), mutated) << "byte " << i << " mask " << mask;
            }
        }
    }
}

TEST(SessionRecord, RandomGarbageAfterHeaderNeverCrashes) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 3000; ++round) {
        std::string bytes("SSOR\x03", 5);
        const std::size_t n = rng() % 200;
        for (std::size_t i = 0; i < n; ++i) {
            // Bias towards small numbers so lengths and counts are sometimes plausible.
            const unsigned v = rng();
            bytes.push_back(static_cast<char>((v & 0x100) ? (v & 0x07) : (v & 0xFF)));
        }
        const auto r = decode_session(bytes);
        if (r) {
            EXPECT_EQ(encode_session(*r), bytes);
        }
    }
}

TEST(SessionRecord, TrailingBytesRefused) {
    const std::string bytes = encode_session(sample());
    EXPECT_FALSE(decode_session(bytes + std::string(1, '\0')).has_value());
    EXPECT_FALSE(decode_session(bytes + "x").has_value());
    EXPECT_FALSE(decode_session(bytes + bytes).has_value());
}

TEST(SessionRecord, WrongMagicOrVersionRefused) {
    const std::string bytes = encode_session(sample());
    for (std::size_t i = 0; i < 4; ++i) {
        std::string m = bytes;
        m[i] = static_cast<char>(m[i] ^ 0x20);
        EXPECT_FALSE(decode_session(m).has_value()) << i;
    }
    for (int v : {0, 4, 0x7F, 0xFF}) {
        std::string m = bytes;
        m[4] = static_cast<char>(v);
        EXPECT_FALSE(decode_session(m).has_value()) << v;
    }
    EXPECT_FALSE(decode_session("").has_value());
    EXPECT_FALSE(decode_session("SSOR").has_value());
    EXPECT_FALSE(decode_session(std::string("SSOR\x01", 5)).has_value());
}

TEST(SessionRecord, AbsurdLengthsAndCountsRefused) {
    // String length far beyond the input.
    EXPECT_FALSE(decode_session(Bytes().header().u32(0xFFFFFFFFu).get()).has_value());
    EXPECT_FALSE(decode_session(Bytes().header().u32(0x7FFFFFFFu).raw("abc").get()).has_value());
    // Group count above the cap, even with plausible-looking content.
    {
        Bytes b;
        b.header().four_strings().u16(0xFFFF);
        for (int i = 0; i < 300; ++i) b.str("g");
        b.u16(0).tail();
        EXPECT_FALSE(decode_session(b.get()).has_value());
    }
    // Count within the cap but impossible to satisfy from what remains.
    EXPECT_FALSE(decode_session(Bytes().header().four_strings().u16(200).str("g").get()).has_value());
    // Attribute value count far too large.
    EXPECT_FALSE(
        decode_session(Bytes().header().four_strings().u16(0).u16(1).str("a").u16(0xFFFF).tail().get()).has_value());
}

TEST(SessionRecord, GroupCap) {
    SessionRecord r = sample();
    r.groups.assign(kMaxSessionGroups, "g");
    const std::string ok = encode_session(r);
    ASSERT_FALSE(ok.empty());
    ASSERT_TRUE(decode_session(ok).has_value());
    EXPECT_EQ(decode_session(ok)->groups.size(), kMaxSessionGroups);

    r.groups.push_back("g");
    EXPECT_TRUE(encode_session(r).empty());

    Bytes b;
    b.header().four_strings().u16(static_cast<std::uint16_t>(kMaxSessionGroups + 1));
    for (std::size_t i = 0; i <= kMaxSessionGroups; ++i) b.str("g");
    b.u16(0).tail();
    EXPECT_FALSE(decode_session(b.get()).has_value());

    // The same layout at exactly the cap is accepted (proves the builder is right).
    Bytes at;
    at.header().four_strings().u16(static_cast<std::uint16_t>(kMaxSessionGroups));
    for (std::size_t i = 0; i < kMaxSessionGroups; ++i) at.str("g");
    at.u16(0).tail();
    EXPECT_TRUE(decode_session(at.get()).has_value());
}

TEST(SessionRecord, AttributeCap) {
    SessionRecord r = sample();
    r.attributes.assign(kMaxSessionAttributes, Attribute{"n", {"v"}});
    ASSERT_TRUE(decode_session(encode_session(r)).has_value());
    r.attributes.push_back(Attribute{"n", {"v"}});
    EXPECT_TRUE(encode_session(r).empty());

    Bytes b;
    b.header().four_strings().u16(0).u16(static_cast<std::uint16_t>(kMaxSessionAttributes + 1));
    for (std::size_t i = 0; i <= kMaxSessionAttributes; ++i) b.str("n").u16(0);
    b.tail();
    EXPECT_FALSE(decode_session(b.get()).has_value());
}

TEST(SessionRecord, ValueCap) {
    SessionRecord r = sample();
    r.attributes = {Attribute{"n", std::vector<std::string>(kMaxAttributeValues, "v")}};
    ASSERT_TRUE(decode_session(encode_session(r)).has_value());
    r.attributes[0].values.push_back("v");
    EXPECT_TRUE(encode_session(r).empty());

    Bytes b;
    b.header().four_strings().u16(0).u16(1).str("n").u16(static_cast<std::uint16_t>(kMaxAttributeValues + 1));
    for (std::size_t i = 0; i <= kMaxAttributeValues; ++i) b.str("v");
    b.tail();
    EXPECT_FALSE(decode_session(b.get()).has_value());
}

TEST(SessionRecord, TotalSizeCap) {
    SessionRecord r;
    const std::size_t base = encode_session(r).size();
    r.display_name.assign(kMaxSessionBytes - base, 'x');
    const std::string at_cap = encode_session(r);
    ASSERT_EQ(at_cap.size(), kMaxSessionBytes);
    EXPECT_TRUE(decode_session(at_cap).has_value());

    r.display_name.push_back('x');
    EXPECT_TRUE(encode_session(r).empty());

    // A hand-built, otherwise well-formed encoding one byte over the cap.
    std::string big = Bytes()
                          .header()
                          .str("")
                          .str("")
                          .str("")
                          .str(std::string(kMaxSessionBytes - base + 1, 'x'))
                          .u16(0)
                          .u16(0)
                          .str("")
                          .str("")
                          .str("")
                          .str("")
                          .str("")
                          .str("")  // source
                          .str("")  // name_qualifier
                          .str("")  // sp_name_qualifier
                          .i64(0)
                          .i64(0)
                          .i64(0)
                          .get();
    ASSERT_EQ(big.size(), kMaxSessionBytes + 1);
    EXPECT_FALSE(decode_session(big).has_value());
}

TEST(SessionRecord, FindAttribute) {
    const SessionRecord r = sample();
    const Attribute* mail = find_attribute(r, "mail");
    ASSERT_NE(mail, nullptr);
    EXPECT_EQ(mail->values, std::vector<std::string>{"alice@example.org"});
    const Attribute* oid = find_attribute(r, "urn:oid:0.9.2342.19200300.100.1.3");
    ASSERT_NE(oid, nullptr);
    EXPECT_EQ(oid, &r.attributes[0]);
    EXPECT_EQ(find_attribute(r, "Mail"), nullptr);  // case-sensitive
    EXPECT_EQ(find_attribute(r, "mai"), nullptr);
    EXPECT_EQ(find_attribute(r, ""), nullptr);
    EXPECT_EQ(find_attribute(SessionRecord{}, "mail"), nullptr);

    SessionRecord dup = r;
    dup.attributes.push_back({"mail", {"second@example.org"}});
    EXPECT_EQ(find_attribute(dup, "mail")->values[0], "alice@example.org");  // first wins
}

}  // namespace
}  // namespace sso
