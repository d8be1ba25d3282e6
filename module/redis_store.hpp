// The networked store: sessions, pending AuthnRequests, the replay cache and cached LDAP
// checks in Redis, shared by every worker of every node that points at the same Redis.
//
// hiredis' asynchronous API runs on nginx's event loop: the context's socket becomes an
// ngx_connection_t (ngx_get_connection), hiredis' addRead/delRead/addWrite/delWrite hooks
// become level-triggered nginx events, and nginx timers bound the connect and every
// operation. One connection per worker, opened on first use and reused; after a failure the
// next attempt waits a backoff (0.25 s doubling to 5 s) during which operations fail at once,
// so a dead Redis costs a request no wait. Redis itself expires entries (PX TTLs). Needs
// Redis 6.2 or later (GETDEL). The sets of the slo_subjects table are sorted sets (score: a
// member's expiry), changed by short Lua scripts (EVAL) so that each change is atomic.
//
// An operation reports `unavailable` (with the reason as the reply's value) when Redis cannot
// be reached, refuses the command, or does not answer within the operation timeout; a timeout
// drops the connection, failing the other operations in flight with it.
#pragma once

#include "module/ngx_includes.hpp"

#include <cstdint>
#include <string>

#include <hiredis/async.h>

#include "session/session_cache.hpp"
#include "session/store.hpp"

namespace sso::ngx {

struct RedisOptions {
    std::string host;  // numeric address, resolved when the configuration loaded
    int port = 6379;
    std::string unix_path;  // instead of host:port when set
    std::string display;    // what logs and the status endpoint call it
    long database = 0;
    std::string password;
    std::string prefix = "sso:";
    ngx_msec_t connect_timeout = 1000;
    ngx_msec_t timeout = 1000;
    time_t session_cache = 0;              // sso_session_cache: seconds a read session is reused
    bool serve_cached_on_failure = false;  // sso_store_failure cached
};

class RedisStore final : public Store {
public:
    explicit RedisStore(RedisOptions options) : opt_(std::move(options)) {}
    ~RedisStore() override;
    RedisStore(const RedisStore&) = delete;
    RedisStore& operator=(const RedisStore&) = delete;

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

    // For sso_status: "idle" (not used yet), "connecting", "connected" or "down".
    const char* state() const noexcept;
    const std::string& last_error() const noexcept { return last_error_; }
    const RedisOptions& options() const noexcept { return opt_; }
    std::size_t cached_sessions() const noexcept { return cache_.size(); }

    struct Conn;  // one connection: the hiredis context and its ngx_connection_t
    struct Op;    // one operation in flight

private:
    enum class State { idle, connecting, connected, down };
    enum class Kind : std::uint8_t { get, take, put, insert_new, remove, add_member, take_members };

    void start(Op* op, int argc, const char** argv, const std::size_t* lens) noexcept;
    bool ensure_connected() noexcept;
    void fail(Op* op) noexcept;  // unavailable (or a cached session, in `cached` failure mode)
    void finish(Op* op, StoreStatus status, std::string_view value) noexcept;
    void drop_connection(std::string_view reason) noexcept;  // logs, backs off, fails ops in flight
    void lost(Conn* conn, std::string_view reason) noexcept;
    void back_off(std::string_view reason) noexcept;
    void key_command(Kind kind, std::string_view command, Table t, std::string_view key, std::int64_t now,
                     StoreCallback cb, void* ctx) noexcept;
    void write(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
               bool only_if_absent, StoreCallback cb, void* ctx) noexcept;
    void set_down(std::string_view reason) noexcept;
    void close_if_exiting() noexcept;

    static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
    static void on_connect(const redisAsyncContext* ac, int status) noexcept;
    static void on_cleanup(void* privdata) noexcept;
    static void on_timeout(ngx_event_t* ev) noexcept;
    static void on_connect_timeout(ngx_event_t* ev) noexcept;

    RedisOptions opt_;
    Conn* conn_ = nullptr;
    State state_ = State::idle;
    std::string last_error_;
    ngx_msec_t next_attempt_ = 0;  // ngx_current_msec before which no connect is tried
    ngx_msec_t backoff_ = 0;
    bool destroying_ = false;
    bool outage_ = false;  // the failure was logged; the next connection says it is back
    Op* ops_ = nullptr;    // in flight, doubly linked
    SessionCache cache_;
};

}  // namespace sso::ngx
