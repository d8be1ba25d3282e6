#include "module/shm_store.hpp"

#include <cstring>
#include <span>
#include <vector>

#include "session/replay_state.hpp"

#include "session/member_set.hpp"

namespace sso::ngx {
namespace {

struct Node {
    ngx_rbtree_node_t rb;  // rb.key: hash of table and key
    ngx_queue_t lru;
    std::int64_t expires;
    std::int64_t idle_timeout;
    std::int64_t last_access;
    std::uint32_t value_len;
    std::uint16_t key_len;
    std::uint8_t table;
    u_char data[1];  // key bytes, then value bytes
};

struct Shared {
    ngx_rbtree_t tree;
    ngx_rbtree_node_t sentinel;
    ngx_queue_t lru[kTableCount];
    ngx_uint_t count[kTableCount];
    // Assertions issued before this time may have been accepted without this zone
    // knowing (session/replay_state.hpp): its start, or the horizon of the file it was loaded from.
    std::int64_t horizon;
};

constexpr std::size_t kMaxKey = 1024;

Node* node_of(ngx_rbtree_node_t* n) noexcept {
    return reinterpret_cast<Node*>(n);
}

int compare(const Node* n, std::uint8_t table, std::string_view key) noexcept {
    if (n->table != table) return n->table < table ? -1 : 1;
    if (n->key_len != key.size()) return n->key_len < key.size() ? -1 : 1;
    return std::memcmp(n->data, key.data(), key.size());
}

void insert_value(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel) noexcept {
    ngx_rbtree_node_t** p;
    for (;;) {
        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;
        } else {
            const Node* n = node_of(node);
            p = compare(node_of(temp), n->table, {reinterpret_cast<const char*>(n->data), n->key_len}) > 0
                    ? &temp->left
                    : &temp->right;
        }
        if (*p == sentinel) break;
        temp = *p;
    }
    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}

ngx_rbtree_key_t hash_of(std::uint8_t table, std::string_view key) noexcept {
    uint32_t crc;
    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, &table, 1);
    ngx_crc32_update(&crc, reinterpret_cast<u_char*>(const_cast<char*>(key.data())), key.size());
    ngx_crc32_final(crc);
    return crc;
}

bool expired(const Node* n, std::int64_t now) noexcept {
    return now >= n->expires || (n->idle_timeout > 0 && now >= n->last_access + n->idle_timeout);
}

