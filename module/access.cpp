// Access phase of a protected location: a valid session lets the request through with its
// identity; otherwise a browser is sent to the IdP and anything else gets 401.
#include "module/access_rules.hpp"
#include "module/flows.hpp"
#include "module/handlers.hpp"
#include "module/idp_chooser.hpp"
#include "module/http_util.hpp"
#include "module/ldap_flow.hpp"
#include "module/upstream_cookies.hpp"
#include "session/form.hpp"
#include "session/return_target.hpp"

namespace sso::ngx {
namespace {

void finish(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    ctx->phase = Phase::done;
    if (ctx->async) {
        // The handler already returned NGX_AGAIN: run the phases again, through the request's
        // own write handler, which is the phase runner unless nginx has since given up on it.
        // The request may be finished and freed by then: keep its connection first.
        ngx_connection_t* c = r->connection;
        r->write_event_handler(r);
        ngx_http_run_posted_requests(c);
    }
}

bool contains_ci(std::string_view hay, std::string_view needle) noexcept {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(hay.data() + i)),
                            reinterpret_cast<u_char*>(const_cast<char*>(needle.data())), needle.size()) == 0)
            return true;
    return false;
}

// Only a top-level page load can follow a redirect to the IdP and back.
bool is_browser_navigation(ngx_http_request_t* r) noexcept {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return false;
    auto accept = request_header(r, "accept");
    if (!accept || !contains_ci(*accept, "text/html")) return false;
    auto xrw = request_header(r, "x-requested-with");
    return !(xrw && contains_ci(*xrw, "XMLHttpRequest"));
}

// How a browser signs in here: SAML when chosen, or by default when this server has IdP
// metadata; the directory's form otherwise.
bool signs_in_with_saml(const SrvConf* scf, const LocConf* lcf) noexcept {
    if (lcf->login == login_saml) return true;
    if (lcf->login == login_ldap) return false;
    return scf->rt->sp || !lcf->ldap;
}

// A 302 to an action of this server's sso_endpoint (the LDAP form, or the IdP chooser with
// the IdPs this location accepts), carrying the page to come back to. `needs` says what is
// missing when the server has no prefix sso_endpoint location to derive the URL from.
void send_to_endpoint(ngx_http_request_t* r, RequestCtx* ctx, const ngx_str_t& action_uri, std::string_view needs,
                      std::string_view target, const ngx_array_t* idps = nullptr) noexcept {
    if (!action_uri.len) {
        try {
            decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
                        std::string(needs) + " needs a prefix location with sso_endpoint in this server",
                        "Sign-in unavailable", "The sign-in page of this site is not configured.");
        } catch (...) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return;
    }
    try {
        std::string url = std::string(sv(action_uri)) + "?return_to=" + url_encode(target);
        const auto* names = idps ? static_cast<const ngx_str_t*>(idps->elts) : nullptr;
        for (ngx_uint_t i = 0; idps && i < idps->nelts; ++i) url += "&idp=" + url_encode(sv(names[i]));
        decide_redirect(r, ctx, NGX_HTTP_MOVED_TEMPORARILY, url);
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

void unauthenticated(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    SrvConf* scf = srv_conf(r);
    LocConf* lcf = loc_conf(r);
    // API clients sign in on the request itself.
    if (lcf->ldap && lcf->ldap_basic && basic_sign_in(r, ctx, *lcf->ldap, finish) == BasicStatus::started) return;
    const bool saml = signs_in_with_saml(scf, lcf);
    if (saml && !scf->rt->sp && scf->rt->metadata_expired()) {
        decide_page(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_WARN,
                    "no session and no sign-in: the IdP metadata has expired", "Sign-in unavailable",
                    "The identity provider's metadata has expired and no fresh copy could be loaded yet.",
                    PageForward::retry);
        finish(r);
        return;
    }
    if (saml && !scf->rt->sp) {
        decide_page(r, ctx, NGX_HTTP_FORBIDDEN, NGX_LOG_WARN,
                    "access denied: SAML is off for this server (no sso_idp_metadata) and no session",
                    "Sign-in unavailable",
                    "Single sign-on is not configured for this site yet, so this page cannot be opened.");
        finish(r);
        return;
    }
    const bool navigation = is_browser_navigation(r);
    if (!navigation && (lcf->non_browser == non_browser_401 || !(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD)))) {
        // With HTTP Basic offered the client can sign in on the request itself.
        const bool basic = lcf->ldap && lcf->ldap_basic;
        decide_page(r, ctx, NGX_HTTP_UNAUTHORIZED, NGX_LOG_INFO, "no session: not a browser navigation, answering 401",
                    "Authentication required",
                    basic ? "Send a user name and password with HTTP Basic authentication, or sign in through a "
                            "browser; this request carries no valid session."
                          : "Sign in through a browser first; this request carries no valid session.");
        if (basic) set_basic_challenge(r, ctx, *lcf->ldap);
        finish(r);
        return;
    }
    // The original URL comes back after the login; a request line such as "//evil/" must not
    // turn that into an open redirect.
    auto target = safe_return_target(sv(r->unparsed_uri), request_scheme(r), request_host(r));
    const std::string_view back = target ? std::string_view(*target) : std::string_view("/");
    if (!saml) {
        send_to_endpoint(r, ctx, scf->ldap_form_uri, "LDAP sign-in", back);
        finish(r);
        return;
    }
    try {
        // One IdP for this location: straight to it. Several: the browser picks one.
        const std::vector<IdpSummary>& all = scf->rt->sp->idps();
        const ngx_array_t* allowed = lcf->idps;
        if (allowed ? allowed->nelts == 1 : all.size() == 1) {
            start_login(
                r, ctx, back, finish,
                allowed ? sv(*static_cast<const ngx_str_t*>(allowed->elts)) : std::string_view(all[0].entity_id));
            return;
        }
        send_to_endpoint(r, ctx, scf->login_uri, "choosing among several IdPs", back, allowed);
        finish(r);
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
    }
}

