// One line for a run of like failures, then a count per interval.
//
// A store that stalls fails every request that needs it: one error line each fills the disk
// (a 10 s Redis stall once wrote 706,147 lines). The first failure of a run is logged in full;
// the later ones are counted, and the count is logged once per interval while they go on. A
// whole interval without a failure, or an answer of the store, ends the run: the next failure
// is logged in full again.
#pragma once

#include <cstdint>

namespace sso {

class LogThrottle {
public:
    explicit constexpr LogThrottle(std::int64_t interval_ms) noexcept : interval_ms_(interval_ms) {}

    // A failure at `now_ms`: true when it is to be logged in full (it starts a run; the caller
    // then arranges for tick() one interval later), false when it was only counted.
    bool note(std::int64_t now_ms) noexcept {
        if (active_) {
            ++counted_;
            return false;
        }
        active_ = true;
        counted_ = 0;
        since_ms_ = now_ms;
        return true;
    }

    // Once per interval while active(): the failures counted since the last report (to be
    // logged when not zero), which starts the next interval; zero ends the run.
    std::uint64_t tick(std::int64_t now_ms) noexcept {
        const std::uint64_t n = counted_;
        counted_ = 0;
        since_ms_ = now_ms;
        if (n == 0) active_ = false;
        return n;
    }

    // The store answered again: the run ends; what was counted since the last report is
    // returned, to be logged when not zero.
    std::uint64_t recovered() noexcept {
        const std::uint64_t n = counted_;
        counted_ = 0;
        active_ = false;
        return n;
    }

    bool active() const noexcept { return active_; }
    std::int64_t interval_ms() const noexcept { return interval_ms_; }
    std::int64_t since_ms() const noexcept { return since_ms_; }  // start of the current interval

private:
    std::int64_t interval_ms_;
    std::int64_t since_ms_ = 0;
    std::uint64_t counted_ = 0;
    bool active_ = false;
};

}  // namespace sso
