#include "module/redis_store.hpp"

#include <algorithm>
#include <new>

#include "session/member_set.hpp"
#include "session/redis_format.hpp"

namespace sso::ngx {

constexpr ngx_msec_t kFirstBackoff = 250;
constexpr ngx_msec_t kMaxBackoff = 5000;

struct RedisStore::Conn {
    RedisStore* store;
    redisAsyncContext* ac;
    ngx_connection_t* c;
    ngx_event_t connect_timer;
};

struct RedisStore::Op {
    RedisStore* store;
    StoreCallback cb;  // null once the caller was answered
    void* ctx;
    Table table;
    Kind kind;
    std::int64_t now;
    std::string key;  // the caller's key, for the session cache
    ngx_event_t timer;
    Op* prev = nullptr;
    Op* next = nullptr;
};

namespace {

// Keys and Redis' own messages may hold any byte: control characters are written as '?', and
// a line is cut at 500 bytes.
void log_store(ngx_uint_t level, std::string_view msg) noexcept {
    u_char buf[500];
    std::size_t n = 0;
    for (const char ch : msg.substr(0, sizeof buf)) {
        const auto u = static_cast<unsigned char>(ch);
        buf[n++] = (u < 0x20 || u == 0x7f) ? '?' : u;
    }
    ngx_str_t m{n, buf};
    ngx_log_error(level, ngx_cycle->log, 0, "sso redis: %V", &m);
}

// hiredis' event hooks: level-triggered nginx events on the context's socket. Idempotent.
void add_event(void* data, bool write) noexcept {
    auto* conn = static_cast<RedisStore::Conn*>(data);
    ngx_event_t* ev = write ? conn->c->write : conn->c->read;
    if (!ev->active) ngx_add_event(ev, write ? NGX_WRITE_EVENT : NGX_READ_EVENT, NGX_LEVEL_EVENT);
}

void del_event(void* data, bool write) noexcept {
    auto* conn = static_cast<RedisStore::Conn*>(data);
    ngx_event_t* ev = write ? conn->c->write : conn->c->read;
    if (ev->active) ngx_del_event(ev, write ? NGX_WRITE_EVENT : NGX_READ_EVENT, 0);
}

}  // namespace

RedisStore::~RedisStore() {
    // The worker is exiting: its cycle pool goes. Nobody is waiting any more.
    destroying_ = true;
    for (Op* op = ops_; op; op = op->next) {
        op->cb = nullptr;
        if (op->timer.timer_set) ngx_del_timer(&op->timer);
    }
    if (conn_) {
        redisAsyncContext* ac = conn_->ac;
        conn_ = nullptr;
        redisAsyncFree(ac);
    }
}

const char* RedisStore::state() const noexcept {
    switch (state_) {
        case State::idle:
            return "idle";
        case State::connecting:
            return "connecting";
        case State::connected:
            return "connected";
        case State::down:
            return "down";
    }
    return "unknown";
}

void RedisStore::set_down(std::string_view reason) noexcept {
    try {
        last_error_ = "redis " + opt_.display + ": " + std::string(reason);
        if (!outage_)
            log_store(NGX_LOG_ERR, last_error_ + (opt_.serve_cached_on_failure
                                                      ? "; sessions this worker read recently are let through"
                                                      : "; requests that need the store get 503"));
    } catch (...) {
    }
    state_ = State::down;
    outage_ = true;
}

// No connection now: wait a while before the next attempt, longer after each failure.
void RedisStore::back_off(std::string_view reason) noexcept {
    set_down(reason);
    backoff_ = backoff_ ? std::min(backoff_ * 2, kMaxBackoff) : kFirstBackoff;
    next_attempt_ = ngx_current_msec + backoff_;
}

// The connection `conn` is gone or going: forget it.
void RedisStore::lost(Conn* conn, std::string_view reason) noexcept {
    if (conn != conn_) return;
    conn_ = nullptr;
    back_off(reason);
}

void RedisStore::drop_connection(std::string_view reason) noexcept {
    if (!conn_) return;
    redisAsyncContext* ac = conn_->ac;
    lost(conn_, reason);
    // Runs every callback still queued with no reply (they fail), then on_cleanup; deferred
    // by hiredis until the callback we may be in returns.
    redisAsyncFree(ac);
}

// Graceful shutdown: the connection goes once nothing waits on it, so the worker can exit
// without an open socket.
void RedisStore::close_if_exiting() noexcept {
    if (!ngx_exiting || ops_ || !conn_ || destroying_) return;
    redisAsyncContext* ac = conn_->ac;
    conn_ = nullptr;
    state_ = State::idle;
    redisAsyncFree(ac);
}

bool RedisStore::ensure_connected() noexcept {
    if (conn_) return true;
    if (state_ == State::down && static_cast<ngx_msec_int_t>(ngx_current_msec - next_attempt_) < 0) return false;
    redisAsyncContext* ac = opt_.unix_path.empty() ? redisAsyncConnect(opt_.host.c_str(), opt_.port)
                                                   : redisAsyncConnectUnix(opt_.unix_path.c_str());
    if (!ac) {
        set_down("out of memory");
        return false;
    }
    if (ac->err) {
        back_off(ac->errstr);
        redisAsyncFree(ac);
        return false;
    }
    auto* conn = new (std::nothrow) Conn{this, ac, nullptr, {}};
    ngx_connection_t* c = conn ? ngx_get_connection(ac->c.fd, ngx_cycle->log) : nullptr;
    if (!c) {
        delete conn;
        redisAsyncFree(ac);
        set_down("no free connection for Redis (worker_connections)");
        return false;
    }
    conn->c = c;
    c->data = conn;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    // Graceful shutdown calls the read handler of idle connections with c->close set.
    c->idle = 1;
    c->read->handler = [](ngx_event_t* ev) {
        auto* c = static_cast<ngx_connection_t*>(ev->data);
        auto* conn = static_cast<Conn*>(c->data);
        if (c->close) {
            conn->store->close_if_exiting();
            return;
        }
        redisAsyncHandleRead(conn->ac);  // may free conn
    };
    c->write->handler = [](ngx_event_t* ev) {
        auto* c = static_cast<ngx_connection_t*>(ev->data);
        redisAsyncHandleWrite(static_cast<Conn*>(c->data)->ac);  // may free conn
    };
    ac->data = conn;
    ac->ev.data = conn;
    ac->ev.addRead = [](void* d) { add_event(d, false); };
    ac->ev.delRead = [](void* d) { del_event(d, false); };
    ac->ev.addWrite = [](void* d) { add_event(d, true); };
    ac->ev.delWrite = [](void* d) { del_event(d, true); };
    ac->ev.cleanup = [](void* d) { on_cleanup(d); };
    redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* ac, int status) { on_connect(ac, status); });
    conn->connect_timer.handler = [](ngx_event_t* ev) { on_connect_timeout(ev); };
    conn->connect_timer.data = conn;
    conn->connect_timer.log = ngx_cycle->log;
    ngx_add_timer(&conn->connect_timer, opt_.connect_timeout);
    conn_ = conn;
    state_ = State::connecting;
    // Queued now, sent once connected; a refusal drops the connection.
    auto setup = [](redisAsyncContext* ac, void* reply, void* d) { on_setup_reply(ac, reply, d); };
    if (!opt_.password.empty()) {
        const char* argv[] = {"AUTH", opt_.password.c_str()};
        const std::size_t lens[] = {4, opt_.password.size()};
        redisAsyncCommandArgv(ac, setup, conn, 2, argv, lens);
    }
    if (opt_.database != 0) {
        const std::string db = std::to_string(opt_.database);
        const char* argv[] = {"SELECT", db.c_str()};
        const std::size_t lens[] = {6, db.size()};
        redisAsyncCommandArgv(ac, setup, conn, 2, argv, lens);
    }
    return conn_ != nullptr;
}