class Locked {
public:
    explicit Locked(ngx_shm_zone_t* zone) noexcept
        : pool_(reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr)), sh_(static_cast<Shared*>(zone->data)) {
        ngx_shmtx_lock(&pool_->mutex);
    }
    ~Locked() { ngx_shmtx_unlock(&pool_->mutex); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

    Node* find(std::uint8_t table, std::string_view key) noexcept {
        const ngx_rbtree_key_t hash = hash_of(table, key);
        ngx_rbtree_node_t* n = sh_->tree.root;
        while (n != sh_->tree.sentinel) {
            if (hash != n->key) {
                n = hash < n->key ? n->left : n->right;
                continue;
            }
            const int rc = compare(node_of(n), table, key);
            if (rc == 0) return node_of(n);
            n = rc > 0 ? n->left : n->right;
        }
        return nullptr;
    }

    void erase(Node* n) noexcept {
        --sh_->count[n->table];
        ngx_queue_remove(&n->lru);
        ngx_rbtree_delete(&sh_->tree, &n->rb);
        ngx_slab_free_locked(pool_, n);
    }

    void touch(Node* n) noexcept {
        ngx_queue_remove(&n->lru);
        ngx_queue_insert_head(&sh_->lru[n->table], &n->lru);
    }

    // Drops up to `limit` expired entries from the cold end of each table.
    void expire(std::int64_t now, int limit) noexcept {
        for (auto& q : sh_->lru) {
            for (int i = 0; i < limit && !ngx_queue_empty(&q); ++i) {
                Node* n = ngx_queue_data(ngx_queue_last(&q), Node, lru);
                if (!expired(n, now)) break;
                erase(n);
            }
        }
    }

    // Memory for a node of `table`; evicts expired entries, then least recently used entries,
    // in an order per table (each victim list ends the search when nothing is left to evict):
    //  - sessions: other sessions (the same slab size class, so each one evicted frees a slot
    //    this write can use), then cached credential checks (cheapest to lose: the next request
    //    binds again), then pending requests;
    //  - pending requests (our LogoutRequests, of signed-in users; AuthnRequests are not
    //    stored): other pending requests, then credentials, then sessions; never an SLO index
    //    entry, which lives as long as its session;
    //  - SLO index entries: other index entries, then credentials; never a session or a login
    //    in flight; the same for the sets of sessions by NameID (slo_subjects);
    //  - cached credentials only push out cached credentials.
    // Seen assertions are never evicted, only expired.
    Node* allocate(std::size_t size, std::int64_t now, Table table) noexcept {
        expire(now, 2);
        if (void* p = ngx_slab_alloc_locked(pool_, size)) return static_cast<Node*>(p);
        expire(now, 64);
        struct Victim {
            Table table;
            int count;
        };
        static constexpr Victim kSessions[] = {
            {Table::sessions, 1}, {Table::credentials, 8}, {Table::pending_requests, 8}};
        static constexpr Victim kPending[] = {
            {Table::pending_requests, 1}, {Table::credentials, 8}, {Table::sessions, 8}};
        static constexpr Victim kIndex[] = {{Table::slo_index, 1}, {Table::credentials, 8}};
        static constexpr Victim kSubjects[] = {{Table::slo_subjects, 1}, {Table::credentials, 8}};
        static constexpr Victim kCredentials[] = {{Table::credentials, 1}};
        std::span<const Victim> victims;
        switch (table) {
            case Table::sessions:
                victims = kSessions;
                break;
            case Table::pending_requests:
                victims = kPending;
                break;
            case Table::slo_index:
                victims = kIndex;
                break;
            case Table::slo_subjects:
                victims = kSubjects;
                break;
            case Table::credentials:
                victims = kCredentials;
                break;
            case Table::seen_assertions:
                break;
        }
        for (int attempt = 0; attempt < 256; ++attempt) {
            if (void* p = ngx_slab_alloc_locked(pool_, size)) return static_cast<Node*>(p);
            bool evicted = false;
            for (const Victim& v : victims)
                if ((evicted = evict_oldest(v.table, v.count))) break;
            if (!evicted) return nullptr;
        }
        return nullptr;
    }

    bool evict_oldest(Table t, int count) noexcept {
        auto& q = sh_->lru[static_cast<int>(t)];
        int evicted = 0;
        for (; evicted < count && !ngx_queue_empty(&q); ++evicted) erase(ngx_queue_data(ngx_queue_last(&q), Node, lru));
        return evicted > 0;
    }

    ZoneStats stats(ngx_shm_zone_t* zone) const noexcept {
        ZoneStats s{};
        s.name = zone->shm.name;
        s.size = zone->shm.size;
        const auto pages = static_cast<std::size_t>(pool_->end - pool_->start) / ngx_pagesize;
        s.used_bytes = (pages - pool_->pfree) * ngx_pagesize;
        for (int i = 0; i < kTableCount; ++i) s.entries[i] = sh_->count[i];
        return s;
    }

    // Every live entry of a table, for the state file.
    std::vector<ReplayEntry> entries(Table t, std::int64_t now) const {
        std::vector<ReplayEntry> out;
        auto& q = sh_->lru[static_cast<int>(t)];
        for (ngx_queue_t* e = ngx_queue_head(&q); e != ngx_queue_sentinel(&q); e = ngx_queue_next(e)) {
            const Node* n = ngx_queue_data(e, Node, lru);
            if (expired(n, now)) continue;
            const auto* data = reinterpret_cast<const char*>(n->data);
            out.push_back({std::string(data, n->key_len), std::string(data + n->key_len, n->value_len), n->expires});
        }
        return out;
    }

    Shared* shared() const noexcept { return sh_; }

    // A new entry (the key is absent); false when there is no room for it.
    bool insert(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now) noexcept {
        const auto table = static_cast<std::uint8_t>(t);
        Node* n = allocate(offsetof(Node, data) + key.size() + value.size(), now, t);
        if (!n) return false;
        n->rb.key = hash_of(table, key);
        n->expires = life.expires;
        n->idle_timeout = life.idle_timeout;
        n->last_access = now;
        n->value_len = static_cast<std::uint32_t>(value.size());
        n->key_len = static_cast<std::uint16_t>(key.size());
        n->table = table;
        std::memcpy(n->data, key.data(), key.size());
        std::memcpy(n->data + key.size(), value.data(), value.size());
        link(n);
        return true;
    }

    void link(Node* n) noexcept {
        ++sh_->count[n->table];
        ngx_rbtree_insert(&sh_->tree, &n->rb);
        ngx_queue_insert_head(&sh_->lru[n->table], &n->lru);
    }

private:
    ngx_slab_pool_t* pool_;
    Shared* sh_;
};

}  // namespace

