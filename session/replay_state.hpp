// The replay cache across a stop and a start of nginx.
//
// The embedded replay cache is shared memory: it survives a reload, not a stop. On a clean
// stop the master saves its entries to a file (sso_replay_state), and the next start loads
// them back and deletes the file. A cache also has a horizon: assertions issued before it
// may have been accepted without the cache knowing, and are refused. A cache that starts
// empty (first start, a crash, a binary upgrade, a new replay zone size) has its start as
// horizon; one loaded from a file keeps the horizon saved with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sso {

struct ReplayEntry {
    std::string key;
    std::string value;
    std::int64_t expires = 0;
};

// The file's bytes: a magic line, the horizon, the entries, and a trailer with their count
// (a file cut short is told from a complete one).
std::string encode_replay_state(std::int64_t horizon, const std::vector<ReplayEntry>& entries);

struct DecodedReplayState {
    std::int64_t horizon = 0;
    std::vector<ReplayEntry> entries;  // still valid at `now`, in file order
    bool complete = false;             // the whole file was read and its trailer matched
};

// Entries expired at `now` are left out. A damaged file yields what precedes the damage,
// not complete.
DecodedReplayState decode_replay_state(std::string_view bytes, std::int64_t now);

// An assertion issued before the horizon may have been accepted by an instance whose cache
// this one does not hold: refused. In whole seconds: one issued in the second of the horizon
// passes (a login that fast after a start is the common case, a replay that fast is not).
constexpr bool issued_before_replay_cache(std::int64_t issue_instant, std::int64_t horizon) noexcept {
    return issue_instant < horizon;
}

}  // namespace sso