void RedisStore::on_connect(const redisAsyncContext* ac, int status) noexcept {
    auto* conn = static_cast<Conn*>(ac->data);
    RedisStore* self = conn->store;
    if (conn->connect_timer.timer_set) ngx_del_timer(&conn->connect_timer);
    if (status != REDIS_OK) {
        self->lost(conn, ac->errstr);  // hiredis frees the context next
        return;
    }
    if (conn != self->conn_) return;
    self->state_ = State::connected;
}

void RedisStore::on_connect_timeout(ngx_event_t* ev) noexcept {
    auto* conn = static_cast<Conn*>(ev->data);
    RedisStore* self = conn->store;
    if (conn == self->conn_)
        self->drop_connection("no connection within " + std::to_string(self->opt_.connect_timeout) + " ms");
}

void RedisStore::on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept {
    auto* conn = static_cast<Conn*>(privdata);
    auto* r = static_cast<redisReply*>(reply);
    if (!r || r->type != REDIS_REPLY_ERROR || conn != conn->store->conn_) return;
    (void)ac;
    try {
        conn->store->drop_connection("connection set-up refused: " + std::string(r->str, r->len));
    } catch (...) {
        conn->store->drop_connection("connection set-up refused");
    }
}

void RedisStore::on_cleanup(void* privdata) noexcept {
    auto* conn = static_cast<Conn*>(privdata);
    RedisStore* self = conn->store;
    // hiredis 0.14 calls this once when an error disconnects and again when it frees the
    // context: only the first call counts, and no event hook may run after it.
    redisAsyncContext* ac = conn->ac;
    ac->ev.cleanup = nullptr;
    ac->ev.addRead = ac->ev.delRead = ac->ev.addWrite = ac->ev.delWrite = nullptr;
    ac->ev.data = nullptr;
    if (conn == self->conn_) {
        // Closed by Redis (restart, timeout, kill) while idle: try again on the next request.
        const char* why = conn->ac->err ? conn->ac->errstr : "connection closed";
        self->lost(conn, why);
        self->next_attempt_ = ngx_current_msec;
    }
    if (conn->connect_timer.timer_set) ngx_del_timer(&conn->connect_timer);
    ngx_connection_t* c = conn->c;
    if (!self->destroying_) {
        del_event(conn, false);
        del_event(conn, true);
        // (braces: the macro is several statements)
        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }
        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }
    }
    ngx_free_connection(c);
    c->fd = static_cast<ngx_socket_t>(-1);  // hiredis closes the socket itself
    delete conn;
}

