#include <gtest/gtest.h>

#include "identity/access_policy.hpp"

namespace sso {
namespace {

AccessRule rule(std::vector<std::string> words) {
    std::string error;
    auto r = parse_access_rule(words, error);
    EXPECT_TRUE(r) << error;
    return r ? *r : AccessRule{};
}

class AccessPolicyTest : public ::testing::Test {
protected:
    void SetUp() override {
        SessionRecord rec;
        rec.user = "Alice";
        rec.groups = {"Editors", "printers", "Zo%C3%AB-team"};
        rec.attributes = {{"department", {"Sales", "EMEA"}}};
        encoded_ = encode_session(rec);
        view_ = *view_session(encoded_);
    }
    std::string encoded_;
    SessionView view_;
};

TEST_F(AccessPolicyTest, EachKindMatches) {
    EXPECT_FALSE(access_refusal({rule({"user", "bob", "alice"})}, true, view_));  // names ignore case
    EXPECT_FALSE(access_refusal({rule({"group", "editors"})}, true, view_));      // so do groups
    EXPECT_FALSE(access_refusal({rule({"group", "Zoë-team"})}, true, view_));     // compared as stored
    EXPECT_FALSE(access_refusal({rule({"attribute", "department", "EMEA"})}, true, view_));
    EXPECT_TRUE(access_refusal({rule({"attribute", "department", "emea"})}, true, view_));  // values exactly
    EXPECT_TRUE(access_refusal({rule({"attribute", "missing", "x"})}, true, view_));
}

TEST_F(AccessPolicyTest, AllAndAny) {
    const std::vector<AccessRule> rules = {rule({"group", "editors"}), rule({"group", "admins"})};
    auto refusal = access_refusal(rules, true, view_);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(*refusal, "not in group \"admins\"");
    EXPECT_FALSE(access_refusal(rules, false, view_));
    const std::vector<AccessRule> none = {rule({"group", "admins"}), rule({"user", "bob"})};
    refusal = access_refusal(none, false, view_);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(*refusal, "none of the rules holds: not in group \"admins\"");
    EXPECT_FALSE(access_refusal({}, true, view_));
    EXPECT_FALSE(access_refusal({}, false, view_));
}

TEST(AccessRuleParse, RefusesWhatMatchesNobody) {
    std::string error;
    EXPECT_FALSE(parse_access_rule({"group"}, error));
    EXPECT_NE(error.find("at least one value"), std::string::npos);
    EXPECT_FALSE(parse_access_rule({"attribute", "department"}, error));
    EXPECT_FALSE(parse_access_rule({"role", "x"}, error));
    EXPECT_NE(error.find("unknown kind"), std::string::npos);
    EXPECT_FALSE(parse_access_rule({"user", ""}, error));
}

}  // namespace
}  // namespace sso
