#include <gtest/gtest.h>

#include "session/replay_state.hpp"

namespace sso {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

std::vector<ReplayEntry> sample() {
    return {{"https://idp/metadata\n_a1", "1", kNow + 300},
            {"authn\n_xyz", "1", kNow + 10},
            {"https://idp/metadata\n_old", "1", kNow - 1}};
}

TEST(ReplayState, RoundTripKeepsTheEntriesStillValid) {
    const auto decoded = decode_replay_state(encode_replay_state(kNow - 3600, sample()), kNow);
    EXPECT_TRUE(decoded.complete);
    EXPECT_EQ(decoded.horizon, kNow - 3600);
    ASSERT_EQ(decoded.entries.size(), 2u);
    EXPECT_EQ(decoded.entries[0].key, "https://idp/metadata\n_a1");
    EXPECT_EQ(decoded.entries[0].value, "1");
    EXPECT_EQ(decoded.entries[0].expires, kNow + 300);
    EXPECT_EQ(decoded.entries[1].key, "authn\n_xyz");
    // later, the short one is gone too
    EXPECT_EQ(decode_replay_state(encode_replay_state(kNow - 3600, sample()), kNow + 10).entries.size(), 1u);
}

TEST(ReplayState, EmptyCacheIsACompleteFile) {
    const auto decoded = decode_replay_state(encode_replay_state(0, {}), kNow);
    EXPECT_TRUE(decoded.complete);
    EXPECT_TRUE(decoded.entries.empty());
}

TEST(ReplayState, FileCutShortIsNotComplete) {
    const std::string bytes = encode_replay_state(kNow - 3600, sample());
    for (std::size_t len = 0; len < bytes.size(); ++len) {
        const auto decoded = decode_replay_state(std::string_view(bytes).substr(0, len), kNow);
        EXPECT_FALSE(decoded.complete) << len;
        EXPECT_LE(decoded.entries.size(), 2u);
    }
}

TEST(ReplayState, DamagedOrForeignFileIsNotComplete) {
    std::string bytes = encode_replay_state(kNow - 3600, sample());
    EXPECT_FALSE(decode_replay_state(bytes + "x", kNow).complete);
    EXPECT_FALSE(decode_replay_state("not a replay state\n", kNow).complete);
    bytes[bytes.size() - 1] ^= 1;  // the count in the trailer
    EXPECT_FALSE(decode_replay_state(bytes, kNow).complete);
}

TEST(ReplayState, WhatWasIssuedUpToTheHorizonIsRefused) {
    EXPECT_TRUE(issued_before_replay_cache(kNow - 100, kNow));
    EXPECT_TRUE(issued_before_replay_cache(kNow - 1, kNow));
    EXPECT_FALSE(issued_before_replay_cache(kNow, kNow));
    EXPECT_FALSE(issued_before_replay_cache(kNow + 1, kNow));
    // a cache that has known everything since 1970
    EXPECT_FALSE(issued_before_replay_cache(kNow - 100, 0));
}

}  // namespace
}  // namespace sso