void RedisStore::finish(Op* op, StoreStatus status, std::string_view value) noexcept {
    if (op->prev)
        op->prev->next = op->next;
    else if (ops_ == op)
        ops_ = op->next;
    if (op->next) op->next->prev = op->prev;
    if (op->timer.timer_set) ngx_del_timer(&op->timer);
    const StoreCallback cb = op->cb;
    void* ctx = op->ctx;
    delete op;
    if (cb) cb(ctx, {status, value});
    close_if_exiting();
}

void RedisStore::fail(Op* op) noexcept {
    try {
        if (op->kind == Kind::get && op->table == Table::sessions && opt_.serve_cached_on_failure) {
            if (auto v = cache_.stale(op->key, op->now)) {
                const std::string copy(*v);
                finish(op, StoreStatus::ok, copy);
                return;
            }
        }
        const std::string reason = last_error_;
        finish(op, StoreStatus::unavailable, reason);
    } catch (...) {
        finish(op, StoreStatus::unavailable, {});
    }
}

void RedisStore::on_timeout(ngx_event_t* ev) noexcept {
    auto* op = static_cast<Op*>(ev->data);
    RedisStore* self = op->store;
    if (self->conn_) {
        // A Redis that does not answer one command answers none: start afresh after a while.
        self->drop_connection("no answer within " + std::to_string(self->opt_.timeout) + " ms");
    } else {
        self->fail(op);
    }
}

void RedisStore::start(Op* op, int argc, const char** argv, const std::size_t* lens) noexcept {
    op->store = this;
    op->timer.handler = [](ngx_event_t* ev) { on_timeout(ev); };
    op->timer.data = op;
    op->timer.log = ngx_cycle->log;
    op->next = ops_;
    if (ops_) ops_->prev = op;
    ops_ = op;
    if (!ensure_connected()) {
        fail(op);
        return;
    }
    auto reply = [](redisAsyncContext* ac, void* r, void* d) { on_reply(ac, r, d); };
    if (redisAsyncCommandArgv(conn_->ac, reply, op, argc, argv, lens) != REDIS_OK) {
        fail(op);
        return;
    }
    ngx_add_timer(&op->timer, opt_.timeout);
}

