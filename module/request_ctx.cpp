// The request context, and what of it survives an internal redirect. nginx empties r->ctx when
// it redirects a request internally (index, try_files, error_page, rewrite ... last, a named
// location) and runs its phases again, access included. The identity decided before must hold
// there: HTTP Basic removed the credentials from the request once it checked them, so nothing
// could sign the redirected request in again. Like ngx_http_realip_module, the context is kept
// reachable from a cleanup of the request's pool, tagged with the request it belongs to:
// subrequests share the pool, and must not inherit the identity of their parent.
#include "module/request_ctx.hpp"

#include "module/sso_conf.hpp"

namespace sso::ngx {
namespace {

struct KeptCtx {
    ngx_http_request_t* r;
    RequestCtx* ctx;  // the request's latest context
};

// Never run for its effect (the pool frees the context): it marks our cleanup entries.
void kept_ctx_marker(void*) noexcept {}

KeptCtx* find_kept(ngx_http_request_t* r) noexcept {
    for (ngx_pool_cleanup_t* c = r->pool->cleanup; c; c = c->next) {
        if (c->handler != kept_ctx_marker) continue;
        auto* kept = static_cast<KeptCtx*>(c->data);
        if (kept->r == r) return kept;
    }
    return nullptr;
}

RequestCtx* new_ctx(ngx_http_request_t* r, KeptCtx* kept) noexcept {
    auto* ctx = static_cast<RequestCtx*>(ngx_pcalloc(r->pool, sizeof(RequestCtx)));
    if (!ctx) return nullptr;
    if (!kept) {
        ngx_pool_cleanup_t* c = ngx_pool_cleanup_add(r->pool, sizeof(KeptCtx));
        if (!c) return nullptr;
        c->handler = kept_ctx_marker;
        kept = static_cast<KeptCtx*>(c->data);
        kept->r = r;
    } else {
        const RequestCtx* before = kept->ctx;
        ctx->sent_cookies = before->sent_cookies;  // the session cookie, if ours were removed already
        if (before->decision == NGX_OK && before->authenticated) {
            // Only the identity carries over, as if the new location had read it from a session:
            // its access phase applies its own sso_idp and sso_require and adds its own headers
            // (the identity's values live in the request pool).
            ctx->identity = before->identity;
            ctx->authenticated = 1;
            ctx->decision = NGX_OK;
        }
    }
    kept->ctx = ctx;
    ngx_http_set_ctx(r, ctx, ngx_http_sso_module);
    return ctx;
}

}  // namespace

RequestCtx* existing_request_ctx(ngx_http_request_t* r) noexcept {
    if (auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_sso_module))) return ctx;
    KeptCtx* kept = find_kept(r);
    return kept ? new_ctx(r, kept) : nullptr;
}

RequestCtx* request_ctx(ngx_http_request_t* r) noexcept {
    if (auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_sso_module))) return ctx;
    return new_ctx(r, find_kept(r));
}

}  // namespace sso::ngx
