#include "identity/email.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace sso {
namespace {

struct Case {
    std::string in;
    std::optional<std::string> out;
};

TEST(NormalizeEmail, Accepted) {
    const std::vector<Case> cases = {
        {"alice@example.org", "alice@example.org"},
        {"Alice@Example.ORG", "alice@example.org"},
        {"  alice@example.org\t\r\n", "alice@example.org"},
        {"first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"},
        {"o'brien@example.org", "o'brien@example.org"},
        {"a!#$%&'*+-/=?^_`{|}~@example.org", "a!#$%&'*+-/=?^_`{|}~@example.org"},
        {"a@b", "a@b"},
        {"a@localhost", "a@localhost"},
        {"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
        {"a@1.2.3.4", "a@1.2.3.4"},
        {"a@b-c.d", "a@b-c.d"},
        {"zo\xc3\xab@b\xc3\xbc"
         "cher.example",
         "zo\xc3\xab@b\xc3\xbc"
         "cher.example"},                                      // UTF-8 kept
        {"ZO\xc3\x8b@EXAMPLE.ORG", "zo\xc3\x8b@example.org"},  // non-ASCII not folded
        {"a..b@example.org", "a..b@example.org"},
        {std::string(64, 'a') + "@example.org", std::string(64, 'a') + "@example.org"},
    };
    for (const auto& c : cases) {
        const auto got = normalize_email(c.in);
        ASSERT_TRUE(got.has_value()) << c.in;
        EXPECT_EQ(*got, *c.out) << c.in;
    }
}

TEST(NormalizeEmail, Refused) {
    const std::vector<std::string> cases = {
        "",
        " ",
        "\t\n",
        "alice",
        "@",
        "@example.org",
        "alice@",
        "a@@b",
        "a@b@c",
        "alice@example.org@",
        // Domain shape.
        "a@b.",
        "a@example.org.",
        "a@b..c",
        "a@.b",
        "a@.",
        "a@..",
        "a@-b.c",
        "a@b-.c",
        "a@b_c.d",
        "a@[1.2.3.4]",
        "a@b c",
        "a@b\tc",
        "a@b:25",
        "a@b/c",
        "a@b%c",
        "a@b+c",
        "a@" + std::string(64, 'b') + ".c",
        // Forbidden characters anywhere.
        "\"a b\"@example.org",
        "\"a\"@example.org",
        "a\"b@example.org",
        "a b@example.org",
        "a\tb@example.org",
        "a\rb@example.org",
        "a\nb@example.org",
        std::string("a\0b@example.org", 15),
        "a\x7f@example.org",
        "a\x01@example.org",
        "<a@example.org>",
        "a<b@example.org",
        "a>b@example.org",
        "Alice <alice@example.org>",
        "a\\b@example.org",
        "a,b@example.org",
        "a;b@example.org",
        "a:b@example.org",
        "a(comment)@example.org",
        "a[b]@example.org",
        "alice@example.org\x01",
        "\x01"
        "alice@example.org",
        // Invalid UTF-8.
        "a\xff@example.org",
        "a\xc3@example.org",
        "a@b\xc3",
        "a\xc0\xaf@example.org",
        "a\xed\xa0\x80@example.org",
        "a\xf4\x90\x80\x80@example.org",
        "a\x80@example.org",
        // Length limits.
        std::string(65, 'a') + "@example.org",
    };
    for (const auto& c : cases) {
        EXPECT_FALSE(normalize_email(c).has_value()) << c;
    }
}

TEST(NormalizeEmail, TotalLengthLimit) {
    // 64 + 1 + 189 = 254: the limit exactly.
    auto make = [](std::size_t domain_len) {
        std::string domain;
        while (domain.size() < domain_len) {
            if (!domain.empty()) domain.push_back('.');
            domain.append(std::min<std::size_t>(60, domain_len - domain.size()), 'd');
        }
        // Avoid a trailing '.' label artefact.
        return std::string(64, 'a') + "@" + domain;
    };
    const std::string at_limit = make(189);
    ASSERT_EQ(at_limit.size(), kMaxEmailLength);
    EXPECT_TRUE(normalize_email(at_limit).has_value());
    EXPECT_TRUE(normalize_email("  " + at_limit + "  ").has_value());  // trimmed before measuring
    const std::string over = make(190);
    ASSERT_EQ(over.size(), kMaxEmailLength + 1);
    EXPECT_FALSE(normalize_email(over).has_value());
}

TEST(NormalizeEmail, IsIdempotent) {
    for (std::string_view s : {"Alice@Example.ORG", " x.Y+z@SUB.example ", "zo\xc3\xab@b.example"}) {
        const auto once = normalize_email(s);
        ASSERT_TRUE(once.has_value()) << s;
        const auto twice = normalize_email(*once);
        ASSERT_TRUE(twice.has_value());
        EXPECT_EQ(*once, *twice);
    }
}

}  // namespace
}  // namespace sso