void RedisStore::on_reply(redisAsyncContext* ac, void* reply, void* privdata) noexcept {
    auto* op = static_cast<Op*>(privdata);
    RedisStore* self = op->store;
    auto* r = static_cast<redisReply*>(reply);
    if (!r) {  // the connection is going away
        if (self->conn_ && self->conn_->ac == ac) self->lost(self->conn_, ac->err ? ac->errstr : "connection lost");
        self->fail(op);
        return;
    }
    try {
        if (r->type == REDIS_REPLY_ERROR) {
            // The connection stands (an old Redis without GETDEL, a full Redis refusing
            // writes, a wrong database): said once per distinct refusal.
            const std::string why = "redis " + self->opt_.display + ": command refused: " + std::string(r->str, r->len);
            if (why != self->last_error_) log_store(NGX_LOG_ERR, why);
            self->last_error_ = why;
            self->fail(op);
            return;
        }
        self->backoff_ = 0;
        if (self->outage_) {  // said once the first answer comes, not at a connect that may hang
            self->outage_ = false;
            log_store(NGX_LOG_NOTICE, "answering again at " + self->opt_.display);
        }
        switch (op->kind) {
            case Kind::put:
                self->finish(op, StoreStatus::ok, {});
                return;
            case Kind::insert_new:
                self->finish(op, r->type == REDIS_REPLY_NIL ? StoreStatus::exists : StoreStatus::ok, {});
                return;
            case Kind::remove:
                self->finish(
                    op, r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? StoreStatus::ok : StoreStatus::not_found,
                    {});
                return;
            case Kind::add_member:
                self->finish(op, StoreStatus::ok, {});
                return;
            case Kind::take_members: {
                if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
                    self->finish(op, StoreStatus::not_found, {});
                    return;
                }
                std::string members;
                for (std::size_t i = 0; i < r->elements; ++i) {
                    const redisReply* e = r->element[i];
                    if (!e || e->type != REDIS_REPLY_STRING) continue;
                    const std::string_view m(e->str, e->len);
                    if (!is_valid_set_member(m)) continue;
                    members.append(m);
                    members += '\n';
                }
                self->finish(op, StoreStatus::ok, members);
                return;
            }
            case Kind::get:
            case Kind::take:
                break;
        }
        if (r->type != REDIS_REPLY_STRING) {
            if (op->table == Table::sessions) self->cache_.forget(op->key);
            self->finish(op, StoreStatus::not_found, {});
            return;
        }
        const std::string_view bytes(r->str, r->len);
        const auto stored = unwrap_value(op->table, bytes);
        const std::string rkey = redis_key(self->opt_.prefix, op->table, op->key);
        if (!stored) {
            // Not ours, or cut short: no such entry. It goes, so this is said once.
            log_store(NGX_LOG_WARN, "key \"" + rkey.substr(0, 200) + "\" holds " + std::to_string(bytes.size()) +
                                        " bytes that are not a value of ours (foreign or truncated); deleted, "
                                        "treated as absent");
            const char* argv[] = {"DEL", rkey.c_str()};
            const std::size_t lens[] = {3, rkey.size()};
            redisAsyncCommandArgv(ac, nullptr, nullptr, 2, argv, lens);
            if (op->table == Table::sessions) self->cache_.forget(op->key);
            self->finish(op, StoreStatus::not_found, {});
            return;
        }
        if (op->now >= stored->life.expires) {
            self->finish(op, StoreStatus::not_found, {});
            return;
        }
        if (op->kind == Kind::get) {
            if (auto at = refreshed_expiry_ms(stored->life, op->now)) {
                const std::string ms = std::to_string(*at);
                const char* argv[] = {"PEXPIREAT", rkey.c_str(), ms.c_str()};
                const std::size_t lens[] = {9, rkey.size(), ms.size()};
                redisAsyncCommandArgv(ac, nullptr, nullptr, 3, argv, lens);
            }
            if (op->table == Table::sessions && (self->opt_.session_cache > 0 || self->opt_.serve_cached_on_failure))
                self->cache_.remember(op->key, stored->payload, op->now, stored->life.expires);
        }
        self->finish(op, StoreStatus::ok, stored->payload);  // the reply lives until we return
    } catch (...) {
        self->finish(op, StoreStatus::unavailable, {});
    }
}

// --- the Store interface -------------------------------------------------------------------

// GET, GETDEL or DEL of one key.
void RedisStore::key_command(Kind kind, std::string_view command, Table t, std::string_view key, std::int64_t now,
                             StoreCallback cb, void* ctx) noexcept {
    try {
        const std::string rkey = redis_key(opt_.prefix, t, key);
        auto* op = new Op{this, cb, ctx, t, kind, now, std::string(key), {}};
        const char* argv[] = {command.data(), rkey.c_str()};
        const std::size_t lens[] = {command.size(), rkey.size()};
        start(op, 2, argv, lens);
    } catch (...) {
        cb(ctx, {StoreStatus::unavailable, {}});
    }
}

void RedisStore::get(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    if (t == Table::sessions && opt_.session_cache > 0) {
        try {
            if (auto v = cache_.fresh(key, now, opt_.session_cache)) {
                const std::string copy(*v);  // the callback may change the cache
                cb(ctx, {StoreStatus::ok, copy});
                return;
            }
        } catch (...) {
            // asked of Redis instead
        }
    }
    key_command(Kind::get, "GET", t, key, now, cb, ctx);
}

