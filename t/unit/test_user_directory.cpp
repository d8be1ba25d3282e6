// The user directory snapshot: keyed by normalised e-mail, ambiguous addresses left out, found
// by binary search, and a damaged block reads as "not found".
#include "identity/user_directory.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "identity/header_value.hpp"

namespace sso {
namespace {

SessionRecord user(std::string email, std::string name) {
    SessionRecord r;
    r.user = name;
    r.email = encode_header_value(email);
    r.display_name = name + " Display";
    r.groups = {"g-" + name};
    r.source = "corp";
    return r;
}

TEST(UserSnapshot, FindsEveryUserByNormalisedEmail) {
    std::vector<SessionRecord> in;
    for (int i = 999; i >= 0; --i)
        in.push_back(user("User" + std::to_string(i) + "@Example.TEST", "u" + std::to_string(i)));
    auto snap = make_user_snapshot(in);
    ASSERT_TRUE(snap.has_value());
    EXPECT_EQ(snap->stats.users, 1000u);
    EXPECT_EQ(snapshot_size(snap->bytes), 1000u);
    for (int i = 0; i < 1000; ++i) {
        auto found = find_in_snapshot(snap->bytes, "user" + std::to_string(i) + "@example.test");
        ASSERT_TRUE(found.has_value()) << i;
        auto record = decode_session(*found);
        ASSERT_TRUE(record.has_value());
        EXPECT_EQ(record->user, "u" + std::to_string(i));
        EXPECT_EQ(record->email, "user" + std::to_string(i) + "@example.test");
        EXPECT_EQ(record->groups, std::vector<std::string>{"g-u" + std::to_string(i)});
        EXPECT_EQ(record->source, "corp");
    }
    // Keys are normalised addresses: a caller that did not normalise finds nothing.
    EXPECT_FALSE(find_in_snapshot(snap->bytes, "User1@Example.TEST").has_value());
    EXPECT_FALSE(find_in_snapshot(snap->bytes, "nobody@example.test").has_value());
    EXPECT_FALSE(find_in_snapshot(snap->bytes, "").has_value());
}

TEST(UserSnapshot, AmbiguousAndUnusableAddressesAreLeftOut) {
    auto snap = make_user_snapshot({
        user("twin@example.test", "a"),
        user("Twin@EXAMPLE.test", "b"),  // the same person twice: neither is trusted
        user("a@b@example.test", "c"),   // two '@'
        user("trailing@example.test.", "d"),
        user("", "e"),
        user("solo@example.test", "f"),
    });
    ASSERT_TRUE(snap.has_value());
    EXPECT_EQ(snap->stats.users, 1u);
    EXPECT_EQ(snap->stats.duplicates, 2u);
    EXPECT_EQ(snap->stats.no_email, 3u);
    EXPECT_FALSE(find_in_snapshot(snap->bytes, "twin@example.test").has_value());
    EXPECT_TRUE(find_in_snapshot(snap->bytes, "solo@example.test").has_value());
}

TEST(UserSnapshot, ValuesStayHeaderSafe) {
    auto snap = make_user_snapshot({user("100%real@example.test", "pct")});
    ASSERT_TRUE(snap.has_value());
    auto found = find_in_snapshot(snap->bytes, "100%real@example.test");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(decode_session(*found)->email, "100%25real@example.test");
}

TEST(UserSnapshot, EmptyAndDamagedBlocksFindNothing) {
    auto empty = make_user_snapshot({});
    ASSERT_TRUE(empty.has_value());
    EXPECT_EQ(snapshot_size(empty->bytes), 0u);
    EXPECT_FALSE(find_in_snapshot(empty->bytes, "a@example.test").has_value());
    auto snap = make_user_snapshot({user("a@example.test", "a"), user("b@example.test", "b")});
    ASSERT_TRUE(snap.has_value());
    for (std::size_t cut = 0; cut < snap->bytes.size(); ++cut) {
        const std::string_view truncated(snap->bytes.data(), cut);
        auto found = find_in_snapshot(truncated, "b@example.test");
        if (found) EXPECT_LE(found->data() + found->size(), truncated.data() + truncated.size());
    }
    std::string wrong = snap->bytes;
    wrong[0] = 'X';
    EXPECT_FALSE(find_in_snapshot(wrong, "a@example.test").has_value());
    std::string huge_count = snap->bytes;
    huge_count[4] = '\x7f';  // a count the block cannot hold
    EXPECT_EQ(snapshot_size(huge_count), 0u);
}

}  // namespace
}  // namespace sso
