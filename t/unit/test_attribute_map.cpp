#include <gtest/gtest.h>

#include "identity/attribute_map.hpp"

namespace sso {
namespace {

ValidatedAssertion assertion() {
    ValidatedAssertion a;
    a.idp = "https://idp.example/md";
    a.name_id = "Alice\r\nX";
    a.session_index = "s1";
    a.name_id_format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    a.name_qualifier = "https://idp.example/md";
    a.sp_name_qualifier = "https://sp.example/\r\n";
    a.attributes = {{"urn:oid:0.9.2342.19200300.100.1.3", "mail", {"Alice@Example.ORG"}},
                    {"urn:oid:2.16.840.1.113730.3.1.241", "displayName", {"Zoë\r\nX-Evil: 1"}},
                    {"groups", "", {"staff", "50%"}}};
    return a;
}

TEST(AttributeMap, MapsByNameOrFriendlyNameAndStoresHeaderSafeValues) {
    const SessionRecord r = identity_from_assertion(assertion(), AttributeMap{});
    EXPECT_EQ(r.user, "Alice%0D%0AX");  // NameID by default, made header-safe
    EXPECT_EQ(r.email, "alice@example.org");
    EXPECT_EQ(r.display_name, "Zo%C3%AB%0D%0AX-Evil: 1");
    EXPECT_EQ(r.groups, (std::vector<std::string>{"staff", "50%25"}));
    EXPECT_EQ(r.idp, "https://idp.example/md");
    EXPECT_EQ(r.auth_method, "saml");
    // NameID and SessionIndex stay as sent: they identify the IdP session, not a header
    EXPECT_EQ(r.name_id, "Alice\r\nX");
    EXPECT_EQ(r.session_index, "s1");
    // and so do the NameID's Format and qualifiers: our LogoutRequest repeats them exactly
    EXPECT_EQ(r.name_id_format, "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    EXPECT_EQ(r.name_qualifier, "https://idp.example/md");
    EXPECT_EQ(r.sp_name_qualifier, "https://sp.example/\r\n");
    // every attribute under its Name and, when it has one, its FriendlyName
    ASSERT_NE(find_attribute(r, "displayName"), nullptr);
    ASSERT_NE(find_attribute(r, "urn:oid:2.16.840.1.113730.3.1.241"), nullptr);
    EXPECT_EQ(find_attribute(r, "displayName")->values, std::vector<std::string>{"Zo%C3%AB%0D%0AX-Evil: 1"});
    EXPECT_EQ(r.attributes.size(), 5u);
}

// What a LogoutRequest for a NameID may end: that IdP's SAML sessions of it, here.
TEST(AttributeMap, SessionIsOfItsScopeIdPAndNameId) {
    ValidatedAssertion a = assertion();
    a.idp = "https://idp.example/md?x=50%";  // stored header-safe: "50%25"
    SessionRecord r = identity_from_assertion(a, AttributeMap{});
    r.scope = "https://sp.example/";
    const std::string bytes = encode_session(r);
    auto v = view_session(bytes);
    ASSERT_TRUE(v);
    EXPECT_TRUE(session_is_of(*v, "https://sp.example/", "https://idp.example/md?x=50%", "Alice\r\nX"));
    EXPECT_FALSE(session_is_of(*v, "https://other.example/", "https://idp.example/md?x=50%", "Alice\r\nX"));
    EXPECT_FALSE(session_is_of(*v, "https://sp.example/", "https://idp.example/other", "Alice\r\nX"));
    EXPECT_FALSE(session_is_of(*v, "https://sp.example/", "https://idp.example/md?x=50%", "Alice"));
    r.auth_method = "ldap";
    const std::string ldap = encode_session(r);
    EXPECT_FALSE(
        session_is_of(*view_session(ldap), "https://sp.example/", "https://idp.example/md?x=50%", "Alice\r\nX"));
}

TEST(AttributeMap, ConfiguredAttributesWin) {
    AttributeMap map;
    map.user = "mail";
    map.email = "nosuch";
    map.groups = "displayName";
    const SessionRecord r = identity_from_assertion(assertion(), map);
    EXPECT_EQ(r.user, "Alice@Example.ORG");
    EXPECT_EQ(r.email, "");  // missing attribute: no e-mail
    EXPECT_EQ(r.groups, std::vector<std::string>{"Zo%C3%AB%0D%0AX-Evil: 1"});
}

TEST(AttributeMap, AUserNameOfWhiteSpaceIsNoUserName) {
    ValidatedAssertion a = assertion();
    a.name_id = " \t\r\n ";
    EXPECT_EQ(identity_from_assertion(a, AttributeMap{}).user, "");
    AttributeMap map;
    map.user = "uid";
    a.attributes.push_back({"uid", "", {"   "}});
    EXPECT_EQ(identity_from_assertion(a, map).user, "");
    a.attributes.back().values = {" bob "};  // not blank: kept as sent
    EXPECT_EQ(identity_from_assertion(a, map).user, " bob ");
}

}  // namespace
}  // namespace sso
