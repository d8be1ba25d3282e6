// The user directory in shared memory: per imported source, the snapshot of its users
// (identity/user_directory.hpp) and the state of its imports, shared by all workers and kept
// across reloads. One mutex (the slab pool's) guards it; every hold is short: a binary search,
// a copy of one record, or swapping a snapshot in.
#pragma once

#include "module/ngx_includes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "identity/user_directory.hpp"

namespace sso::ngx {

enum class ImportOutcome : std::uint8_t { none = 0, ok = 1, failed = 2, refused = 3 };

// What sso_status shows of one source's imports.
struct ImportState {
    bool imported = false;  // a snapshot is in use
    std::size_t users = 0, no_email = 0, duplicates = 0;
    std::int64_t last_start = 0, last_end = 0, last_success = 0, next_due = 0;
    ImportOutcome last_outcome = ImportOutcome::none;
    std::string last_error;
    bool running = false;
    std::uint64_t imports = 0;   // successful imports since the zone was made
    std::uint64_t attempts = 0;  // imports started (successful or not)
};

enum class Presence { not_imported, present, absent };

struct DirectoryZone {
    // ngx_shm_zone_t.init. `zone->data` holds, before this runs, the std::vector<std::string>*
    // of source names that import: slots of sources no longer configured are emptied.
    static ngx_int_t init_zone(ngx_shm_zone_t* zone, void* data) noexcept;

    // The encoded record of `email` in `source`'s snapshot, copied into `pool`; data is null
    // when absent (or the pool is exhausted: `found` tells the two apart).
    static ngx_str_t copy_user(ngx_shm_zone_t* zone, std::string_view source, std::string_view email, ngx_pool_t* pool,
                               bool& found) noexcept;
    static Presence presence(ngx_shm_zone_t* zone, std::string_view source, std::string_view email) noexcept;
    static std::optional<ImportState> state(ngx_shm_zone_t* zone, std::string_view source) noexcept;

    // Claims the next import of `source` for this worker when one is due (its time came or a
    // sync was asked for) and no live process runs one. True: the caller must call publish().
    static bool claim(ngx_shm_zone_t* zone, std::string_view source, std::int64_t now) noexcept;
    // "Sync now": the next claim() takes it whatever the schedule. False when one is running.
    static bool request_sync(ngx_shm_zone_t* zone, std::string_view source) noexcept;

    struct Publish {
        const UserSnapshot* snapshot = nullptr;  // null: the import failed
        std::string error;                       // why it failed
        std::int64_t started = 0, now = 0;
        std::int64_t next_due = 0;
        unsigned max_drop_percent = 100;
    };
    // Ends the claimed import: swaps the snapshot in (unless it would drop more than
    // max_drop_percent of the users, or the zone has no room), records the outcome. Returns
    // the outcome, and in `message` a sentence for the log.
    static ImportOutcome publish(ngx_shm_zone_t* zone, std::string_view source, const Publish& p,
                                 std::string& message) noexcept;
};

}  // namespace sso::ngx
