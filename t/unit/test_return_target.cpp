#include "session/return_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sso {
namespace {

constexpr std::string_view kScheme = "https";
constexpr std::string_view kHost = "ok.example";

std::optional<std::string> check(std::string_view target, std::span<const std::string> allowed = {}) {
    return safe_return_target(target, kScheme, kHost, allowed);
}

std::string printable(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7F) {
            static const char hex[] = "0123456789ABCDEF";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

TEST(ReturnTarget, RefusedTable) {
    const std::vector<std::string> refused = {
        // Empty and protocol-relative forms.
        "",
        "//evil",
        "///evil",
        "////evil",
        "//evil.example/x",
        "/\\evil",
        "\\\\evil",
        "\\/evil",
        "/\\/evil",
        "\\evil",
        // Percent-encoded slashes/backslashes in the leading characters.
        "%5cevil",
        "%5Cevil",
        "/%5cevil",
        "/%5Cevil",
        "/%2fevil",
        "/%2Fevil",
        "%2f%2fevil",
        "%2F/evil",
        "%2fevil",
        // Scheme tricks.
        "http:evil",
        "https:/evil",
        "https:evil",
        "http:/evil",
        "https:\\\\evil",
        "https:/\\evil",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "javascript://ok.example/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox",
        "ftp://ok.example/",
        "file:///etc/passwd",
        "HTTP:evil",
        // Not a path reference at all.
        "evil",
        "evil.example/x",
        "?x=1",
        "#frag",
        ".",
        "./x",
        "../x",
        "a/b",
        // Control chars, space, DEL anywhere (raw).
        "/a\tb",
        "/a\nb",
        "/a\rb",
        std::string("/a\0b", 4),
        std::string("\0/a", 3),
        "/a b",
        " /a",
        "/a ",
        "/a\x7f",
        "\x7f/a",
        "\t/a",
        "/\t/evil",
        "/\n/evil",
        "\r\n/a",
        "/a\x0b",
        "/a\x1f",
        "https://ok.example/\t",
        "https://ok.example\t.evil.example/",
        // Percent-encoded control chars, anywhere; percent-encoded space at the start.
        "%09/evil",
        "%0a/x",
        "%0d/x",
        "%00/x",
        "%20/x",
        "%0A",
        "/%09evil",
        "/%0aevil",
        "/%0devil",
        "/%00",
        "/%20evil",
        "/a%00",
        "/a%0d%0aSet-Cookie:x=1",
        "/a%7f",
        "/a%7F",
        "/a%1F",
        "https://ok.example/%0d%0a",
        // Malformed escapes.
        "/%",
        "/a%",
        "/a%4",
        "/a%zz",
        "/a%g0",
        "/a%0g",
        "%",
        "%%",
        // Non-ASCII raw bytes.
        "/a\x80",
        "/caf\xc3\xa9",
        "\xef\xbc\x8f\xef\xbc\x8f"
        "evil",
        "https://ok.example/\xff",
        "https://\xd0\xbek.example/",
        // Characters refused raw for safety.
        "/a\\b",
        "/<script>",
        "/a\"b",
        "/a`b",
        "/a>b",
        "https://ok.example/\"onmouseover=x",
        // Userinfo tricks.
        "https://ok.example@evil.example",
        "https://ok.example@evil.example/",
        "https://ok.example:443@evil.example/",
        "https://user:pass@ok.example/",
        "https://@ok.example/",
        "https://evil.example\\@ok.example",
        "https://evil.example%40ok.example/",
        "HTTPS://OK.EXAMPLE@evil.example/",
        // Fragment/query/path confusion: judged by the real host.
        "https://evil.example#@ok.example",
        "https://evil.example?@ok.example",
        "https://evil.example/@ok.example",
        "https://evil.example/ok.example",
        // Look-alike hosts.
        "https://ok.example.evil.example",
        "https://ok.example.evil.example/",
        "https://evilok.example",
        "https://ok.examplee/",
        "https://k.example/",
        "https://ok.example.",
        "https://ok.example./x",
        "https://.ok.example/",
        "https://ok-example/",
        "https://%6fk.example/",
        "https://ok%2eexample/",
        "https://ok.example%00.evil.example/",
        "https://ok.example%2f@evil/",
        // Wrong scheme / port.
        "http://ok.example/",
        "http://ok.example:443/",
        "https://ok.example:8443/",
        "https://ok.example:80/",
        "https://ok.example:/",
        "https://ok.example:0/",
        "https://ok.example:65536/",
        "https://ok.example:99999/",
        "https://ok.example:443443/",
        "https://ok.example:44a3/",
        "https://ok.example:-443/",
        "https://ok.example:+443/",
        "https://ok.example: 443/",
        "https://ok.example:443:443/",
        // Broken authorities.
        "https://",
        "https:///",
        "https:///ok.example",
        "https://:443/",
        "https://[/",
        "https://[]/",
        "https://[::1]/",
        "https://[::1/",
        "https://ok.example]/",
        "https://[ok.example]/",
        // Too long.
        "/" + std::string(kMaxReturnTargetLength, 'a'),
    };
    for (const auto& t : refused) {
        EXPECT_FALSE(check(t).has_value()) << '"' << printable(t) << '"';
    }
}

TEST(ReturnTarget, AcceptedTableReturnsTargetUnchanged) {
    const std::vector<std::string> accepted = {
        "/",
        "/app",
        "/app?x=1",
        "/a/b#frag",
        "/?x=1",
        "/#frag",
        "/a//b",
        "/a/%2f/b",
        "/app/%5C",
        "/%41pp",  // decoded second char is 'A'
        "/caf%C3%A9",
        "/%C3%A9t%C3%A9",  // percent-encoded UTF-8 is fine
        "/a%20b",
        "/a?q=%25",
        "/@evil.example",
        "/.",
        "/..",
        "/;x",
        "/a:b",
        "/a?next=//evil.example",  // only the leading characters decide the authority
        "/a?u=https://evil.example",
        "https://ok.example",
        "https://ok.example/",
        "https://ok.example/x",
        "https://ok.example/x?y#z",
        "https://ok.example?x=1",
        "https://ok.example#frag",
        "https://OK.Example/x",
        "HTTPS://ok.example/x",
        "hTtPs://ok.example/x",
        "https://ok.example:443/x",
        "https://ok.example:0443/x",
        "https://ok.example/@evil.example",
        "https://ok.example//evil",
        "/" + std::string(kMaxReturnTargetLength - 1, 'a'),
    };
    for (const auto& t : accepted) {
        const auto got = check(t);
        ASSERT_TRUE(got.has_value()) << '"' << t << '"';
        EXPECT_EQ(*got, t);
    }
}

TEST(ReturnTarget, EveryControlByteRefusedRawAndEncoded) {
    static const char hex[] = "0123456789ABCDEF";
    for (int c = 0; c < 256; ++c) {
        const bool control = c < 0x20 || c == 0x7F;
        const std::string raw(1, static_cast<char>(c));
        if (c <= 0x20 || c >= 0x7F) {
            EXPECT_FALSE(check("/a" + raw).has_value()) << c;
            EXPECT_FALSE(check(raw + "/a").has_value()) << c;
            EXPECT_FALSE(check("https://ok.example/" + raw).has_value()) << c;
        }
        const std::string enc = std::string("%") + hex[c >> 4] + hex[c & 15];
        const std::string enc_lower = std::string("%") + static_cast<char>(std::tolower(hex[c >> 4])) +
                                      static_cast<char>(std::tolower(hex[c & 15]));
        EXPECT_FALSE(check(enc + "/a").has_value()) << c;  // never a path reference
        if (control) {
            EXPECT_FALSE(check("/a" + enc).has_value()) << c;
            EXPECT_FALSE(check("/a" + enc_lower).has_value()) << c;
            EXPECT_FALSE(check("/" + enc).has_value()) << c;
        }
        // Second character, decoded once: '/', '\', controls and space refused.
        const bool bad_second = control || c == '/' || c == '\\' || c == ' ';
        EXPECT_EQ(check("/" + enc + "x").has_value(), !bad_second) << c;
        EXPECT_EQ(check("/" + enc_lower + "x").has_value(), !bad_second) << c;
    }
}

TEST(ReturnTarget, AllowListedOrigins) {
    const std::vector<std::string> allowed = {"https://app.example.org", "https://api.example.org:8443",
                                              "http://legacy.example.org/"};
    struct Case {
        std::string target;
        bool ok;
    };
    const std::vector<Case> cases = {
        {"https://app.example.org/x", true},
        {"https://APP.example.org/x", true},
        {"https://app.example.org:443/x", true},
        {"https://app.example.org", true},
        {"https://app.example.org:8443/x", false},
        {"http://app.example.org/x", false},
        {"https://api.example.org:8443/x", true},
        {"https://api.example.org/x", false},
        {"http://legacy.example.org/x", true},
        {"http://legacy.example.org:80/x", true},
        {"https://legacy.example.org/x", false},
        {"https://app.example.org.evil.example/", false},
        {"https://app.example.org@evil.example/", false},
        {"https://evil.example#@app.example.org", false},
        {"https://ok.example/still-own", true},
    };
    for (const auto& c : cases) {
        const auto got = check(c.target, allowed);
        EXPECT_EQ(got.has_value(), c.ok) << c.target;
        if (got) {
            EXPECT_EQ(*got, c.target);
        }
    }
}

TEST(ReturnTarget, MalformedAllowListEntriesMatchNothing) {
    const std::vector<std::string> allowed = {"",
                                              "app.example.org",
                                              "https://",
                                              "https://a.example/path",
                                              "https://user@b.example",
                                              "*",
                                              "https://c.example:0",
                                              "javascript://d.example"};
    for (std::string_view t : {"https://app.example.org/", "https://a.example/path", "https://b.example/",
                               "https://c.example/", "https://c.example:0/", "https://d.example/"}) {
        EXPECT_FALSE(check(t, allowed).has_value()) << t;
    }
}

TEST(ReturnTarget, OwnOriginPortHandling) {
    struct Case {
        std::string scheme, host, target;
        bool ok;
    };
    const std::vector<Case> cases = {
        {"https", "ok.example:8443", "https://ok.example:8443/x", true},
        {"https", "ok.example:8443", "https://ok.example/x", false},
        {"https", "ok.example:443", "https://ok.example/x", true},
        {"https", "ok.example", "https://ok.example:443/x", true},
        {"http", "ok.example", "http://ok.example/x", true},
        {"http", "ok.example", "http://ok.example:80/x", true},
        {"http", "ok.example:80", "http://ok.example/x", true},
        {"http", "ok.example", "https://ok.example/x", false},
        {"http", "ok.example:8080", "http://ok.example:8080/", true},
        {"HTTPS", "OK.EXAMPLE", "https://ok.example/", true},
        {"https", "ok.example.", "https://ok.example./x", true},  // trailing dot: exact only
        {"https", "ok.example.", "https://ok.example/x", false},
        {"https", "[::1]:8443", "https://[::1]:8443/x", true},
        {"https", "[::1]:8443", "https://[::1]/x", false},
        {"https", "[::1]:8443", "https://[0:0::1]:8443/x", false},  // IPv6 only if exactly equal
        {"https", "[::1]:8443", "https://[::1%25eth0]:8443/x", false},
        {"https", "[2001:DB8::1]", "https://[2001:db8::1]/x", true},
        {"https", "127.0.0.1", "https://127.0.0.1/x", true},
        {"https", "127.0.0.1", "https://2130706433/x", false},
        // Own scheme/host unusable: only path references remain acceptable.
        {"ftp", "ok.example", "ftp://ok.example/", false},
        {"ftp", "ok.example", "https://ok.example/", false},
        {"https", "", "https://ok.example/", false},
        {"https", "ok.example@evil", "https://ok.example/", false},
        {"https", "", "/fine", true},
    };
    for (const auto& c : cases) {
        const auto got = safe_return_target(c.target, c.scheme, c.host);
        EXPECT_EQ(got.has_value(), c.ok) << c.scheme << " " << c.host << " " << c.target;
    }
}

TEST(Origin, Parse) {
    const auto a = parse_origin("https://App.Example.org:8443");
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->https);
    EXPECT_EQ(a->host, "App.Example.org");
    EXPECT_EQ(a->port, 8443);

    const auto b = parse_origin("http://example.org/");
    ASSERT_TRUE(b.has_value());
    EXPECT_FALSE(b->https);
    EXPECT_EQ(b->port, 80);

    const auto c = parse_origin("https://[::1]");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->host, "[::1]");
    EXPECT_EQ(c->port, 443);

    for (std::string_view bad :
         {"", "https", "https:", "https://", "https:///", "example.org", "https://example.org//",
          "https://example.org/x", "https://example.org?x", "https://example.org#x", "https://u@example.org",
          "https://ex%61mple.org", "https://example.org:", "https://example.org:70000", "ftp://example.org",
          "https://exa mple.org", "https://example.org\\"}) {
        EXPECT_FALSE(parse_origin(bad).has_value()) << bad;
    }
    EXPECT_TRUE(same_origin(*parse_origin("https://a.example"), *parse_origin("HTTPS://A.EXAMPLE:443/")));
    EXPECT_FALSE(same_origin(*parse_origin("https://a.example"), *parse_origin("http://a.example:443")));
}

}  // namespace
}  // namespace sso
