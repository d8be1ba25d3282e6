// The embedded store: one nginx shared-memory zone used by all workers, surviving reloads.
// An rbtree finds entries; one LRU queue per table decides what goes when memory runs out.
// Sessions and pending requests may be evicted early; seen assertions never are (a replay
// must never succeed because the zone was busy), so a zone full of them refuses new ones.
#pragma once

#include "module/ngx_includes.hpp"

#include <string>

#include "session/store.hpp"

namespace sso::ngx {

class ShmStore final : public Store {
public:
    explicit ShmStore(ngx_shm_zone_t* zone) noexcept : zone_(zone) {}

    // ngx_shm_zone_t.init: set up the tree, or adopt the one a previous configuration made.
    static ngx_int_t init_zone(ngx_shm_zone_t* zone, void* data) noexcept;

    void get(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept override;
    void put(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now, StoreCallback cb,
             void* ctx) noexcept override;
    void insert_new(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                    StoreCallback cb, void* ctx) noexcept override;
    void take(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept override;
    void remove(Table t, std::string_view key, StoreCallback cb, void* ctx) noexcept override;

private:
    enum class Write { overwrite, only_if_absent };
    void write(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now, Write mode,
               StoreCallback cb, void* ctx) noexcept;
    void read(Table t, std::string_view key, std::int64_t now, bool remove_after, StoreCallback cb, void* ctx) noexcept;

    ngx_shm_zone_t* zone_;
    // Values are copied here under the lock and handed out after it: one buffer per worker,
    // reused, so a lookup does not allocate once it has grown to the largest session.
    std::string scratch_;
};

}  // namespace sso::ngx
