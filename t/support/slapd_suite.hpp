// One slapd for a whole GoogleTest suite: started before its first test, killed after its last.
// `Derived` says how in `static std::string start(Slapd&)` (empty on success, else why not);
// every test of a suite whose slapd did not start fails with that reason.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "t/support/slapd.hpp"

namespace sso::testing {

template <class Derived>
class SlapdSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // A write to a connection slapd dropped must fail with EPIPE, not kill the test binary
        // (nginx ignores SIGPIPE too).
        std::signal(SIGPIPE, SIG_IGN);
        slapd_ = new Slapd;
        startup_error_ = new std::string(Derived::start(*slapd_));
    }
    static void TearDownTestSuite() {
        delete slapd_;  // kills slapd by PID, removes its directory
        slapd_ = nullptr;
        delete startup_error_;
        startup_error_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(startup_error_->empty()) << *startup_error_; }

    static inline Slapd* slapd_ = nullptr;
    static inline std::string* startup_error_ = nullptr;
};

}  // namespace sso::testing
