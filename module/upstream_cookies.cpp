#include "module/upstream_cookies.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "module/http_util.hpp"
#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"
#include "session/cookie.hpp"

namespace sso::ngx {
namespace {

bool is_cookie(std::string_view name) noexcept {
    return name.size() == 6 && ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(name.data())),
                                               reinterpret_cast<u_char*>(const_cast<char*>("cookie")), 6) == 0;
}

// Points r->headers_in's parsed Cookie headers at the ones in the header list now.
ngx_int_t relink_cookies(ngx_http_request_t* r) noexcept {
#if defined(nginx_version) && nginx_version >= 1023000
    ngx_table_elt_t** next = &r->headers_in.cookie;
#else
    r->headers_in.cookies.nelts = 0;
#endif
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
        auto* h = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            if (!is_cookie(sv(h[i].key))) continue;
#if defined(nginx_version) && nginx_version >= 1023000
            *next = &h[i];
            next = &h[i].next;
#else
            auto** slot = static_cast<ngx_table_elt_t**>(ngx_array_push(&r->headers_in.cookies));
            if (!slot) return NGX_ERROR;
            *slot = &h[i];
#endif
        }
    }
#if defined(nginx_version) && nginx_version >= 1023000
    *next = nullptr;
#endif
    return NGX_OK;
}

}  // namespace

bool server_issues_cookies(ngx_http_request_t* r) noexcept {
    const SrvConf* scf = srv_conf(r);
    return scf->rt && (scf->rt->sp || scf->ldap_form_uri.len);
}

ngx_int_t strip_own_cookies(ngx_http_request_t* r) noexcept {
    if (loc_conf(r)->pass_session_cookie) return NGX_OK;
    const SrvConf* scf = srv_conf(r);
    if (!scf->rt || scf->rt->cookie.name.empty()) return NGX_OK;
    try {
        const std::string& session = scf->rt->cookie.name;
        std::string_view names[2] = {session, {}};
        std::string csrf;
        // Every Cookie header, in order, with its value for the upstream; nothing to do when
        // none names a cookie of ours (the common case: no allocation beyond this).
        std::vector<ngx_table_elt_t> cookies;
        std::vector<const ngx_table_elt_t*> originals;
        bool changed = false;
        for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
            auto* h = static_cast<ngx_table_elt_t*>(part->elts);
            for (ngx_uint_t i = 0; i < part->nelts; ++i) {
                if (!is_cookie(sv(h[i].key))) continue;
                if (csrf.empty()) names[1] = csrf = session + "_csrf";  // the form's token (ldap_form.cpp)
                cookies.push_back(h[i]);
                originals.push_back(&h[i]);
                auto rest = without_cookies(sv(h[i].value), names);
                if (!rest) continue;
                changed = true;
                cookies.back().value = pool_copy(r->pool, *rest);
                if (!cookies.back().value.data) return NGX_ERROR;
            }
        }
        if (!changed) return NGX_OK;
        // The module itself may still need the session cookie after this (an internal redirect
        // to a location with sso on, a subrequest to sso_auth_request): keep what was sent.
        RequestCtx* ctx = request_ctx(r);
        if (!ctx) return NGX_ERROR;
        if (!ctx->sent_cookies) {
            ctx->sent_cookies = ngx_array_create(r->pool, cookies.size(), sizeof(ngx_str_t));
            if (!ctx->sent_cookies) return NGX_ERROR;
            for (const ngx_table_elt_t* h : originals) {
                auto* v = static_cast<ngx_str_t*>(ngx_array_push(ctx->sent_cookies));
                if (!v) return NGX_ERROR;
                *v = h->value;
            }
        }
        if (remove_request_headers(r, is_cookie) != NGX_OK) return NGX_ERROR;
        for (const ngx_table_elt_t& c : cookies) {
            if (!c.value.len) continue;
            auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_in.headers));
            if (!h) return NGX_ERROR;
            *h = c;
        }
        return relink_cookies(r);
    } catch (...) {
        return NGX_ERROR;
    }
}

}  // namespace sso::ngx
