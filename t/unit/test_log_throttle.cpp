#include <gtest/gtest.h>

#include "session/log_throttle.hpp"

namespace sso {
namespace {

TEST(LogThrottle, FirstFailureInFullThenACountPerInterval) {
    LogThrottle t(10'000);
    EXPECT_FALSE(t.active());
    EXPECT_TRUE(t.note(1'000));
    EXPECT_TRUE(t.active());
    for (int i = 0; i < 5000; ++i) EXPECT_FALSE(t.note(1'000 + i));
    EXPECT_EQ(t.tick(11'000), 5000u);  // one line for all of them
    EXPECT_TRUE(t.active());           // the run goes on: still counted, not logged
    EXPECT_FALSE(t.note(12'000));
    EXPECT_FALSE(t.note(13'000));
    EXPECT_EQ(t.tick(21'000), 2u);
    EXPECT_EQ(t.since_ms(), 21'000);
}

TEST(LogThrottle, AQuietIntervalEndsTheRun) {
    LogThrottle t(10'000);
    EXPECT_TRUE(t.note(0));
    EXPECT_EQ(t.tick(10'000), 0u);
    EXPECT_FALSE(t.active());
    // the next outage is said in full again
    EXPECT_TRUE(t.note(50'000));
    EXPECT_FALSE(t.note(50'001));
    EXPECT_EQ(t.tick(60'000), 1u);
    EXPECT_EQ(t.tick(70'000), 0u);
    EXPECT_FALSE(t.active());
}

TEST(LogThrottle, AnAnswerOfTheStoreEndsTheRun) {
    LogThrottle t(10'000);
    EXPECT_TRUE(t.note(0));
    EXPECT_FALSE(t.note(1));
    EXPECT_FALSE(t.note(2));
    EXPECT_EQ(t.recovered(), 2u);
    EXPECT_FALSE(t.active());
    EXPECT_EQ(t.recovered(), 0u);
    EXPECT_TRUE(t.note(3));  // a new outage
}

}  // namespace
}  // namespace sso
