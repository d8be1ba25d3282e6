#include "module/shm_store.hpp"

#include <cstring>
#include <span>

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
    //  - pending requests: SLO index entries first (the same small size class; most belong to
    //    sessions already evicted, and losing one only loses IdP-initiated logout of a session
    //    that still ends at its expiry), then other pending requests (a flood of logins never
    //    pushes out sessions before that), then credentials, then sessions;
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
            {Table::slo_index, 8}, {Table::pending_requests, 1}, {Table::credentials, 8}, {Table::sessions, 8}};
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

ngx_int_t ShmStore::init_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    bool fresh = false;
    auto* sh = static_cast<Shared*>(zone_shared_block(zone, data, sizeof(Shared), fresh));
    if (!sh) return NGX_ERROR;
    if (!fresh) return NGX_OK;  // the sessions of the previous configuration stay
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
        if (status == StoreStatus::ok) {
            Node* n = shm.allocate(offsetof(Node, data) + key.size() + value.size(), now, t);
            if (!n) {
                status = StoreStatus::unavailable;
            } else {
                n->rb.key = hash_of(table, key);
                n->expires = life.expires;
                n->idle_timeout = life.idle_timeout;
                n->last_access = now;
                n->value_len = static_cast<std::uint32_t>(value.size());
                n->key_len = static_cast<std::uint16_t>(key.size());
                n->table = table;
                std::memcpy(n->data, key.data(), key.size());
                std::memcpy(n->data + key.size(), value.data(), value.size());
                shm.link(n);
            }
        }
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
