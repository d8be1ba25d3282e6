#include "ldap/filter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sso::ldap {
namespace {

using namespace std::string_literals;

// True when `s` contains a filter metacharacter that is not part of a \HH escape.
bool has_unescaped_special(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '*' || c == '(' || c == ')' || c == 0 || c < 0x20 || c >= 0x7f) return true;
    }
    return false;
}

TEST(LdapEscape, EachSpecialCharacter) {
    EXPECT_EQ(escape_filter_value("*"), "\\2a");
    EXPECT_EQ(escape_filter_value("("), "\\28");
    EXPECT_EQ(escape_filter_value(")"), "\\29");
    EXPECT_EQ(escape_filter_value("\\"), "\\5c");
    EXPECT_EQ(escape_filter_value("\0"s), "\\00");
    EXPECT_EQ(escape_filter_value("a\0b"s), "a\\00b");
}

TEST(LdapEscape, ControlAndNonAsciiBytesLowerCaseHex) {
    EXPECT_EQ(escape_filter_value("\x01\x1f\x7f"), "\\01\\1f\\7f");
    EXPECT_EQ(escape_filter_value("\n\r\t"), "\\0a\\0d\\09");
    EXPECT_EQ(escape_filter_value("J\xc3\xbcrgen"), "J\\c3\\bcrgen");  // UTF-8 "Jürgen"
    EXPECT_EQ(escape_filter_value("\xff\x80"), "\\ff\\80");
}

TEST(LdapEscape, OrdinaryCharactersUnchanged) {
    EXPECT_EQ(escape_filter_value(""), "");
    EXPECT_EQ(escape_filter_value("alice"), "alice");
    EXPECT_EQ(escape_filter_value("a.b-c_d@example.test"), "a.b-c_d@example.test");
    EXPECT_EQ(escape_filter_value("x=y,&|!~<>:; %"), "x=y,&|!~<>:; %");
}

TEST(LdapEscape, InjectionAttemptsBecomeInert) {
    const std::string attacks[] = {
        "*)(uid=*))(|(uid=*", "*",        "admin)(&)",   "admin)(|(objectClass=*)",
        "x)(!(uid=x",         "\\2a",     "a\0)(uid=*"s, "))))))))))((((((((",
        "*)(userPassword=*",  "\xc0\xaf",
    };
    for (const auto& attack : attacks) {
        const auto filter = expand_filter("(&(objectClass=person)(uid=%u))", attack, "");
        ASSERT_TRUE(filter.has_value()) << attack;
        EXPECT_EQ(filter_syntax_error(*filter), std::nullopt) << *filter;
        const std::string value = escape_filter_value(attack);
        EXPECT_FALSE(has_unescaped_special(value)) << value;
        // The escaped value sits inside the one equality item: the structure is unchanged.
        EXPECT_EQ(*filter, "(&(objectClass=person)(uid=" + value + "))");
    }
    EXPECT_EQ(escape_filter_value("*)(uid=*))(|(uid=*"), "\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a");
}

TEST(LdapFilterSyntax, ValidFilters) {
    const char* valid[] = {
        "(uid=alice)",
        "(&(objectClass=person)(|(uid=a)(mail=b*)))",
        "(cn:caseExactMatch:=Fred)",
        "(cn:=Fred)",
        "(cn:dn:=Fred)",
        "(cn:dn:2.5.13.5:=Fred)",
        "(:dn:2.4.6.8.10:=Dino)",
        "(:caseExactMatch:=x)",
        "(o:dn:=Ace Industry)",
        "(!(x=y))",
        "(x=*)",
        "(x=a*b*c)",
        "(x=*b)",
        "(x=a*)",
        "(x=*b*)",
        "(x>=1)",
        "(x<=1)",
        "(x~=smith)",
        "(sAMAccountName=a\\2ab)",
        "(cn=\\2A\\28\\29\\5C\\00)",
        "(cn=)",
        "(cn= spaced value )",
        "(2.5.4.3=x)",
        "(cn;lang-en=x)",
        "(cn;x-opt;lang-de=x)",
        "(memberOf=cn=admins,ou=groups,dc=example,dc=test)",
        "(cn=J\xc3\xbcrgen)",
        "(cn=\xe2\x82\xac\xf0\x9f\x98\x80)",
        "(&)",
        "(|)",
        "(&(a=b))",
        "(|(a=b)(c=d)(e=f))",
        "(!(&(a=b)(!(c=d))))",
        "(userAccountControl:1.2.840.113556.1.4.803:=2)",
        "(x=%)",
        "(x-y=1)",
    };
    for (const char* f : valid) {
        EXPECT_EQ(filter_syntax_error(f), std::nullopt) << f;
    }
}

