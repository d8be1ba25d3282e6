#include <gtest/gtest.h>

#include "identity/directory_identity.hpp"

namespace sso {
namespace {

TEST(DirectoryIdentity, SameRecordShapeAsSamlWithHeaderSafeValues) {
    ldap::DirectoryUser u;
    u.dn = "uid=zoe,ou=people,dc=example,dc=test";
    u.user = "zoe\r\nX-Evil: 1";
    u.email = " Zoe@Example.TEST ";
    u.display_name = "Zoë Ünicode";
    u.groups = {"editors", "50%"};
    u.server_url = "ldap://127.0.0.1:389";
    const SessionRecord r = identity_from_directory(u, "corp");
    EXPECT_EQ(r.user, "zoe%0D%0AX-Evil: 1");
    EXPECT_EQ(r.email, "zoe@example.test");
    EXPECT_EQ(r.display_name, "Zo%C3%AB %C3%9Cnicode");
    EXPECT_EQ(r.groups, (std::vector<std::string>{"editors", "50%25"}));
    EXPECT_EQ(r.auth_method, "ldap");
    EXPECT_EQ(r.idp, "corp");
    ASSERT_EQ(r.attributes.size(), 1u);
    EXPECT_EQ(r.attributes[0].name, "dn");
    EXPECT_EQ(r.attributes[0].values, (std::vector<std::string>{u.dn}));
    // a record that encodes decodes to itself
    EXPECT_EQ(decode_session(encode_session(r)), r);
}

TEST(DirectoryIdentity, AnAddressThatDoesNotNormaliseIsNoEmail) {
    ldap::DirectoryUser u;
    u.user = "carol";
    u.email = "not an address";
    EXPECT_EQ(identity_from_directory(u, "corp").email, "");
}

}  // namespace
}  // namespace sso
