// The identity as nginx sees it: $sso_* variables and the X-SSO-* request headers.
#include <cstddef>
#include <cstring>
#include <iterator>

#include "identity/header_value.hpp"
#include "module/http_util.hpp"
#include "module/request_ctx.hpp"

namespace sso::ngx {
namespace {

// A view into the session bytes, which live in the request pool (see load_session).
ngx_str_t in_pool(std::string_view stored) noexcept {
    return {stored.size(), reinterpret_cast<u_char*>(const_cast<char*>(stored.data()))};
}

// Values stored header-safe at sign-in, joined with the location's separator.
ngx_str_t joined(ngx_pool_t* pool, const StringList& values, std::string_view sep) noexcept {
    if (values.count == 1) {
        ngx_str_t only{0, nullptr};
        values.for_each([&](std::string_view value) noexcept { only = in_pool(value); });
        return only;
    }
    std::size_t len = values.count > 1 ? (values.count - 1) * sep.size() : 0;
    values.for_each([&](std::string_view value) noexcept { len += value.size(); });
    ngx_str_t out{0, nullptr};
    auto* p = static_cast<u_char*>(ngx_pnalloc(pool, len ? len : 1));
    if (!p) return out;
    out.data = p;
    out.len = len;
    bool first = true;
    values.for_each([&](std::string_view value) noexcept {
        if (!first) p = ngx_cpymem(p, sep.data(), sep.size());
        first = false;
        p = ngx_cpymem(p, value.data(), value.size());
    });
    return out;
}

struct HeaderDef {
    const char* name;
    const char* lowercase;  // what nginx's header hash is computed over
    std::size_t offset;
};
constexpr HeaderDef kHeaders[] = {
    {"X-SSO-User", "x-sso-user", offsetof(Identity, user)},
    {"X-SSO-Email", "x-sso-email", offsetof(Identity, email)},
    {"X-SSO-Name", "x-sso-name", offsetof(Identity, name)},
    {"X-SSO-Groups", "x-sso-groups", offsetof(Identity, groups)},
    {"X-SSO-Auth-Method", "x-sso-auth-method", offsetof(Identity, auth_method)},
    {"X-SSO-IdP", "x-sso-idp", offsetof(Identity, idp)},
};

// The constant names' nginx header hashes, computed once (ngx_hash is a pure function).
ngx_uint_t header_hash(const char* lowercase) noexcept {
    ngx_uint_t key = 0;
    for (const char* c = lowercase; *c; ++c) key = ngx_hash(key, static_cast<u_char>(*c));
    return key;
}

const ngx_str_t& field(const Identity& id, std::size_t offset) noexcept {
    return *reinterpret_cast<const ngx_str_t*>(reinterpret_cast<const char*>(&id) + offset);
}

ngx_int_t identity_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t offset) noexcept {
    const RequestCtx* ctx = existing_request_ctx(r);
    if (!ctx || !ctx->authenticated) {
        v->not_found = 1;
        return NGX_OK;
    }
    const ngx_str_t& s = field(ctx->identity, offset);
    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

// $sso_attr_NAME: the attribute with that Name or FriendlyName.
ngx_int_t attribute_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) noexcept {
    auto* var_name = reinterpret_cast<ngx_str_t*>(data);
    constexpr std::string_view prefix = "sso_attr_";
    const RequestCtx* ctx = existing_request_ctx(r);
    v->not_found = 1;
    if (!ctx || !ctx->authenticated || var_name->len <= prefix.size()) return NGX_OK;
    const std::string_view want = sv(*var_name).substr(prefix.size());
    SessionView stored;
    stored.attributes = sv(ctx->identity.attributes);
    stored.attribute_count = ctx->identity.attribute_count;
    bool found = false;
    stored.for_each_attribute([&](std::string_view name, const StringList& values) noexcept {
        // nginx lower-cases variable names; attribute names keep their case (displayName).
        if (found || name.size() != want.size() ||
            ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(name.data())),
                            reinterpret_cast<u_char*>(const_cast<char*>(want.data())), want.size()) != 0)
            return;
        found = true;
        const ngx_str_t value = joined(r->pool, values, sv(ctx->identity.separator));
        if (!value.data) return;
        v->data = value.data;
        v->len = value.len;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
    });
    return NGX_OK;
}

}  // namespace