TEST(LdapFilterSyntax, InvalidFilters) {
    const std::string invalid[] = {
        "",
        "()",
        "uid=alice",
        "(uid=alice",
        "uid=alice)",
        "(uid=alice))",
        "((uid=alice)",
        "(&(a=b)(c=d)",
        "(&(a=b)))",
        "(=x)",
        "(x=\\zz)",
        "(x=\\2)",
        "(x=\\)",
        "(x=a\\2",
        "(x=(y)",
        "(x=y)(z=w)",
        "(x=y) ",
        " (x=y)",
        "(x=y)garbage",
        "(& (a=b))",
        "(!)",
        "(!(a=b)(c=d))",
        "(x>=a*)",
        "(x<=*)",
        "(x~=*)",
        "(x=a**b)",
        "(x>1)",
        "(x<1)",
        "(x~1)",
        "(x)",
        "(1x=y)",
        "(-x=y)",
        "(x_y=1)",
        "(01.2=x)",
        "(1=x)",
        "(1.=x)",
        "(cn;=x)",
        "(:=x)",
        "(:dn:=x)",
        "(cn:caseExactMatch=x)",
        "(cn::=x)",
        "(cn:1.:=x)",
        "(cn:x:=a*)",
        "(x=\xc3)",
        "(x=\xc0\xaf)",
        "(x=\xed\xa0\x80)",
        "(x=\xff)",
        "(x=a\0b)"s,
        "(x=y)\0"s,
    };
    for (const auto& f : invalid) {
        EXPECT_NE(filter_syntax_error(f), std::nullopt) << f;
    }
}

TEST(LdapFilterSyntax, ReasonsSayWhatAndWhere) {
    EXPECT_EQ(filter_syntax_error(""), "empty filter");
    EXPECT_EQ(filter_syntax_error("(&(a=b)(c=d)"), "unbalanced parentheses at 12");
    EXPECT_EQ(filter_syntax_error("(a=b))"), "unbalanced parentheses at 5");
    EXPECT_EQ(filter_syntax_error("(x=\\zz)"), "bad escape (expected \\HH) at 3");
    EXPECT_EQ(filter_syntax_error("(=x)"), "missing attribute description at 1");
    EXPECT_EQ(filter_syntax_error("(a=b)c"), "trailing characters after the filter at 5");
    EXPECT_EQ(filter_syntax_error("()"), "empty filter component at 1");
}

TEST(LdapFilterSyntax, DepthAndLengthCaps) {
    const auto nested = [](std::size_t levels) {
        std::string f;
        for (std::size_t i = 1; i < levels; ++i) f += "(!";
        f += "(x=y)";
        for (std::size_t i = 1; i < levels; ++i) f += ")";
        return f;
    };
    EXPECT_EQ(filter_syntax_error(nested(kMaxFilterDepth)), std::nullopt);
    const auto deep = filter_syntax_error(nested(kMaxFilterDepth + 1));
    ASSERT_TRUE(deep.has_value());
    EXPECT_NE(deep->find("nested deeper"), std::string::npos) << *deep;
    // Far deeper than the cap: refused, not a stack overflow.
    EXPECT_NE(filter_syntax_error(nested(100000)), std::nullopt);

    const std::string at_cap = "(x=" + std::string(kMaxFilterLength - 4, 'a') + ")";
    ASSERT_EQ(at_cap.size(), kMaxFilterLength);
    EXPECT_EQ(filter_syntax_error(at_cap), std::nullopt);
    const auto too_long = filter_syntax_error("(x=" + std::string(kMaxFilterLength - 3, 'a') + ")");
    ASSERT_TRUE(too_long.has_value());
    EXPECT_NE(too_long->find("longer than"), std::string::npos) << *too_long;
}

