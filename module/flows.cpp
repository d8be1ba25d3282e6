#include "module/counters.hpp"
#include "module/flows.hpp"

#include <algorithm>
#include <cstring>

#include "module/http_util.hpp"
#include "module/sources.hpp"
#include "session/cookie.hpp"
#include "session/form.hpp"
#include "session/log_throttle.hpp"
#include "session/login_request.hpp"
#include "session/return_target.hpp"
#include "session/session_id.hpp"

namespace sso::ngx {
namespace {
void store_answered() noexcept;
}  // namespace

void relay_store_reply(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    ngx_connection_t* c = r->connection;  // the request may be freed by the callback
    const bool later = !ctx->store_answered_now;
    if (!later) *ctx->store_answered_now = true;
    ctx->store_answered_now = nullptr;
    r->main->blocked--;
    if (reply.status != StoreStatus::unavailable) store_answered();
    ctx->store_cb(data, reply);
    if (later) ngx_http_run_posted_requests(c);
}

namespace {

// Requests refused because the store failed: the first of a run is logged in full, the rest
// counted and the count logged every interval (session/log_throttle.hpp), per kind of failure
// (what the flow could not do), per worker. An answer of the store ends the runs.
constexpr ngx_msec_t kStoreFailureLogInterval = 10000;
struct FailureKind {
    char text[96];  // what the flow could not do (cut to fit)
    std::size_t len = 0;
    LogThrottle throttle{kStoreFailureLogInterval};
    std::string_view what() const noexcept { return {text, len}; }
};
FailureKind failure_kinds[8];
ngx_event_t store_failure_timer;

void report_counted(const FailureKind& k, std::uint64_t n, const char* when) noexcept {
    if (!n) return;
    ngx_str_t what{k.len, reinterpret_cast<u_char*>(const_cast<char*>(k.text))};
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "sso: %uL more requests refused %s: %V", n, when, &what);
}

void report_store_failures(ngx_event_t* ev) noexcept {
    bool active = false;
    for (FailureKind& k : failure_kinds) {
        if (!k.throttle.active()) continue;
        report_counted(k, k.throttle.tick(static_cast<std::int64_t>(ngx_current_msec)), "in the last 10 s");
        active = active || k.throttle.active();
    }
    if (active) ngx_add_timer(ev, kStoreFailureLogInterval);
}

// True when this failure is to be logged; otherwise it is counted.
bool log_store_failure(std::string_view what) noexcept {
    FailureKind* kind = &failure_kinds[std::size(failure_kinds) - 1];  // the last one takes the rest
    for (FailureKind& k : failure_kinds) {
        if (!k.len) {
            k.len = std::min(what.size(), sizeof k.text);
            std::memcpy(k.text, what.data(), k.len);
        }
        if (k.what() == what.substr(0, sizeof k.text)) {
            kind = &k;
            break;
        }
    }
    if (!kind->throttle.note(static_cast<std::int64_t>(ngx_current_msec))) return false;
    if (!store_failure_timer.handler) {
        store_failure_timer.handler = report_store_failures;
        store_failure_timer.log = ngx_cycle->log;
        store_failure_timer.data = failure_kinds;
        store_failure_timer.cancelable = 1;  // a worker that is shutting down does not wait for it
    }
    if (!store_failure_timer.timer_set) ngx_add_timer(&store_failure_timer, kStoreFailureLogInterval);
    return true;
}

// The store answered: the runs of failures end, with their counts.
void store_answered() noexcept {
    if (!store_failure_timer.timer_set) return;  // no run going on
    for (FailureKind& k : failure_kinds)
        if (k.throttle.active()) report_counted(k, k.throttle.recovered(), "before the store answered again");
    ngx_del_timer(&store_failure_timer);
}

}  // namespace

void decide_store_unavailable(ngx_http_request_t* r, RequestCtx* ctx, std::string_view what, StoreReply reply,
                              std::string_view message) noexcept {
    count(r, Counter::store_unavailable);
    try {
        if (log_store_failure(what)) {
            std::string reason(what);
            if (!reply.value.empty()) reason.append(": ").append(reply.value);
            log_reason(r, NGX_LOG_ERR, reason + " (further store failures are counted, one line per 10 s)");
        }
        ctx->decision = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->title = pool_copy(r->pool, "Service unavailable");
        ctx->message = pool_copy(r->pool, message);
        ctx->location = {0, nullptr};
    } catch (...) {
        ctx->decision = NGX_HTTP_SERVICE_UNAVAILABLE;
    }
}

