#include "module/counters.hpp"
#include "module/ldap_flow.hpp"

#include <openssl/crypto.h>

#include "identity/directory_identity.hpp"
#include "module/conf_util.hpp"
#include "module/flows.hpp"
#include "module/sources.hpp"
#include "module/http_util.hpp"
#include "saml/base64.hpp"

namespace sso::ngx {
namespace {

constexpr std::size_t kMaxBasicCredentials = 4096;

// An internal account (sso_internal_users) that has a password decides alone: a wrong password
// is wrong, not a reason to ask the directory. Argon2 and PBKDF2 are slow on purpose, which is
// why this runs in the thread too.
bool check_internal(LdapJob& job) {
    const SourceConf* source = job.internal;
    const InternalUser* u = source ? source->users->by_login(job.user) : nullptr;
    if (!u || !u->password) return false;
    const std::string who = "internal account \"" + u->user + "\" (source " + source->name + ")";
    if (u->password->verify(job.password)) {
        job.internal_user = u;
        job.result.user.emplace();
        job.result.user->server_url = "the users file";
        job.result.reason = who + " signed in";
    } else {
        job.result.failure = ldap::AuthFailure::invalid_credentials;
        job.result.reason = "wrong password for " + who;
    }
    return true;
}

// Runs in a pool thread: touches nothing but the job.
void run_check(void* data, ngx_log_t*) {
    LdapJob* job = *static_cast<LdapJob**>(data);
    try {
        if (check_internal(*job)) return;
        if (!job->directory->directory) {
            job->result.failure = ldap::AuthFailure::invalid_credentials;
            job->result.reason = "no internal account with a password signs in as \"" + job->user + "\"";
            return;
        }
    } catch (...) {
        job->result.failure = ldap::AuthFailure::internal;
        return;
    }
    job->result = job->directory->directory->authenticate(job->user, job->password);
}

// Back on the event loop.
void check_finished(ngx_event_t* ev) {
    auto* job = static_cast<LdapJob*>(ev->data);
    ngx_http_request_t* r = job->r;
    ngx_connection_t* c = r->connection;  // the request may be freed by done()
    r->main->blocked--;
    r->aio = 0;
    job->done(r, *job);
    // A finished subrequest (sso_auth_request under auth_request) posts its parent.
    ngx_http_run_posted_requests(c);
}

std::string credential_cache_key(ngx_http_request_t* r, const LdapDirectoryConf& d, std::string_view user,
                                 std::string_view password) {
    return main_conf(r)->credential_key->derive(d.name, user, password);
}

struct BasicCredentials {
    std::string user, password;
    ~BasicCredentials() { OPENSSL_cleanse(password.data(), password.size()); }
};

enum class Parse { absent, malformed, ok };

Parse parse_basic(ngx_http_request_t* r, BasicCredentials& out) {
    if (!r->headers_in.authorization) return Parse::absent;
    std::string_view v = sv(r->headers_in.authorization->value);
    if (v.size() < 6 || ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(v.data())),
                                        reinterpret_cast<u_char*>(const_cast<char*>("Basic ")), 6) != 0)
        return Parse::absent;  // another scheme: not ours to judge
    v.remove_prefix(6);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    auto decoded = base64_decode_strict(v, kMaxBasicCredentials);
    if (!decoded) return Parse::malformed;
    std::string& plain = *decoded;
    const std::size_t colon = plain.find(':');
    if (colon != std::string::npos) {
        out.user.assign(plain, 0, colon);
        out.password.assign(plain, colon + 1);
    }
    OPENSSL_cleanse(plain.data(), plain.size());
    return colon == std::string::npos ? Parse::malformed : Parse::ok;
}

bool is_authorization(std::string_view name) noexcept {
    return name.size() == 13 && ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(name.data())),
                                                reinterpret_cast<u_char*>(const_cast<char*>("authorization")), 13) == 0;
}

// The identity from an encoded record: copied to the pool and read in place, like a session.
bool identity_from_record(ngx_http_request_t* r, RequestCtx* ctx, std::string_view encoded) noexcept {
    const ngx_str_t stored = pool_copy(r->pool, encoded);
    if (!stored.data) return false;
    auto view = view_session(sv(stored));
    if (!view || !set_identity(r, ctx, *view, loc_conf(r)->groups_separator)) return false;
    // The password has done its job here: the upstream gets the identity, not the credentials.
    if (remove_request_headers(r, is_authorization) != NGX_OK) return false;
    r->headers_in.authorization = nullptr;
    return true;
}

