#include "session/member_set.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sso {
namespace {

std::vector<std::string> members(std::string_view list) {
    std::vector<std::string> out;
    for_each_member(list, [&](std::string_view m) { out.emplace_back(m); });
    return out;
}

TEST(MemberSet, AddsKeepsAndAnswersTheLiveMembers) {
    std::string set = add_set_member("", "s1", 200, 100);
    EXPECT_EQ(set, "200 s1\n");
    set = add_set_member(set, "s2", 300, 100);
    EXPECT_EQ(live_set_members(set, 150), "s1\ns2\n");
    EXPECT_EQ(set_expiry(set), 300);
    // at 250 s1 has expired: answered without it, and dropped by the next addition
    EXPECT_EQ(live_set_members(set, 250), "s2\n");
    EXPECT_EQ(add_set_member(set, "s3", 400, 250), "300 s2\n400 s3\n");
    EXPECT_EQ(members("a\nb\n"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(members(""), std::vector<std::string>{});
}

TEST(MemberSet, AMemberAddedAgainTakesTheLaterExpiry) {
    std::string set = add_set_member("", "s1", 300, 100);
    EXPECT_EQ(add_set_member(set, "s1", 200, 100), "300 s1\n");
    EXPECT_EQ(add_set_member(set, "s1", 500, 100), "500 s1\n");
}

TEST(MemberSet, BeyondTheCapTheSoonestToExpireGo) {
    std::string set;
    for (std::size_t i = 0; i < kMaxSetMembers + 3; ++i)
        set = add_set_member(set, "s" + std::to_string(i), 1000 + static_cast<std::int64_t>(i), 0);
    const auto live = members(live_set_members(set, 0));
    ASSERT_EQ(live.size(), kMaxSetMembers);
    EXPECT_EQ(live.front(), "s3");
    EXPECT_EQ(live.back(), "s" + std::to_string(kMaxSetMembers + 2));
}

TEST(MemberSet, RefusesBadMembersAndSkipsBadLines) {
    EXPECT_EQ(add_set_member("", "", 200, 100), "");
    EXPECT_EQ(add_set_member("", "a b", 200, 100), "");
    EXPECT_EQ(add_set_member("", "a\nb", 200, 100), "");
    EXPECT_EQ(add_set_member("", "s1", 100, 100), "");  // already expired: nothing to keep
    EXPECT_EQ(live_set_members("x s1\n200\n 200 s2\n200 s3 x\n200 s4\n2x0 s5\n", 100), "s4\n");
    EXPECT_EQ(set_expiry("garbage"), 0);
}

}  // namespace
}  // namespace sso
