#include "session/cookie.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace sso {
namespace {

struct FindCase {
    std::string header;
    std::string name;
    std::optional<std::string> expected;
};

TEST(FindCookie, Table) {
    const std::vector<FindCase> cases = {
        {"a=1; b=2", "a", "1"},
        {"a=1; b=2", "b", "2"},
        {"a=1; b=2", "c", std::nullopt},
        {"a=1;b=2", "b", "2"},
        {"a=1; a=2", "a", "1"},  // first one wins
        {"A=1; a=2", "a", "2"},  // names are case-sensitive
        {"a=1", "A", std::nullopt},
        {"aa=1; a=2", "a", "2"},  // no prefix matching
        {"xa=1; ax=2", "a", std::nullopt},
        {"  a  =  1  ; b=2", "a", "1"},  // optional whitespace trimmed
        {"\ta\t=\t1\t", "a", "1"},
        {"a=\"quoted\"", "a", "quoted"},  // quotes removed
        {"a= \"quoted\" ", "a", "quoted"},
        {"a=\"\"", "a", ""},
        {"a=\"", "a", "\""},  // a lone quote is not a quoted value
        {"a=\"x", "a", "\"x"},
        {"a=", "a", ""},
        {"a=;b=2", "a", ""},
        {"a=b=c", "a", "b=c"},  // value may contain '='
        {"", "a", std::nullopt},
        {";;;", "a", std::nullopt},
        {"=", "a", std::nullopt},
        {"=1; a=2", "a", "2"},
        {"a", "a", std::nullopt},  // no '=': junk, skipped
        {"a; a=2", "a", "2"},
        {"junk;;  ; a=3", "a", "3"},
        {"a=1,b=2", "a", "1,b=2"},  // no comma splitting (RFC 6265)
        {"sso_session=abc; other=x", "sso_session", "abc"},
        {"other=x; sso_session=abc", "sso_session", "abc"},
        {"sso_session =abc", "sso_session", "abc"},
        {"a=1; b=2", "", std::nullopt},  // empty name never matches
        {"=1", "", std::nullopt},
        {std::string("a=x\0y; b=2", 10), "a", std::string("x\0y", 3)},
        {"a=\xff\xfe", "a", "\xff\xfe"},
        {"a=1;", "a", "1"},
        {";a=1", "a", "1"},
    };
    for (const auto& c : cases) {
        const auto got = find_cookie(c.header, c.name);
        ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.header << " / " << c.name;
        if (got) {
            EXPECT_EQ(*got, *c.expected) << c.header << " / " << c.name;
        }
    }
}

TEST(FindCookie, ResultBorrowsFromHeader) {
    const std::string header = "x=1; sso=abc";
    const auto v = find_cookie(header, "sso");
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(v->data(), header.data());
    EXPECT_LE(v->data() + v->size(), header.data() + header.size());
}

TEST(FindCookie, ToleratesEveryByte) {
    // Every single byte and pairs thereof, around a real cookie: no crash, and
    // the real cookie is still found when the junk is its own segment.
    for (int i = 0; i < 256; ++i) {
        const std::string junk(1, static_cast<char>(i));
        const std::string header = junk + "; a=1; " + junk;
        if (junk == "a") continue;
        const auto v = find_cookie(header, "a");
        ASSERT_TRUE(v.has_value()) << i;
        EXPECT_EQ(*v, "1");
        (void)find_cookie(junk, "a");
        (void)find_cookie(junk + junk, junk);
    }
}

TEST(WithoutCookies, Table) {
    const std::string_view ours[] = {"sso_session", "sso_session_csrf"};
    struct Case {
        std::string_view header;
        std::optional<std::string> expected;
    };
    const Case cases[] = {
        // none of ours: the header stays untouched, whatever its spacing
        {"a=1; b=2", std::nullopt},
        {"a=1;b=2;;  c", std::nullopt},
        {"", std::nullopt},
        {"sso_session_x=1; xsso_session=2; SSO_SESSION=3", std::nullopt},  // other names, case counts
        {"sso_session", std::nullopt},                                     // no '=': not a cookie
        // ours removed, the others in their order and bytes
        {"sso_session=abc", ""},
        {"a=1; sso_session=abc; b=\"x y\"", "a=1; b=\"x y\""},
        {"sso_session=abc; a=1", "a=1"},
        {"a=1; sso_session=abc", "a=1"},
        {"a=1;sso_session=abc;b=2", "a=1; b=2"},
        {" \ta=1 ;  sso_session = abc ;b=2 ", "a=1; b=2"},
        {"a=1; sso_session=one; sso_session=two; b=2", "a=1; b=2"},  // every copy
        {"sso_session_csrf=t; sso_session=s", ""},
        {"a=1;; sso_session=s;;b", "a=1; b"},  // empty segments dropped, junk kept
        {"a==1; sso_session=; b=2=3", "a==1; b=2=3"},
    };
    for (const Case& c : cases) {
        const auto got = without_cookies(c.header, ours);
        ASSERT_EQ(got.has_value(), c.expected.has_value()) << c.header;
        if (got) EXPECT_EQ(*got, *c.expected) << c.header;
    }
}

TEST(WithoutCookies, EmptyNamesRemoveNothing) {
    const std::string_view none[] = {""};
    EXPECT_EQ(without_cookies("a=1; =2", none), std::nullopt);
    EXPECT_EQ(without_cookies("a=1", {}), std::nullopt);
}

TEST(WithoutCookies, ToleratesEveryByte) {
    const std::string_view ours[] = {"s"};
    for (int i = 0; i < 256; ++i) {
        const std::string junk(1, static_cast<char>(i));
        if (junk == "s" || junk == ";" || junk == " " || junk == "\t") continue;
        const auto got = without_cookies(junk + "; s=1; " + junk, ours);
        ASSERT_TRUE(got.has_value()) << i;
        EXPECT_EQ(*got, junk + "; " + junk) << i;
    }
}

CookieOptions session_cookie() {
    CookieOptions o;
    o.name = "sso_session";
    return o;
}

TEST(SetCookie, DefaultsMatchDocumentedFormat) {
    EXPECT_EQ(build_set_cookie(session_cookie(), "VALUE", 28800),
              "sso_session=VALUE; Path=/; Max-Age=28800; HttpOnly; Secure; SameSite=Lax");
}

TEST(SetCookie, DomainOnlyWhenSet) {
    CookieOptions o = session_cookie();
    o.domain = "example.org";
    o.path = "/app";
    EXPECT_EQ(build_set_cookie(o, "v", 60),
              "sso_session=v; Path=/app; Domain=example.org; Max-Age=60; HttpOnly; Secure; SameSite=Lax");
}

TEST(SetCookie, OptionalAttributesOmitted) {
    CookieOptions o = session_cookie();
    o.secure = false;
    o.http_only = false;
    o.same_site = "";
    EXPECT_EQ(build_set_cookie(o, "v", 1), "sso_session=v; Path=/; Max-Age=1");
    o.same_site = "Strict";
    EXPECT_EQ(build_set_cookie(o, "v", 1), "sso_session=v; Path=/; Max-Age=1; SameSite=Strict");
    o.same_site = "None";
    o.secure = true;
    EXPECT_EQ(build_set_cookie(o, "v", 1), "sso_session=v; Path=/; Max-Age=1; Secure; SameSite=None");
    o.same_site = "strict";  // configuration spelling is normalised
    EXPECT_EQ(build_set_cookie(o, "v", 1), "sso_session=v; Path=/; Max-Age=1; Secure; SameSite=Strict");
    o.same_site = "LAX";
    EXPECT_EQ(build_clear_cookie(o),
              "sso_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Lax");
}

TEST(SetCookie, MaxAgeEdges) {
    EXPECT_EQ(build_set_cookie(session_cookie(), "v", 0),
              "sso_session=v; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    EXPECT_EQ(build_set_cookie(session_cookie(), "v", -5),
              "sso_session=v; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    EXPECT_EQ(build_set_cookie(session_cookie(), "v", std::numeric_limits<std::int64_t>::min()),
              "sso_session=v; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    EXPECT_EQ(build_set_cookie(session_cookie(), "v", std::numeric_limits<std::int64_t>::max()),
              "sso_session=v; Path=/; Max-Age=9223372036854775807; HttpOnly; Secure; SameSite=Lax");
}

TEST(SetCookie, RefusesValuesThatCouldInjectAttributes) {
    for (std::string_view bad :
         {"a;b", "a b", "a,b", "a\"b", "a\\b", "a\rb", "a\nb", "x; Domain=evil.example", "\x7f", "\xc3\xa9", "\t"}) {
        EXPECT_EQ(build_set_cookie(session_cookie(), bad, 60), "") << bad;
    }
    EXPECT_EQ(build_set_cookie(session_cookie(), std::string_view("a\0b", 3), 60), "");
    // Every session id character is acceptable; empty too.
    EXPECT_NE(build_set_cookie(session_cookie(), "AZaz09-_", 60), "");
    EXPECT_EQ(build_set_cookie(session_cookie(), "", 60),
              "sso_session=; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax");
}

TEST(SetCookie, ValidValueTable) {
    EXPECT_TRUE(is_valid_cookie_value(""));
    EXPECT_TRUE(is_valid_cookie_value("!#$%&'()*+-./0123456789:<=>?@AZ[]^_`az{|}~"));
    for (int c = 0; c < 256; ++c) {
        const bool expected = c >= 0x21 && c <= 0x7E && c != '"' && c != ',' && c != ';' && c != '\\';
        EXPECT_EQ(is_valid_cookie_value(std::string(1, static_cast<char>(c))), expected) << c;
    }
}

TEST(CookieOptionsCheck, Table) {
    struct Case {
        void (*mutate)(CookieOptions&);
        bool ok;
    };
    const Case cases[] = {
        {[](CookieOptions&) {}, true},
        {[](CookieOptions& o) { o.name = ""; }, false},
        {[](CookieOptions& o) { o.name = "a=b"; }, false},
        {[](CookieOptions& o) { o.name = "a b"; }, false},
        {[](CookieOptions& o) { o.name = "a;b"; }, false},
        {[](CookieOptions& o) { o.name = "a\r\nb"; }, false},
        {[](CookieOptions& o) { o.name = "__Host-sso"; }, true},
        {[](CookieOptions& o) { o.path = ""; }, false},
        {[](CookieOptions& o) { o.path = "app"; }, false},
        {[](CookieOptions& o) { o.path = "/a;b"; }, false},
        {[](CookieOptions& o) { o.path = "/a\nb"; }, false},
        {[](CookieOptions& o) { o.path = "/caf\xc3\xa9"; }, false},
        {[](CookieOptions& o) { o.path = "/a b/c"; }, true},
        {[](CookieOptions& o) { o.domain = "example.org"; }, true},
        {[](CookieOptions& o) { o.domain = ".example.org"; }, true},
        {[](CookieOptions& o) { o.domain = "example.org."; }, false},
        {[](CookieOptions& o) { o.domain = "example..org"; }, false},
        {[](CookieOptions& o) { o.domain = "."; }, false},
        {[](CookieOptions& o) { o.domain = "example.org; Secure"; }, false},
        {[](CookieOptions& o) { o.domain = "ex ample.org"; }, false},
        {[](CookieOptions& o) { o.same_site = "Strict"; }, true},
        {[](CookieOptions& o) { o.same_site = "None"; }, true},
        {[](CookieOptions& o) {
             o.same_site = "None";
             o.secure = false;
         },
         false},
        {[](CookieOptions& o) { o.same_site = "lax"; }, true},
        {[](CookieOptions& o) {
             o.same_site = "NONE";
             o.secure = false;
         },
         false},
        {[](CookieOptions& o) { o.same_site = "Laxx"; }, false},
        {[](CookieOptions& o) { o.same_site = "La"; }, false},
        {[](CookieOptions& o) { o.same_site = "Lax; Domain=x"; }, false},
        {[](CookieOptions& o) { o.same_site = ""; }, true},
    };
    int i = 0;
    for (const auto& c : cases) {
        CookieOptions o = session_cookie();
        c.mutate(o);
        const char* err = cookie_options_error(o);
        EXPECT_EQ(err == nullptr, c.ok) << "case " << i << ": " << (err ? err : "(ok)");
        // Invalid options never produce a header.
        EXPECT_EQ(build_set_cookie(o, "v", 60).empty(), !c.ok) << "case " << i;
        EXPECT_EQ(build_clear_cookie(o).empty(), !c.ok) << "case " << i;
        ++i;
    }
}

TEST(ClearCookie, ExpiresInThePast) {
    EXPECT_EQ(build_clear_cookie(session_cookie()),
              "sso_session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
              "Secure; SameSite=Lax");
    CookieOptions o = session_cookie();
    o.domain = "example.org";
    o.path = "/app";
    o.same_site = "";
    o.http_only = false;
    EXPECT_EQ(build_clear_cookie(o),
              "sso_session=; Path=/app; Domain=example.org; Max-Age=0; Expires=Thu, 01 Jan 1970 "
              "00:00:00 GMT; Secure");
}

}  // namespace
}  // namespace sso
