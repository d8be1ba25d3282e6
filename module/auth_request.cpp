// `sso_auth_request`: the gate as an answer instead of a filter. 200 with the identity as
// X-SSO-* response headers when the request carries a session (or, with `sso_ldap`, Basic
// credentials the directory accepts); 401 otherwise. For nginx's auth_request module (a
// subrequest, which skips the access phase, so `sso on` cannot gate it) and for other servers,
// with or without this module, that proxy their auth_request to it.
#include "module/access_rules.hpp"
#include "module/flows.hpp"
#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "module/ldap_flow.hpp"

namespace sso::ngx {
namespace {

void answer(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    if (ctx->decision == NGX_OK && ctx->authenticated && access_allowed(r, ctx)) {
        if (!add_identity_response_headers(r, ctx->identity) || !add_jwt_response_header(r, ctx)) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        ngx_http_finalize_request(r, send_body(r, NGX_HTTP_OK, "text/plain", ""));
        return;
    }
    if (ctx->decision == NGX_OK) {
        decide_page(r, ctx, NGX_HTTP_UNAUTHORIZED, NGX_LOG_INFO, "auth_request: no session", "Authentication required",
                    "This request carries no valid session.");
        if (const LocConf* lcf = loc_conf(r); lcf->ldap && lcf->ldap_basic) set_basic_challenge(r, ctx, *lcf->ldap);
    }
    ngx_http_finalize_request(r, send_decision(r, ctx));
}

void session_loaded(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    const LocConf* lcf = loc_conf(r);
    if (ctx->decision == NGX_OK && !ctx->authenticated && lcf->ldap && lcf->ldap_basic &&
        basic_sign_in(r, ctx, *lcf->ldap, answer) == BasicStatus::started)
        return;
    answer(r);
}

}  // namespace

ngx_int_t auth_request_handler(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    if (!ctx) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    // Answered later (the store or the directory may wait): finalize_request ends it.
    ++r->main->count;
    load_session(r, ctx, session_loaded);
    return NGX_DONE;
}

}  // namespace sso::ngx