void* zone_shared_block(ngx_shm_zone_t* zone, void* data, std::size_t size, bool& fresh) noexcept {
    fresh = false;
    if (data) {  // reload: keep what the previous configuration had
        zone->data = data;
        return data;
    }
    auto* pool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
    if (zone->shm.exists) {
        zone->data = pool->data;
        return pool->data;
    }
    void* block = ngx_slab_calloc(pool, size);
    if (!block) return nullptr;
    pool->data = block;
    zone->data = block;
    fresh = true;
    return block;
}

namespace {

ngx_int_t init_shared(ngx_shm_zone_t* zone, void* data, bool& fresh) noexcept {
    auto* sh = static_cast<Shared*>(zone_shared_block(zone, data, sizeof(Shared), fresh));
    if (!sh) return NGX_ERROR;
    if (!fresh) return NGX_OK;  // the sessions of the previous configuration stay
    sh->horizon = ngx_time();
    auto* pool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
    ngx_rbtree_init(&sh->tree, &sh->sentinel, insert_value);
    for (auto& q : sh->lru) {
        ngx_queue_init(&q);
    }
    for (auto& c : sh->count) c = 0;
    static const char prefix[] = " in sso zone \"";
    const std::size_t len = sizeof(prefix) - 1 + zone->shm.name.len + 2;
    pool->log_ctx = static_cast<u_char*>(ngx_slab_alloc(pool, len));
    if (pool->log_ctx) ngx_sprintf(pool->log_ctx, " in sso zone \"%V\"%Z", &zone->shm.name);
    pool->log_nomem = 0;  // a full zone is handled (eviction), not an error to log each time
    return NGX_OK;
}

}  // namespace

ngx_int_t ShmStore::init_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    bool fresh = false;
    return init_shared(zone, data, fresh);
}

namespace {

bool read_whole_file(const std::string& path, std::string& out, ngx_err_t& err) noexcept {
    const ngx_fd_t fd = ngx_open_file(path.c_str(), NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        return false;
    }
    bool ok = true;
    try {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && ngx_errno == NGX_EINTR) continue;
            if (n <= 0) {
                ok = n == 0;
                err = ngx_errno;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    } catch (...) {
        ok = false;
        err = NGX_ENOMEM;
    }
    ngx_close_file(fd);
    return ok;
}

// The saved replay cache into a fresh zone; the file is deleted once read, so that a later
// crash cannot bring back this (then outdated) copy.
void load_replay_state(ngx_shm_zone_t* zone, const std::string& path, ngx_log_t* log) noexcept {
    std::string bytes;
    ngx_err_t err = 0;
    if (!read_whole_file(path, bytes, err)) {
        if (err == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "sso: no replay state \"%s\" from a clean stop: assertions issued before now are refused",
                          path.c_str());
        } else {
            ngx_log_error(NGX_LOG_WARN, log, err,
                          "sso: cannot read the replay state \"%s\": assertions issued before now are refused",
                          path.c_str());
        }
        return;
    }
    const std::int64_t now = ngx_time();
    DecodedReplayState state;
    try {
        state = decode_replay_state(bytes, now);
    } catch (...) {
        state = {};
    }
    if (ngx_delete_file(path.c_str()) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "sso: cannot delete the replay state \"%s\" after reading it: it is not used; assertions "
                      "issued before now are refused",
                      path.c_str());
        return;
    }
    Locked shm(zone);
    std::size_t loaded = 0;
    for (const ReplayEntry& e : state.entries) {
        if (!shm.insert(Table::seen_assertions, e.key, e.value, {e.expires, 0}, now)) break;
        ++loaded;
    }
    if (!state.complete || loaded != state.entries.size()) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "sso: replay state \"%s\" is %s: %uz entries loaded, assertions issued before now are refused",
                      path.c_str(), state.complete ? "larger than sso_replay_zone" : "damaged or cut short", loaded);
        return;
    }
    shm.shared()->horizon = state.horizon;
    ngx_log_error(NGX_LOG_NOTICE, log, 0, "sso: replay cache restored from \"%s\": %uz entries", path.c_str(), loaded);
}

}  // namespace