void refuse_basic(ngx_http_request_t* r, RequestCtx* ctx, const LdapDirectoryConf& d, std::string_view reason) {
    count(r, Counter::refused_ldap);
    decide_page(r, ctx, NGX_HTTP_UNAUTHORIZED, NGX_LOG_WARN, reason, "Authentication required",
                "The user name or password is not correct.");
    set_basic_challenge(r, ctx, d);
}

void basic_checked(ngx_http_request_t* r, LdapJob& job) noexcept {
    RequestCtx* ctx = request_ctx(r);
    const LdapDirectoryConf& d = *job.directory;
    const std::int64_t now = ngx_time();
    Store* store = main_conf(r)->store;
    auto ignore = [](void*, StoreReply) noexcept {};
    try {
        if (!job.result.user) {
            decide_directory_failure(r, ctx, job);
            if (ctx->decision == NGX_HTTP_UNAUTHORIZED) {
                set_basic_challenge(r, ctx, d);
                // A short memory of the failure spares the directory a client that retries in
                // a loop; short, so that a password just reset is not refused for long.
                if (d.failure_cache_ttl > 0 && !job.cache_key.empty())
                    store->put(Table::credentials, job.cache_key, "-", {now + d.failure_cache_ttl, 0}, now, ignore,
                               nullptr);
            }
        } else {
            const std::string encoded = directory_session(r, job, now + d.cache_ttl);
            if (encoded.empty()) {
                refuse_basic(r, ctx, d, "LDAP sign-in refused: identity too large for a session record");
            } else if (!identity_from_record(r, ctx, encoded)) {
                ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
            } else {
                if (d.cache_ttl > 0 && !job.cache_key.empty())
                    store->put(Table::credentials, job.cache_key, "+" + encoded, {now + d.cache_ttl, 0}, now, ignore,
                               nullptr);
                count(r, Counter::login_ldap_basic);
                log_reason(r, NGX_LOG_INFO,
                           "signed in \"" + job.user + "\" via LDAP Basic (directory " + d.name + ", " +
                               job.result.user->server_url + ")");
            }
        }
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->next(r);
}

// Not in the cache: the directory decides. The credentials are read again from the header
// rather than kept from the lookup, so that a cache hit allocates nothing for a miss.
void basic_cache_miss(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    try {
        const LdapDirectoryConf& d = *loc_conf(r)->ldap;
        BasicCredentials creds;
        LdapJob* job = parse_basic(r, creds) == Parse::ok
                           ? new_directory_check(r, d, creds.user, creds.password, basic_checked)
                           : nullptr;
        if (!job) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ctx->next(r);
            return;
        }
        job->cache_key = credential_cache_key(r, d, creds.user, creds.password);
        ctx->ldap_job = job;
        if (!post_directory_check(r, *job)) {
            decide_page(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
                        "LDAP sign-in not started: the thread pool queue is full", "Service unavailable",
                        "Too many sign-ins are in progress. Please try again shortly.");
            ctx->next(r);
        }
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ctx->next(r);
    }
}

void basic_cache_answered(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok || reply.value.empty()) {
        basic_cache_miss(r, ctx);
        return;
    }
    if (reply.value[0] == '+') {
        if (!identity_from_record(r, ctx, reply.value.substr(1))) ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    } else {
        try {
            BasicCredentials creds;
            parse_basic(r, creds);
            refuse_basic(r, ctx, *loc_conf(r)->ldap,
                         "LDAP sign-in refused for \"" + creds.user + "\": these credentials failed moments ago");
        } catch (...) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    ctx->next(r);
}

}  // namespace

LdapJob::~LdapJob() {
    OPENSSL_cleanse(password.data(), password.size());
}

LdapJob* new_directory_check(ngx_http_request_t* r, const LdapDirectoryConf& d, std::string_view user,
                             std::string_view password, LdapDone done) noexcept {
    LdapJob* job = pool_new<LdapJob>(r->pool);
    if (!job) return nullptr;
    try {
        job->r = r;
        job->directory = &d;
        job->internal = loc_conf(r)->internal_users;
        job->user = user;
        job->password = password;
        job->done = done;
    } catch (...) {
        return nullptr;
    }
    return job;
}

