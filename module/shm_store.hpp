// The embedded store: nginx shared-memory zones used by all workers, surviving reloads.
// An rbtree finds entries; one LRU queue per table decides what goes when memory runs out.
// Sessions, pending requests, cached credentials and the SLO index share one zone and may be
// evicted early. Seen assertions
// (the replay cache) live in a zone of their own and are never evicted before they expire:
// session turnover cannot make a replay succeed, and a login storm cannot push out sessions.
// A full replay zone refuses new logins (fail closed) until entries expire. The replay zone
// is saved to a file when nginx stops and loaded at the next start (sso_replay_state).
#pragma once

#include "module/ngx_includes.hpp"

#include <string>

#include "session/store.hpp"

namespace sso::ngx {

// The shared block of a zone of ours: the previous configuration's on a reload, the one
// already in the segment, or a new zeroed block of `size` bytes (then `fresh` is set).
// Null when the zone has no room for it.
void* zone_shared_block(ngx_shm_zone_t* zone, void* data, std::size_t size, bool& fresh) noexcept;

// What a zone holds, for the status endpoint.
struct ZoneStats {
    ngx_str_t name;
    std::size_t size;
    std::size_t used_bytes;  // whole slab pages in use
    ngx_uint_t entries[kTableCount];
};

class ShmStore final : public Store {
public:
    ShmStore(ngx_shm_zone_t* zone, ngx_shm_zone_t* replay_zone) noexcept : zone_(zone), replay_zone_(replay_zone) {}

    // ngx_shm_zone_t.init: set up the tree, or adopt the one a previous configuration made.
    static ngx_int_t init_zone(ngx_shm_zone_t* zone, void* data) noexcept;
    // The same for the replay zone, whose `data` names the sso_replay_state file (empty: off):
    // a new zone is filled from it (session/replay_state.hpp).
    static ngx_int_t init_replay_zone(ngx_shm_zone_t* zone, void* data) noexcept;

    // Assertions issued before this time may have been accepted without the replay
    // zone knowing (it started empty then): refuse them.
    std::int64_t replay_horizon() const noexcept;
    // At the master's exit: the replay zone's live entries and horizon to `path`.
    void save_replay_state(const ngx_str_t& path, ngx_log_t* log) const noexcept;

    void get(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept override;
    void put(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now, StoreCallback cb,
             void* ctx) noexcept override;
    void insert_new(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                    StoreCallback cb, void* ctx) noexcept override;
    void take(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept override;
    void remove(Table t, std::string_view key, StoreCallback cb, void* ctx) noexcept override;
    void add_member(Table t, std::string_view key, std::string_view member, Lifetime life, std::int64_t now,
                    StoreCallback cb, void* ctx) noexcept override;
    void take_members(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept override;

    ZoneStats stats(Table t) const noexcept;  // of the zone that holds table t

private:
    enum class Write { overwrite, only_if_absent };
    void write(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now, Write mode,
               StoreCallback cb, void* ctx) noexcept;
    void read(Table t, std::string_view key, std::int64_t now, bool remove_after, StoreCallback cb, void* ctx) noexcept;

    ngx_shm_zone_t* zone_for(Table t) const noexcept { return t == Table::seen_assertions ? replay_zone_ : zone_; }

    ngx_shm_zone_t* zone_;
    ngx_shm_zone_t* replay_zone_;
    // Values are copied here under the lock and handed out after it: one buffer per worker,
    // reused, so a lookup does not allocate once it has grown to the largest session.
    std::string scratch_;
};

}  // namespace sso::ngx