void decide_page(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, ngx_uint_t level, std::string_view reason,
                 std::string_view title, std::string_view message, PageForward forward) noexcept {
    log_reason(r, level, reason);
    ctx->decision = status;
    ctx->page_forward = static_cast<unsigned>(forward);
    ctx->title = pool_copy(r->pool, title);
    ctx->message = pool_copy(r->pool, message);
    ctx->location = {0, nullptr};
}

void decide_redirect(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, std::string_view location) noexcept {
    ctx->decision = status;
    ctx->location = pool_copy(r->pool, location);
    if (!ctx->location.data) ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
}

ngx_int_t send_decision(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    if (ctx->set_cookie.len && !add_response_header(r, "Set-Cookie", sv(ctx->set_cookie))) return NGX_ERROR;
    if (ctx->www_authenticate.len && !add_response_header(r, "WWW-Authenticate", sv(ctx->www_authenticate)))
        return NGX_ERROR;
    if (ctx->location.len) return send_redirect(r, static_cast<ngx_uint_t>(ctx->decision), sv(ctx->location));
    if (ctx->html_body.len)
        return send_body(r, static_cast<ngx_uint_t>(ctx->decision), "text/html; charset=utf-8", sv(ctx->html_body));
    if (!ctx->title.data) return ctx->decision;
    return send_page(r, static_cast<ngx_uint_t>(ctx->decision), sv(ctx->title), sv(ctx->message),
                     static_cast<PageForward>(ctx->page_forward));
}

namespace {

void session_loaded(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    auto* ctx = request_ctx(r);
    SrvConf* scf = srv_conf(r);
    if (reply.status == StoreStatus::unavailable) {
        decide_store_unavailable(r, ctx, "session store unavailable", reply,
                                 "The session store cannot be reached. Please try again shortly.");
    } else if (reply.status == StoreStatus::ok) {
        // One copy into the pool, then the record is read in place: no per-field
        // allocation on the path every request with a session takes.
        const ngx_str_t stored = pool_copy(r->pool, reply.value);
        auto session = stored.data ? view_session(sv(stored)) : std::nullopt;
        if (!stored.data) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        } else if (!session) {
            // It goes, so that it is reported once, not at every request that carries it.
            log_reason(r, NGX_LOG_WARN, "stored session is corrupt; deleted, treated as no session");
            if (auto cookie = request_cookie(r, scf->rt->cookie.name))
                main_conf(r)->store->remove(
                    Table::sessions, *cookie, [](void*, StoreReply) noexcept {}, nullptr);
        } else if (session->scope != scf->rt->scope) {
            log_reason(r, NGX_LOG_INFO, "session cookie issued by another server block; ignored");
        } else if (session->expires <= ngx_time()) {
            // the store expires it too; this only covers a clock step between the two
        } else if (removed_from_source(r, *session)) {
            // The directory dropped the user at its last import: the session ends with it.
            log_reason(r, NGX_LOG_NOTICE,
                       "session of " + std::string(session->email) + " ended: no longer in source \"" +
                           std::string(session->source) + "\"");
            if (auto cookie = request_cookie(r, scf->rt->cookie.name))
                main_conf(r)->store->remove(
                    Table::sessions, *cookie, [](void*, StoreReply) noexcept {}, nullptr);
        } else if (!set_identity(r, ctx, *session, loc_conf(r)->groups_separator)) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    ctx->next(r);
}

}  // namespace

