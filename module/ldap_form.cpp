// The sign-in form of `sso_endpoint` (…/ldap): GET shows it, POST checks the credentials
// against the directory named by `sso_ldap` and starts a session as a SAML login does.
//
// Login CSRF: the form carries a random token that must equal a cookie set with the form
// (SameSite=Strict, HttpOnly, path of the form), so another site cannot post credentials of
// its choosing and sign the browser in as someone else.
#include <string>

#include <openssl/crypto.h>

#include "module/counters.hpp"
#include "module/flows.hpp"
#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "module/ldap_flow.hpp"
#include "session/form.hpp"
#include "session/return_target.hpp"
#include "session/session_id.hpp"

namespace sso::ngx {
namespace {

constexpr std::size_t kMaxFormBody = 16 * 1024;
constexpr std::size_t kCsrfBytes = 16;
constexpr std::string_view kWrongCredentials = "The user name or password is not correct.";

CookieOptions csrf_cookie(ngx_http_request_t* r) {
    const SrvConf* scf = srv_conf(r);
    CookieOptions c;
    c.name = scf->rt->cookie.name + "_csrf";
    c.path = std::string(sv(r->uri));
    c.secure = scf->rt->cookie.secure;
    c.same_site = "Strict";
    return c;
}

std::string form_page(ngx_http_request_t* r, std::string_view csrf, std::string_view return_to, std::string_view user,
                      std::string_view error) {
    std::string p =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\"><title>Sign in</title><style>"
        "body{font-family:sans-serif;max-width:22em;margin:4em auto;color:#222}h1{font-size:1.4em}"
        "label{display:block;margin:.8em 0 .2em}input{width:100%;padding:.4em;box-sizing:border-box}"
        "button{margin-top:1.2em;padding:.5em 1.5em}.error{color:#a00}</style></head><body>"
        "<h1>Sign in</h1>";
    if (!error.empty()) p += "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>";
    p += "<form method=\"post\" action=\"" + html_escape(sv(r->uri)) + "\">";
    p += "<input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(csrf) + "\">";
    p += "<input type=\"hidden\" name=\"return_to\" value=\"" + html_escape(return_to) + "\">";
    p += "<label for=\"username\">User name</label><input id=\"username\" name=\"username\" "
         "autocomplete=\"username\" required autofocus value=\"" +
         html_escape(user) + "\">";
    p += "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" "
         "autocomplete=\"current-password\" required>";
    p += "<button type=\"submit\">Sign in</button></form></body></html>\n";
    return p;
}

// The form, with a fresh token cookie when `new_token` is set.
ngx_int_t send_form(ngx_http_request_t* r, ngx_uint_t status, std::string_view csrf, bool new_token,
                    std::string_view return_to, std::string_view user, std::string_view error) noexcept {
    try {
        if (new_token &&
            !add_response_header(r, "Set-Cookie", build_set_cookie(csrf_cookie(r), csrf, srv_conf(r)->login_timeout)))
            return NGX_ERROR;
        // The page holds a password field: never cached, never framed.
        if (!add_response_header(r, "Cache-Control", "no-store") ||
            !add_response_header(r, "X-Frame-Options", "DENY") ||
            !add_response_header(r, "Content-Security-Policy",
                                 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                 "frame-ancestors 'none'"))
            return NGX_ERROR;
        return send_body(r, status, "text/html; charset=utf-8", form_page(r, csrf, return_to, user, error));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

// A refusal of the form: back to the form, which returns to `return_to` afterwards.
ngx_int_t send_refusal(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                       std::string_view return_to) noexcept {
    return send_page_to(r, status, title, message, PageForward::sign_in, return_to, sv(r->uri));
}

ngx_int_t show_fresh_form(ngx_http_request_t* r, ngx_uint_t status, std::string_view return_to,
                          std::string_view error) noexcept {
    auto token = new_random_token(kCsrfBytes);
    if (!token) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return send_form(r, status, *token, true, return_to, "", error);
}

// --- after the directory answered ------------------------------------------------------

void form_signed_in(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    if (ctx->decision == NGX_HTTP_SEE_OTHER) {
        const LdapJob& job = *ctx->ldap_job;
        try {
            // The token has served: the next form gets a new one.
            if (!add_response_header(r, "Set-Cookie", build_clear_cookie(csrf_cookie(r)))) {
                ngx_http_finalize_request(r, NGX_ERROR);
                return;
            }
            count(r, Counter::login_ldap_form);
            log_reason(r, NGX_LOG_INFO,
                       "signed in \"" + job.user + "\" via LDAP form (directory " + job.directory->name + ", " +
                           job.result.user->server_url + ")");
        } catch (...) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    ngx_http_finalize_request(r, send_decision(r, ctx));
}

void form_checked(ngx_http_request_t* r, LdapJob& job) noexcept {
    RequestCtx* ctx = request_ctx(r);
    SrvConf* scf = srv_conf(r);
    if (!job.result.user) {
        decide_directory_failure(r, ctx, job);
        if (ctx->decision == NGX_HTTP_UNAUTHORIZED) {
            ngx_http_finalize_request(r, send_form(r, NGX_HTTP_UNAUTHORIZED, job.form_csrf, false, job.form_return_to,
                                                   job.user, kWrongCredentials));
            return;
        }
        // "Try again" is the page wanted, which the form posted (the request's own query has none).
        if (ctx->title.data && !ctx->location.len && !ctx->html_body.len &&
            static_cast<PageForward>(ctx->page_forward) == PageForward::retry) {
            ngx_http_finalize_request(
                r, send_page_to(r, static_cast<ngx_uint_t>(ctx->decision), sv(ctx->title), sv(ctx->message),
                                PageForward::retry, job.form_return_to, page_login_uri(r)));
            return;
        }
        ngx_http_finalize_request(r, send_decision(r, ctx));
        return;
    }
    const std::int64_t now = ngx_time();
    const std::int64_t expires = now + scf->session_lifetime;
    const std::string encoded = directory_session(r, job, expires);
    auto id = new_session_id();
    if (encoded.empty() || !id) {
        decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
                    encoded.empty() ? "LDAP sign-in failed: identity too large for a session"
                                    : "no random bytes for a session id",
                    "Internal error", "Your sign-in could not be completed.");
        ngx_http_finalize_request(r, send_decision(r, ctx));
        return;
    }
    ctx->session_id = pool_copy(r->pool, *id);
    ctx->encoded_session = pool_copy(r->pool, encoded);
    ctx->return_to = pool_copy(r->pool, job.form_return_to);
    ctx->session_expires = expires;
    if (!ctx->session_id.data || !ctx->encoded_session.data || !ctx->return_to.data) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    store_new_session(r, ctx, form_signed_in);
}

// --- POST ----------------------------------------------------------------------------------

void form_posted(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    const LocConf* lcf = loc_conf(r);
    try {
        auto body = request_body(r);
        if (!body) body = std::string();
        if (body->size() > kMaxFormBody) {
            log_reason(r, NGX_LOG_WARN, "LDAP form refused: POST body larger than 16k");
            ngx_http_finalize_request(r, send_refusal(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "Sign-in refused",
                                                      "The sign-in form is too large.", "/"));
            return;
        }
        const FormField user = form_field(*body, "username");
        const FormField password = form_field(*body, "password");
        const FormField csrf = form_field(*body, "csrf");
        const FormField back = form_field(*body, "return_to");
        auto target = back.status == FormFieldStatus::found
                          ? safe_return_target(back.value, request_scheme(r), request_host(r))
                          : std::optional<std::string>("/");
        for (const FormField* f : {&user, &password, &csrf, &back}) {
            if (f->status == FormFieldStatus::malformed || f->status == FormFieldStatus::duplicate) {
                log_reason(r, NGX_LOG_WARN, "LDAP form refused: malformed or repeated form field");
                ngx_http_finalize_request(r, send_refusal(r, NGX_HTTP_BAD_REQUEST, "Sign-in refused",
                                                          "The sign-in form was not filled in correctly.",
                                                          target ? std::string_view(*target) : "/"));
                return;
            }
        }
        if (!target) {
            log_reason(r, NGX_LOG_WARN, "LDAP form: return_to is not a same-origin target; using \"/\"");
            target.emplace(1, '/');  // (not = "/": GCC 12 warns falsely, -Wrestrict)
        }
        // The token in the form must be the one in the cookie that came with the form.
        auto cookie = request_cookie(r, csrf_cookie(r).name);
        if (csrf.status != FormFieldStatus::found || !cookie || cookie->size() != csrf.value.size() ||
            csrf.value.empty() || CRYPTO_memcmp(cookie->data(), csrf.value.data(), csrf.value.size()) != 0) {
            log_reason(r, NGX_LOG_WARN, "LDAP form refused: CSRF token missing or not the one issued with the form");
            ngx_http_finalize_request(
                r, show_fresh_form(r, NGX_HTTP_FORBIDDEN, *target, "The sign-in form expired. Please sign in again."));
            return;
        }
        // No directory call for an empty password: it would be an unauthenticated bind.
        if (user.status != FormFieldStatus::found || password.status != FormFieldStatus::found || user.value.empty() ||
            password.value.empty()) {
            count(r, Counter::refused_ldap);
            log_reason(r, NGX_LOG_WARN,
                       "LDAP sign-in refused for \"" + user.value + "\": empty " +
                           (user.value.empty() ? "user name" : "password"));
            ngx_http_finalize_request(
                r, send_form(r, NGX_HTTP_UNAUTHORIZED, csrf.value, false, *target, user.value, kWrongCredentials));
            return;
        }
        LdapJob* job = new_directory_check(r, *lcf->ldap, user.value, password.value, form_checked);
        if (!job) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        job->form_csrf = csrf.value;
        job->form_return_to = *target;
        ctx->ldap_job = job;
        if (!post_directory_check(r, *job)) {
            log_reason(r, NGX_LOG_ERR, "LDAP sign-in not started: the thread pool queue is full");
            ngx_http_finalize_request(
                r, send_refusal(r, NGX_HTTP_SERVICE_UNAVAILABLE, "Service unavailable",
                                "Too many sign-ins are in progress. Please try again shortly.", *target));
        }
    } catch (...) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}

}  // namespace

ngx_int_t ldap_form_handler(ngx_http_request_t* r, RequestCtx*) noexcept {
    const LocConf* lcf = loc_conf(r);
    if (!lcf->ldap) {
        log_reason(r, NGX_LOG_INFO, "LDAP form requested but no sso_ldap directory is set for it");
        return send_page(r, NGX_HTTP_NOT_FOUND, "Not found", "Sign-in with a user name and password is not set up.",
                         PageForward::sign_in);
    }
    if (r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        bool refused = false;
        auto target = return_to_arg(r, refused);
        if (refused || !target) {
            log_reason(r, NGX_LOG_WARN, "LDAP form refused: return_to is not a same-origin target");
            return send_refusal(r, NGX_HTTP_BAD_REQUEST, "Invalid return address",
                                "The address to return to after signing in is not on this site.", "/");
        }
        return show_fresh_form(r, NGX_HTTP_OK, *target, "");
    }
    if (!(r->method & NGX_HTTP_POST)) return not_allowed(r, "GET, HEAD, POST");
    if (r->headers_in.content_length_n > static_cast<off_t>(kMaxFormBody)) {
        log_reason(r, NGX_LOG_WARN, "LDAP form refused: POST body larger than 16k");
        return send_refusal(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "Sign-in refused", "The sign-in form is too large.",
                            "/");
    }
    const ngx_int_t rc = ngx_http_read_client_request_body(r, [](ngx_http_request_t* r) { form_posted(r); });
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) return rc;
    return NGX_DONE;
}

}  // namespace sso::ngx