bool set_identity(ngx_http_request_t* r, RequestCtx* ctx, const SessionView& session, ngx_str_t sep) noexcept {
    Identity& id = ctx->identity;
    id.user = in_pool(session.user);
    id.email = in_pool(session.email);
    id.name = in_pool(session.display_name);
    id.groups = joined(r->pool, session.groups, sv(sep));
    id.auth_method = in_pool(session.auth_method);
    id.idp = in_pool(session.idp);
    id.source = in_pool(session.source);
    id.attributes = {session.attributes.size(),
                     reinterpret_cast<u_char*>(const_cast<char*>(session.attributes.data()))};
    id.attribute_count = session.attribute_count;
    id.group_list = in_pool(session.groups.encoded);
    id.group_count = session.groups.count;
    id.separator = sep;
    for (const auto& h : kHeaders)
        if (!field(id, h.offset).data) return false;
    ctx->authenticated = 1;
    return true;
}

ngx_int_t strip_identity_headers(ngx_http_request_t* r) noexcept {
    return remove_request_headers(r, [](std::string_view name) noexcept { return is_identity_header_name(name); });
}

bool add_identity_response_headers(ngx_http_request_t* r, const Identity& id) noexcept {
    for (const HeaderDef& def : kHeaders) {
        const ngx_str_t& value = field(id, def.offset);
        if (value.len && !add_response_header(r, def.name, sv(value))) return false;
    }
    return true;
}

bool add_identity_headers(ngx_http_request_t* r, const Identity& id) noexcept {
    if (strip_identity_headers(r) != NGX_OK) return false;
    static const ngx_uint_t hashes[] = {header_hash(kHeaders[0].lowercase), header_hash(kHeaders[1].lowercase),
                                        header_hash(kHeaders[2].lowercase), header_hash(kHeaders[3].lowercase),
                                        header_hash(kHeaders[4].lowercase), header_hash(kHeaders[5].lowercase)};
    static_assert(std::size(kHeaders) == 6);
    for (std::size_t i = 0; i < std::size(kHeaders); ++i) {
        const HeaderDef& def = kHeaders[i];
        const ngx_str_t& value = field(id, def.offset);
        if (value.len == 0) continue;
        auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_in.headers));
        if (!h) return false;
        h->key.len = std::strlen(def.name);
        h->key.data = reinterpret_cast<u_char*>(const_cast<char*>(def.name));
        h->value = value;
        h->lowcase_key = reinterpret_cast<u_char*>(const_cast<char*>(def.lowercase));  // nginx only reads it
        h->hash = hashes[i];
#if defined(nginx_version) && nginx_version >= 1023000
        h->next = nullptr;
#endif
    }
    return true;
}

ngx_int_t add_variables(ngx_conf_t* cf) noexcept {
    struct VarDef {
        const char* name;
        std::size_t offset;
    };
    static const VarDef vars[] = {
        {"sso_user", offsetof(Identity, user)},
        {"sso_email", offsetof(Identity, email)},
        {"sso_name", offsetof(Identity, name)},
        {"sso_groups", offsetof(Identity, groups)},
        {"sso_auth_method", offsetof(Identity, auth_method)},
        {"sso_idp", offsetof(Identity, idp)},
        {"sso_source", offsetof(Identity, source)},
    };
    for (const auto& def : vars) {
        ngx_str_t name{std::strlen(def.name), reinterpret_cast<u_char*>(const_cast<char*>(def.name))};
        ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
        if (!var) return NGX_ERROR;
        var->get_handler = identity_variable;
        var->data = def.offset;
    }
    static ngx_str_t prefix = ngx_string("sso_attr_");
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &prefix, NGX_HTTP_VAR_PREFIX | NGX_HTTP_VAR_NOCACHEABLE);
    if (!var) return NGX_ERROR;
    var->get_handler = attribute_variable;
    var->data = 0;  // nginx passes the full variable name for prefix variables
    return NGX_OK;
}

}  // namespace sso::ngx