void load_session(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept {
    SrvConf* scf = srv_conf(r);
    auto cookie = request_cookie(r, scf->rt->cookie.name);
    if (!cookie || !is_well_formed_session_id(*cookie)) {
        done(r);
        return;
    }
    ctx->next = done;
    const std::string_view id = *cookie;
    with_store(r, ctx, session_loaded, [&](Store* store, StoreCallback cb, void* data) {
        store->get(Table::sessions, id, ngx_time(), cb, data);
    });
}

void start_login(ngx_http_request_t* r, RequestCtx* ctx, std::string_view return_to, StepDone done,
                 std::string_view idp) noexcept {
    SrvConf* scf = srv_conf(r);
    try {
        // Nothing is stored: the AuthnRequest ID and the RelayState carry what the ACS needs,
        // under a MAC (session/login_request.hpp), so anonymous redirects cost the store nothing.
        const ServiceProvider& sp = *scf->rt->sp;
        const std::string_view to = idp.empty() ? std::string_view(sp.idp_entity_id()) : idp;
        if (return_to.size() > kMaxLoginReturnTo) {
            log_reason(r, NGX_LOG_INFO, "return address longer than the RelayState may carry; returning to \"/\"");
            return_to = "/";
        }
        auto token = scf->rt->login_key->issue(to, return_to, ngx_time());
        if (!token) {
            decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
                        "no random bytes or no MAC for the AuthnRequest ID", "Internal error",
                        "The sign-in could not be started.");
            done(r);
            return;
        }
        auto request = scf->rt->sp->build_authn_request(token->relay_state, to, token->request_id);
        if (!request) {
            decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, request.error().reason, "Internal error",
                        "The sign-in could not be started.");
            done(r);
            return;
        }
        decide_redirect(r, ctx, NGX_HTTP_MOVED_TEMPORARILY, request->redirect_url);
    } catch (...) {
        decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, "out of memory starting a login",
                    "Internal error", "The sign-in could not be started.");
    }
    done(r);
}

namespace {

// A SAML session is also found by its IdP's NameID and SessionIndex, for IdP-initiated logout.
// Losing the index entry (store full) loses only that, so its outcome is not waited on.
void index_new_session(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    if (!ctx->slo_key.len || ctx->decision != NGX_HTTP_SEE_OTHER) return;
    main_conf(r)->store->put(
        Table::slo_index, sv(ctx->slo_key), sv(ctx->session_id), {ctx->session_expires, 0}, ngx_time(),
        [](void*, StoreReply) noexcept {}, r);
}

// And among every session of its NameID from that IdP, for a LogoutRequest without
// SessionIndex; not waited on either.
void index_session_subject(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    if (!ctx->slo_subject_key.len || ctx->decision != NGX_HTTP_SEE_OTHER) return;
    main_conf(r)->store->add_member(
        Table::slo_subjects, sv(ctx->slo_subject_key), sv(ctx->session_id), {ctx->session_expires, 0}, ngx_time(),
        [](void*, StoreReply) noexcept {}, r);
}

void new_session_stored(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        decide_store_unavailable(r, ctx, "cannot store the new session: store full or unavailable", reply,
                                 "Your sign-in could not be completed. Please try again shortly.");
    } else {
        try {
            const std::int64_t max_age = std::max<std::int64_t>(1, ctx->session_expires - ngx_time());
            ctx->set_cookie =
                pool_copy(r->pool, build_set_cookie(srv_conf(r)->rt->cookie, sv(ctx->session_id), max_age));
            decide_redirect(r, ctx, NGX_HTTP_SEE_OTHER, sv(ctx->return_to));
            if (!ctx->set_cookie.data) ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        } catch (...) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        index_new_session(r, ctx);
        index_session_subject(r, ctx);
    }
    ctx->next(r);
}

void put_new_session(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    const Lifetime life{ctx->session_expires, srv_conf(r)->session_idle_timeout};
    with_store(r, ctx, new_session_stored, [&](Store* store, StoreCallback cb, void* data) {
        store->put(Table::sessions, sv(ctx->session_id), sv(ctx->encoded_session), life, ngx_time(), cb, data);
    });
}

}  // namespace

void store_new_session(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept {
    ctx->next = done;
    auto old = request_cookie(r, srv_conf(r)->rt->cookie.name);
    if (old && is_well_formed_session_id(*old)) {
        const std::string_view id = *old;
        with_store(
            r, ctx, [](void* data, StoreReply) noexcept { put_new_session(static_cast<ngx_http_request_t*>(data)); },
            [&](Store* store, StoreCallback cb, void* data) { store->remove(Table::sessions, id, cb, data); });
        return;
    }
    put_new_session(r);
}

// ?return_to=… checked against our own origin; "/" when absent.
std::optional<std::string> return_to_arg(ngx_http_request_t* r, bool& refused) noexcept {
    refused = false;
    ngx_str_t value;
    if (ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>("return_to")), 9, &value) != NGX_OK)
        return std::string("/");
    try {
        auto decoded = url_decode(sv(value), true);
        auto target = decoded ? safe_return_target(*decoded, request_scheme(r), request_host(r)) : std::nullopt;
        if (!target) refused = true;
        return target;
    } catch (...) {
        refused = true;
        return std::nullopt;
    }
}

}  // namespace sso::ngx