void after_session(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    // A SAML session from an IdP this location does not accept is no session here.
    const ngx_array_t* allowed = loc_conf(r)->idps;
    if (ctx->decision == NGX_OK && ctx->authenticated && allowed && sv(ctx->identity.auth_method) == "saml" &&
        !idp_allowed(allowed, sv(ctx->identity.idp))) {
        try {
            log_reason(
                r, NGX_LOG_INFO,
                "session from IdP \"" + std::string(sv(ctx->identity.idp)) + "\" is not accepted here (sso_idp)");
        } catch (...) {
        }
        ctx->authenticated = 0;
    }
    if (ctx->decision != NGX_OK || ctx->authenticated) {
        finish(r);
        return;
    }
    unauthenticated(r, ctx);
}

ngx_int_t conclude(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    if (ctx->decision == NGX_OK && ctx->authenticated && !access_allowed(r, ctx)) {
        ngx_http_finalize_request(r, send_decision(r, ctx));
        return NGX_DONE;
    }
    if (ctx->decision == NGX_OK && ctx->authenticated) {
        if (!ctx->headers_set) {
            if (loc_conf(r)->identity_headers && !add_identity_headers(r, ctx->identity))
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            if (!add_jwt_header(r, ctx)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
            if (strip_own_cookies(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
            ctx->headers_set = 1;
        }
        return NGX_OK;
    }
    if (ctx->decision == NGX_OK) ctx->decision = NGX_HTTP_FORBIDDEN;
    ngx_http_finalize_request(r, send_decision(r, ctx));
    return NGX_DONE;
}

}  // namespace

ngx_int_t post_read_handler(ngx_http_request_t* r) noexcept {
    if (strip_identity_headers(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    // The server's token header (here loc_conf is the server's); a location's own is removed
    // in its access phase.
    if (strip_jwt_header(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return NGX_DECLINED;
}

ngx_int_t access_handler(ngx_http_request_t* r) noexcept {
    LocConf* lcf = loc_conf(r);
    if (strip_jwt_header(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;  // also where sso is off
    if (lcf->endpoint) return NGX_DECLINED;
    if (!lcf->enable)
        return server_issues_cookies(r) && strip_own_cookies(r) != NGX_OK ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                                                          : NGX_DECLINED;
    RequestCtx* ctx = request_ctx(r);
    if (!ctx) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    switch (ctx->phase) {
        case Phase::waiting:
            return NGX_AGAIN;
        case Phase::done:
            return conclude(r, ctx);
        case Phase::idle:
            break;
    }
    ctx->phase = Phase::waiting;
    if (ctx->authenticated)
        after_session(r);  // the identity decided before an internal redirect
    else
        load_session(r, ctx, after_session);
    if (ctx->phase == Phase::done) return conclude(r, ctx);
    ctx->async = 1;
    return NGX_AGAIN;
}

}  // namespace sso::ngx