bool post_directory_check(ngx_http_request_t* r, LdapJob& job) noexcept {
    // The task's context is one pointer to the job, which lives in the pool already.
    ngx_thread_task_t* task = ngx_thread_task_alloc(r->pool, sizeof(LdapJob*));  // NOLINT(bugprone-sizeof-expression)
    if (!task) return false;
    *static_cast<LdapJob**>(task->ctx) = &job;
    task->handler = run_check;
    task->event.handler = check_finished;
    task->event.data = &job;
    if (ngx_thread_task_post(main_conf(r)->thread_pool, task) != NGX_OK) return false;
    // The request may not be freed, nor its output run, while a thread writes into the job.
    r->main->blocked++;
    r->aio = 1;
    return true;
}

void decide_directory_failure(ngx_http_request_t* r, RequestCtx* ctx, const LdapJob& job) noexcept {
    try {
        const std::string& dir = job.directory->name;
        const std::string& why = job.result.reason;
        switch (job.result.failure) {
            case ldap::AuthFailure::invalid_credentials:
            case ldap::AuthFailure::ambiguous_user:
                count(r, Counter::refused_ldap);
                decide_page(r, ctx, NGX_HTTP_UNAUTHORIZED, NGX_LOG_WARN,
                            "LDAP sign-in refused for \"" + job.user + "\" (directory " + dir + "): " + why,
                            "Sign-in failed", "The user name or password is not correct.");
                break;
            case ldap::AuthFailure::unavailable:
                count(r, Counter::directory_down);
                decide_page(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
                            "LDAP directory " + dir + " unavailable: " + why, "Directory unavailable",
                            "The user directory cannot be reached. Please try again shortly.", PageForward::retry);
                break;
            case ldap::AuthFailure::timeout:
                count(r, Counter::directory_down);
                decide_page(r, ctx, NGX_HTTP_GATEWAY_TIME_OUT, NGX_LOG_ERR,
                            "LDAP directory " + dir + " timed out: " + why, "Directory not answering",
                            "The user directory did not answer in time. Please try again shortly.", PageForward::retry);
                break;
            case ldap::AuthFailure::internal:
                decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
                            "LDAP sign-in failed (directory " + dir + "): " + why, "Internal error",
                            "Your sign-in could not be completed.");
                break;
        }
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

std::string directory_session(ngx_http_request_t* r, const LdapJob& job, std::int64_t expires) noexcept {
    try {
        SessionRecord record;
        if (job.internal_user) {
            record = identity_from_internal(*job.internal_user, job.internal->name);
            apply_sources(r, record, SourceKind::users, job.internal->name);
        } else {
            record = identity_from_directory(*job.result.user, job.directory->name);
            apply_sources(r, record, SourceKind::ldap, job.directory->name);
        }
        record.scope = srv_conf(r)->rt->scope;
        record.created = record.last_seen = ngx_time();
        record.expires = expires;
        return encode_session(record);
    } catch (...) {
        return {};
    }
}

void set_basic_challenge(ngx_http_request_t*, RequestCtx* ctx, const LdapDirectoryConf& d) noexcept {
    // Lives as long as the configuration, which outlives the request.
    ctx->www_authenticate = {d.challenge.size(), reinterpret_cast<u_char*>(const_cast<char*>(d.challenge.data()))};
}

BasicStatus basic_sign_in(ngx_http_request_t* r, RequestCtx* ctx, const LdapDirectoryConf& d, StepDone done) noexcept {
    try {
        BasicCredentials creds;
        const Parse parsed = parse_basic(r, creds);
        if (parsed == Parse::absent) return BasicStatus::absent;
        if (parsed == Parse::malformed) {
            refuse_basic(r, ctx, d, "LDAP sign-in refused: malformed Basic credentials");
            done(r);
            return BasicStatus::started;
        }
        // Refused before any directory call: an empty password would be an unauthenticated
        // bind, which many directories accept as anonymous.
        if (creds.password.empty() || creds.user.empty()) {
            refuse_basic(r, ctx, d,
                         "LDAP sign-in refused for \"" + creds.user + "\": empty " +
                             (creds.user.empty() ? "user name" : "password"));
            done(r);
            return BasicStatus::started;
        }
        ctx->next = done;
        if (d.cache_ttl <= 0 && d.failure_cache_ttl <= 0) {
            basic_cache_miss(r, ctx);
            return BasicStatus::started;
        }
        const std::string key = credential_cache_key(r, d, creds.user, creds.password);
        with_store(r, ctx, basic_cache_answered, [&](Store* store, StoreCallback cb, void* data) {
            store->get(Table::credentials, key, ngx_time(), cb, data);
        });
        return BasicStatus::started;
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        done(r);
        return BasicStatus::started;
    }
}

}  // namespace sso::ngx
