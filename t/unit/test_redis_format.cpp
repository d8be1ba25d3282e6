#include "session/redis_format.hpp"

#include <gtest/gtest.h>

#include "session/session_cache.hpp"

namespace sso {
namespace {

TEST(RedisKey, PrefixTableNameAndKey) {
    EXPECT_EQ(redis_key("sso:", Table::sessions, "abc"), "sso:sessions:abc");
    EXPECT_EQ(redis_key("sso:", Table::pending_requests, "_id1"), "sso:pending_requests:_id1");
    EXPECT_EQ(redis_key("x/", Table::seen_assertions, "idp\nA1"), std::string("x/seen_assertions:idp\nA1"));
    EXPECT_EQ(redis_key("", Table::credentials, std::string_view("k\0y", 3)), std::string("credentials:k\0y", 15));
}

TEST(RedisKey, EveryTableHasItsOwnNameAndAnUnknownOneGetsANumber) {
    for (int i = 0; i < kTableCount; ++i)
        for (int j = i + 1; j < kTableCount; ++j)
            EXPECT_NE(table_name(static_cast<Table>(i)), table_name(static_cast<Table>(j)));
    EXPECT_EQ(table_name(static_cast<Table>(9)), "table9");
}

TEST(RedisValue, RoundTripIsBinarySafe) {
    const std::string payload("a\0b\r\n\xff", 6);
    const std::string wrapped = wrap_value(Table::sessions, {1700000000, 3600}, payload);
    EXPECT_EQ(wrapped.size(), kRedisEnvelopeHeader + payload.size());
    auto v = unwrap_value(Table::sessions, wrapped);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->payload, payload);
    EXPECT_EQ(v->life.expires, 1700000000);
    EXPECT_EQ(v->life.idle_timeout, 3600);
    auto empty = unwrap_value(Table::credentials, wrap_value(Table::credentials, {5, 0}, ""));
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->payload, "");
}

TEST(RedisValue, ForeignTruncatedPaddedOrOtherTableIsRefused) {
    const std::string wrapped = wrap_value(Table::sessions, {100, 0}, "payload");
    EXPECT_FALSE(unwrap_value(Table::sessions, ""));
    EXPECT_FALSE(unwrap_value(Table::sessions, "garbage that is long enough to hold a header"));
    EXPECT_FALSE(unwrap_value(Table::sessions, wrapped.substr(0, wrapped.size() - 1)));
    EXPECT_FALSE(unwrap_value(Table::sessions, wrapped.substr(0, kRedisEnvelopeHeader - 1)));
    EXPECT_FALSE(unwrap_value(Table::sessions, wrapped + "x"));
    EXPECT_FALSE(unwrap_value(Table::pending_requests, wrapped));
    std::string bad_magic = wrapped;
    bad_magic[3] = '\x02';
    EXPECT_FALSE(unwrap_value(Table::sessions, bad_magic));
    std::string negative_idle = wrap_value(Table::sessions, {100, -1}, "p");
    EXPECT_FALSE(unwrap_value(Table::sessions, negative_idle));
}

TEST(RedisTtl, AbsoluteExpiryOrIdlePeriodWhicheverComesFirst) {
    EXPECT_EQ(ttl_ms({1000, 0}, 900), 100000);
    EXPECT_EQ(ttl_ms({1000, 60}, 900), 60000);
    EXPECT_EQ(ttl_ms({1000, 600}, 900), 100000);
    // never zero or negative: Redis refuses PX 0, and a last-second entry still counts
    EXPECT_EQ(ttl_ms({900, 0}, 900), 1000);
    EXPECT_EQ(ttl_ms({800, 60}, 900), 1000);
}

TEST(RedisTtl, IdleRefreshNeverPassesTheAbsoluteExpiry) {
    EXPECT_FALSE(refreshed_expiry_ms({1000, 0}, 900));
    EXPECT_EQ(*refreshed_expiry_ms({1000, 60}, 900), 960000);
    EXPECT_EQ(*refreshed_expiry_ms({1000, 600}, 900), 1000000);
    EXPECT_EQ(*refreshed_expiry_ms({1000, 60}, 990), 1000000);
}

TEST(SessionCache, FreshWithinTtlThenOnlyStale) {
    SessionCache c(8);
    c.remember("s1", "v1", 100, 200);
    EXPECT_EQ(c.fresh("s1", 100, 5).value_or("-"), "v1");
    EXPECT_EQ(c.fresh("s1", 104, 5).value_or("-"), "v1");
    EXPECT_FALSE(c.fresh("s1", 105, 5));
    EXPECT_EQ(c.stale("s1", 150).value_or("-"), "v1");
    EXPECT_FALSE(c.fresh("s1", 100, 0));  // a TTL of 0 never serves from the cache
    EXPECT_FALSE(c.fresh("nope", 100, 5));
}

TEST(SessionCache, NeverPastTheSessionsOwnExpiry) {
    SessionCache c(8);
    c.remember("s1", "v1", 100, 103);
    EXPECT_TRUE(c.fresh("s1", 102, 60));
    EXPECT_FALSE(c.fresh("s1", 103, 60));
    EXPECT_FALSE(c.stale("s1", 103));
    EXPECT_EQ(c.size(), 0u);
    c.remember("s2", "v2", 100, 100);  // already expired: not kept
    EXPECT_EQ(c.size(), 0u);
}

TEST(SessionCache, ForgetAndReplace) {
    SessionCache c(8);
    c.remember("s1", "v1", 100, 200);
    c.remember("s1", "v2", 101, 200);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_EQ(c.fresh("s1", 101, 5).value_or("-"), "v2");
    c.forget("s1");
    EXPECT_FALSE(c.stale("s1", 101));
    c.forget("s1");
}

TEST(SessionCache, BoundedOldestReadGoesFirst) {
    SessionCache c(3);
    c.remember("a", "1", 100, 200);
    c.remember("b", "2", 101, 200);
    c.remember("c", "3", 102, 200);
    c.remember("a", "1", 103, 200);  // read again: now the newest
    c.remember("d", "4", 104, 200);
    EXPECT_EQ(c.size(), 3u);
    EXPECT_FALSE(c.stale("b", 104));
    EXPECT_TRUE(c.stale("a", 104));
    EXPECT_TRUE(c.stale("c", 104));
    EXPECT_TRUE(c.stale("d", 104));
    SessionCache off(0);
    off.remember("a", "1", 100, 200);
    EXPECT_FALSE(off.stale("a", 100));
}

}  // namespace
}  // namespace sso