ngx_int_t ShmStore::init_replay_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    const auto* path = static_cast<const ngx_str_t*>(zone->data);  // the state file, or empty: off
    bool fresh = false;
    if (init_shared(zone, data, fresh) != NGX_OK) return NGX_ERROR;
    // nginx -t and nginx -s also make the zones: they must not take the file from the next start.
    if (!fresh || !path || !path->len || ngx_test_config || ngx_process == NGX_PROCESS_SIGNALLER) return NGX_OK;
    try {
        load_replay_state(zone, std::string(reinterpret_cast<const char*>(path->data), path->len), zone->shm.log);
    } catch (...) {
        ngx_log_error(NGX_LOG_WARN, zone->shm.log, 0, "sso: out of memory reading the replay state");
    }
    return NGX_OK;
}

std::int64_t ShmStore::replay_horizon() const noexcept {
    return static_cast<const Shared*>(replay_zone_->data)->horizon;
}

void ShmStore::save_replay_state(const ngx_str_t& path, ngx_log_t* log) const noexcept {
    try {
        const std::string file(reinterpret_cast<const char*>(path.data), path.len);
        const std::string temp = file + ".tmp";
        std::string bytes;
        std::size_t count = 0;
        {
            Locked shm(replay_zone_);
            const auto entries = shm.entries(Table::seen_assertions, ngx_time());
            count = entries.size();
            bytes = encode_replay_state(shm.shared()->horizon, entries);
        }
        const ngx_fd_t fd = ngx_open_file(temp.c_str(), NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);
        bool ok = fd != NGX_INVALID_FILE;
        for (std::size_t done = 0; ok && done < bytes.size();) {
            const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && ngx_errno == NGX_EINTR) continue;
            ok = n > 0;
            if (ok) done += static_cast<std::size_t>(n);
        }
        ok = ok && fsync(fd) == 0;
        const ngx_err_t err = ngx_errno;
        if (fd != NGX_INVALID_FILE) ngx_close_file(fd);
        ok = ok && ngx_rename_file(temp.c_str(), file.c_str()) != NGX_FILE_ERROR;
        if (!ok) {
            ngx_log_error(NGX_LOG_ALERT, log, err ? err : ngx_errno,
                          "sso: cannot save the replay cache to \"%s\": the next start refuses assertions issued "
                          "before it",
                          file.c_str());
            ngx_delete_file(temp.c_str());
            return;
        }
        ngx_log_error(NGX_LOG_NOTICE, log, 0, "sso: replay cache saved to \"%s\": %uz entries", file.c_str(), count);
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "sso: out of memory saving the replay cache");
    }
}

void ShmStore::read(Table t, std::string_view key, std::int64_t now, bool remove_after, StoreCallback cb,
                    void* ctx) noexcept {
    const auto table = static_cast<std::uint8_t>(t);
    bool found = false;
    {
        Locked shm(zone_for(t));
        Node* n = key.size() <= kMaxKey ? shm.find(table, key) : nullptr;
        if (n && expired(n, now)) {
            shm.erase(n);
            n = nullptr;
        }
        if (n) {
            try {
                scratch_.assign(reinterpret_cast<const char*>(n->data) + n->key_len, n->value_len);
                found = true;
            } catch (...) {
                found = false;
            }
            if (remove_after) {
                shm.erase(n);
            } else if (found) {
                n->last_access = now;
                shm.touch(n);
            }
        }
    }
    if (found)
        cb(ctx, {StoreStatus::ok, scratch_});
    else
        cb(ctx, {StoreStatus::not_found, {}});
}

