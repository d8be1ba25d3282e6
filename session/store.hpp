// The storage behind sessions, pending AuthnRequests (and LogoutRequests), the assertion (and
// LogoutRequest) replay cache, cached LDAP checks and the Single Logout index.
// Shared memory completes at once; a networked store (Redis) completes later on nginx's event
// loop. Every operation therefore reports through a callback, and callers cope with both.
#pragma once

#include <cstdint>
#include <string_view>

namespace sso {

enum class Table : std::uint8_t {
    sessions = 0,          // evictable (LRU) when memory runs out
    pending_requests = 1,  // LogoutRequests we sent and not yet saw answered (AuthnRequests carry their own state)
    seen_assertions = 2,   // replay cache: never evicted before its expiry, whatever the pressure
    credentials = 3,       // recent LDAP Basic checks, keyed by a keyed hash; the first to go
    slo_index = 4,         // SAML sessions by (scope, IdP, NameID, SessionIndex) for IdP-initiated logout; evictable
    slo_subjects = 5,      // sets of the SAML sessions of one (scope, IdP, NameID), for a LogoutRequest without
                           // SessionIndex; evictable; written only by add_member, read only by take_members
};
inline constexpr int kTableCount = 6;

enum class StoreStatus {
    ok,           // done; for get/take, value holds the stored bytes
    not_found,    // no such key, or it expired (absolute or idle)
    exists,       // insert_new: the key was already there
    unavailable,  // the store cannot answer (full of non-evictable data, network down)
};

struct StoreReply {
    StoreStatus status;
    std::string_view value;  // valid only during the callback: copy what you keep
};

// Invoked exactly once per operation, possibly before the operation returns.
using StoreCallback = void (*)(void* ctx, StoreReply reply) noexcept;

struct Lifetime {
    std::int64_t expires = 0;       // absolute unix time after which the entry is gone
    std::int64_t idle_timeout = 0;  // seconds without a get after which it is gone; 0 = none
};

class Store {
public:
    virtual ~Store() = default;
    // get refreshes the idle clock of the entry it finds.
    virtual void get(Table table, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept = 0;
    virtual void put(Table table, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                     StoreCallback cb, void* ctx) noexcept = 0;
    // Atomically: insert when absent (ok), or report exists without touching it.
    virtual void insert_new(Table table, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                            StoreCallback cb, void* ctx) noexcept = 0;
    // Atomically fetch and delete: a pending request can be answered only once.
    virtual void take(Table table, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept = 0;
    virtual void remove(Table table, std::string_view key, StoreCallback cb, void* ctx) noexcept = 0;

    // Sets (session/member_set.hpp): atomically add `member` to the set at `key` until
    // life.expires (each member expires on its own; the set goes with its last member).
    virtual void add_member(Table table, std::string_view key, std::string_view member, Lifetime life, std::int64_t now,
                            StoreCallback cb, void* ctx) noexcept = 0;
    // Atomically fetch and delete a set: value holds its live members, each followed by '\n'
    // (not_found when there is no set).
    virtual void take_members(Table table, std::string_view key, std::int64_t now, StoreCallback cb,
                              void* ctx) noexcept = 0;
};

}  // namespace sso