TEST(LdapExpandFilter, Placeholders) {
    EXPECT_EQ(expand_filter("(uid=%u)", "alice", "ignored"), "(uid=alice)");
    EXPECT_EQ(expand_filter("(member=%D)", "alice", "uid=alice,ou=people,dc=example,dc=test"),
              "(member=uid=alice,ou=people,dc=example,dc=test)");
    EXPECT_EQ(expand_filter("(|(memberUid=%u)(member=%D))", "a*", "cn=a\\2a(x)"),
              "(|(memberUid=a\\2a)(member=cn=a\\5c2a\\28x\\29))");
    EXPECT_EQ(expand_filter("(cn=100%%)", "u", "d"), "(cn=100%)");
    EXPECT_EQ(expand_filter("(cn=%%u)", "alice", "d"), "(cn=%u)");
    EXPECT_EQ(expand_filter("(objectClass=person)", "alice", "d"), "(objectClass=person)");
    EXPECT_EQ(expand_filter("", "alice", "d"), "");
}

TEST(LdapExpandFilter, BadSequencesRefused) {
    EXPECT_EQ(expand_filter("(uid=%x)", "alice", ""), std::nullopt);
    EXPECT_EQ(expand_filter("(uid=%U)", "alice", ""), std::nullopt);
    EXPECT_EQ(expand_filter("(uid=%d)", "alice", ""), std::nullopt);
    EXPECT_EQ(expand_filter("(uid=alice)%", "alice", ""), std::nullopt);
    EXPECT_EQ(expand_filter("%", "alice", ""), std::nullopt);
}

TEST(LdapTemplateError, AcceptsGoodTemplates) {
    const char* good[] = {
        "(uid=%u)",
        "(member=%D)",
        "(&(objectClass=person)(|(uid=%u)(mail=%u)))",
        "(|(member=%D)(memberUid=%u))",
        "(cn=%u*)",
        "(cn=*%u*)",
        "(cn=100%%)",
        "(objectClass=person)",  // no placeholder is fine here (settings_error wants %u in user_filter)
        "(sAMAccountName=%u)",
        "(cn:caseExactMatch:=%u)",
    };
    for (const char* t : good) {
        EXPECT_EQ(template_error(t), std::nullopt) << t;
    }
}

TEST(LdapTemplateError, RefusesBadPlaceholders) {
    const auto unknown = template_error("(uid=%x)");
    ASSERT_TRUE(unknown.has_value());
    EXPECT_NE(unknown->find("%x"), std::string::npos) << *unknown;
    EXPECT_NE(template_error("(uid=%U)"), std::nullopt);
    EXPECT_NE(template_error("(uid=%)"), std::nullopt);
    EXPECT_NE(template_error("(uid=x)%"), std::nullopt);
    const auto ctrl = template_error("(uid=%\n)");
    ASSERT_TRUE(ctrl.has_value());
    EXPECT_EQ(ctrl->find('\n'), std::string::npos) << *ctrl;
}

TEST(LdapTemplateError, RefusesPlaceholdersOutsideValues) {
    // The user must never choose the attribute or the matching rule.
    for (const char* t : {"(%u=x)", "(cn;%u=x)", "(cn:%u:=x)", "(:%u:=x)", "(%D=*)"}) {
        const auto error = template_error(t);
        ASSERT_TRUE(error.has_value()) << t;
        EXPECT_NE(error->find("assertion value"), std::string::npos) << t << ": " << *error;
    }
    // A placeholder inside an escape would let the user finish the escape.
    EXPECT_NE(template_error("(cn=\\2%u)"), std::nullopt);
}

TEST(LdapTemplateError, RefusesInvalidFilters) {
    const auto error = template_error("(&(uid=%u)");
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(*error, "unbalanced parentheses at 10");  // offsets are the template's own
    EXPECT_NE(template_error("uid=%u"), std::nullopt);
    EXPECT_NE(template_error(""), std::nullopt);
}

}  // namespace
}  // namespace sso::ldap