void ShmStore::write(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now, Write mode,
                     StoreCallback cb, void* ctx) noexcept {
    const auto table = static_cast<std::uint8_t>(t);
    if (key.empty() || key.size() > kMaxKey || value.size() > UINT32_MAX) {
        cb(ctx, {StoreStatus::unavailable, {}});
        return;
    }
    StoreStatus status = StoreStatus::ok;
    {
        Locked shm(zone_for(t));
        if (Node* old = shm.find(table, key)) {
            if (mode == Write::only_if_absent && !expired(old, now)) {
                status = StoreStatus::exists;
            } else {
                shm.erase(old);
            }
        }
        if (status == StoreStatus::ok && !shm.insert(t, key, value, life, now)) status = StoreStatus::unavailable;
    }
    cb(ctx, {status, {}});
}

void ShmStore::get(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    read(t, key, now, false, cb, ctx);
}

void ShmStore::take(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    read(t, key, now, true, cb, ctx);
}

void ShmStore::put(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                   StoreCallback cb, void* ctx) noexcept {
    write(t, key, value, life, now, Write::overwrite, cb, ctx);
}

void ShmStore::insert_new(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                          StoreCallback cb, void* ctx) noexcept {
    write(t, key, value, life, now, Write::only_if_absent, cb, ctx);
}

ZoneStats ShmStore::stats(Table t) const noexcept {
    ngx_shm_zone_t* zone = zone_for(t);
    Locked shm(zone);
    return shm.stats(zone);
}

void ShmStore::remove(Table t, std::string_view key, StoreCallback cb, void* ctx) noexcept {
    bool found = false;
    {
        Locked shm(zone_for(t));
        if (Node* n = key.size() <= kMaxKey ? shm.find(static_cast<std::uint8_t>(t), key) : nullptr) {
            shm.erase(n);
            found = true;
        }
    }
    cb(ctx, {found ? StoreStatus::ok : StoreStatus::not_found, {}});
}

// The set is rewritten whole under the lock: a few session IDs, so a copy costs little.
void ShmStore::add_member(Table t, std::string_view key, std::string_view member, Lifetime life, std::int64_t now,
                          StoreCallback cb, void* ctx) noexcept {
    const auto table = static_cast<std::uint8_t>(t);
    if (key.empty() || key.size() > kMaxKey || !is_valid_set_member(member)) {
        cb(ctx, {StoreStatus::unavailable, {}});
        return;
    }
    StoreStatus status = StoreStatus::ok;
    {
        Locked shm(zone_for(t));
        try {
            Node* old = shm.find(table, key);
            const std::string_view current =
                old && !expired(old, now)
                    ? std::string_view(reinterpret_cast<const char*>(old->data) + old->key_len, old->value_len)
                    : std::string_view();
            scratch_ = add_set_member(current, member, life.expires, now);
        } catch (...) {
            status = StoreStatus::unavailable;
        }
        if (status == StoreStatus::ok) {
            if (Node* old = shm.find(table, key)) shm.erase(old);
            Node* n =
                scratch_.empty() ? nullptr : shm.allocate(offsetof(Node, data) + key.size() + scratch_.size(), now, t);
            if (!n) {
                status = StoreStatus::unavailable;
            } else {
                n->rb.key = hash_of(table, key);
                n->expires = set_expiry(scratch_);
                n->idle_timeout = 0;
                n->last_access = now;
                n->value_len = static_cast<std::uint32_t>(scratch_.size());
                n->key_len = static_cast<std::uint16_t>(key.size());
                n->table = table;
                std::memcpy(n->data, key.data(), key.size());
                std::memcpy(n->data + key.size(), scratch_.data(), scratch_.size());
                shm.link(n);
            }
        }
    }
    cb(ctx, {status, {}});
}

void ShmStore::take_members(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    bool found = false;
    {
        Locked shm(zone_for(t));
        Node* n = key.size() <= kMaxKey ? shm.find(static_cast<std::uint8_t>(t), key) : nullptr;
        if (n) {
            if (!expired(n, now)) {
                try {
                    scratch_ =
                        live_set_members({reinterpret_cast<const char*>(n->data) + n->key_len, n->value_len}, now);
                    found = true;
                } catch (...) {
                    found = false;
                }
            }
            shm.erase(n);
        }
    }
    if (found)
        cb(ctx, {StoreStatus::ok, scratch_});
    else
        cb(ctx, {StoreStatus::not_found, {}});
}

}  // namespace sso::ngx