void RedisStore::take(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    key_command(Kind::take, "GETDEL", t, key, now, cb, ctx);
}

// One SET: the whole value or nothing, with the TTL that lets Redis expire it.
void RedisStore::write(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                       bool only_if_absent, StoreCallback cb, void* ctx) noexcept {
    try {
        const std::string rkey = redis_key(opt_.prefix, t, key);
        const std::string wrapped = wrap_value(t, life, value);
        const std::string ttl = std::to_string(ttl_ms(life, now));
        if (wrapped.empty()) {
            cb(ctx, {StoreStatus::unavailable, "value too large"});
            return;
        }
        auto* op = new Op{this, cb, ctx, t, only_if_absent ? Kind::insert_new : Kind::put, now, {}, {}};
        const char* argv[] = {"SET", rkey.c_str(), wrapped.data(), "PX", ttl.c_str(), "NX"};
        const std::size_t lens[] = {3, rkey.size(), wrapped.size(), 2, ttl.size(), 2};
        start(op, only_if_absent ? 6 : 5, argv, lens);
    } catch (...) {
        cb(ctx, {StoreStatus::unavailable, {}});
    }
}

void RedisStore::put(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                     StoreCallback cb, void* ctx) noexcept {
    write(t, key, value, life, now, false, cb, ctx);
}

void RedisStore::insert_new(Table t, std::string_view key, std::string_view value, Lifetime life, std::int64_t now,
                            StoreCallback cb, void* ctx) noexcept {
    write(t, key, value, life, now, true, cb, ctx);
}

void RedisStore::remove(Table t, std::string_view key, StoreCallback cb, void* ctx) noexcept {
    if (t == Table::sessions) cache_.forget(key);
    key_command(Kind::remove, "DEL", t, key, 0, cb, ctx);
}

// KEYS[1] the set; ARGV: member, its expiry (unix ms), now (unix ms), the cap. Expired members
// go, the soonest to expire beyond the cap go, and the key lives as long as its last member.
constexpr std::string_view kAddMemberScript =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) "
    "local old = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
    "if not old or tonumber(old) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end "
    "local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4]) "
    "if extra > 0 then redis.call('ZPOPMIN', KEYS[1], extra) end "
    "local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES') "
    "if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end "
    "return 1";
// KEYS[1] the set; ARGV[1] now (unix ms): its live members, and the set is gone.
constexpr std::string_view kTakeMembersScript =
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf') "
    "redis.call('DEL', KEYS[1]) "
    "return m";

void RedisStore::add_member(Table t, std::string_view key, std::string_view member, Lifetime life, std::int64_t now,
                            StoreCallback cb, void* ctx) noexcept {
    if (!is_valid_set_member(member)) {
        cb(ctx, {StoreStatus::unavailable, "not a set member"});
        return;
    }
    try {
        const std::string rkey = redis_key(opt_.prefix, t, key);
        const std::string m(member), expires = std::to_string(life.expires * 1000), at = std::to_string(now * 1000),
                                     cap = std::to_string(kMaxSetMembers);
        auto* op = new Op{this, cb, ctx, t, Kind::add_member, now, {}, {}};
        const char* argv[] = {"EVAL",    kAddMemberScript.data(), "1",        rkey.c_str(),
                              m.c_str(), expires.c_str(),         at.c_str(), cap.c_str()};
        const std::size_t lens[] = {4,        kAddMemberScript.size(), 1,         rkey.size(),
                                    m.size(), expires.size(),          at.size(), cap.size()};
        start(op, 8, argv, lens);
    } catch (...) {
        cb(ctx, {StoreStatus::unavailable, {}});
    }
}

void RedisStore::take_members(Table t, std::string_view key, std::int64_t now, StoreCallback cb, void* ctx) noexcept {
    try {
        const std::string rkey = redis_key(opt_.prefix, t, key);
        const std::string at = std::to_string(now * 1000);
        auto* op = new Op{this, cb, ctx, t, Kind::take_members, now, {}, {}};
        const char* argv[] = {"EVAL", kTakeMembersScript.data(), "1", rkey.c_str(), at.c_str()};
        const std::size_t lens[] = {4, kTakeMembersScript.size(), 1, rkey.size(), at.size()};
        start(op, 5, argv, lens);
    } catch (...) {
        cb(ctx, {StoreStatus::unavailable, {}});
    }
}

}  // namespace sso::ngx
