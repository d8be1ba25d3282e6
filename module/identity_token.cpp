// sso_jwt_*: the signed identity token on the upstream request, on sso_auth_request answers
// and in $sso_jwt. Keys are read and checked once, when the directive is parsed; a request
// signs at most one token, on first use, and keeps it in its pool.
#include "module/identity_token.hpp"

#include <cctype>
#include <cstring>
#include <optional>
#include <string>

#include <openssl/crypto.h>

#include "identity/header_value.hpp"
#include "module/conf_util.hpp"
#include "module/http_util.hpp"
#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {
namespace {

constexpr std::size_t kMaxHeaderName = 64;
constexpr time_t kDefaultLifetime = 60;

// Names whose meaning to nginx, the upstream or HTTP itself a token must not take over.
constexpr std::string_view kReservedHeaders[] = {
    "host",    "content-length", "transfer-encoding", "connection",         "keep-alive", "upgrade", "te",
    "trailer", "cookie",         "authorization",     "proxy-authorization"};

bool is_tchar(unsigned char c) noexcept {  // RFC 9110 token characters
    return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::optional<std::string> read_key_file(const ngx_str_t& path, ngx_err_t& err, std::string& why) {
    ngx_fd_t fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        return std::nullopt;
    }
    std::optional<std::string> out;
    ngx_file_info_t fi;
    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
    } else if (!ngx_is_file(&fi)) {
        why = "not a regular file";
    } else if (ngx_file_size(&fi) > static_cast<off_t>(kMaxTokenKeyBytes)) {
        why = "larger than " + std::to_string(kMaxTokenKeyBytes) + " bytes";
    } else {
        out.emplace(static_cast<std::size_t>(ngx_file_size(&fi)), '\0');
        std::size_t got = 0;
        while (got < out->size()) {
            const ssize_t n = ngx_read_fd(fd, out->data() + got, out->size() - got);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got != out->size()) {
            err = ngx_errno;
            OPENSSL_cleanse(out->data(), out->size());
            out.reset();
        }
    }
    ngx_close_file(fd);
    return out;
}

bool names_token_header(std::string_view name, const void* conf) noexcept {
    return is_header_name(name, sv(static_cast<const JwtLocConf*>(conf)->header));
}

// The request's token, signed on first use; null when there is none to give (not signed in,
// or no sso_jwt_key here) or signing failed (logged).
const ngx_str_t* request_token(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const JwtLocConf& jc = loc_conf(r)->jwt;
    if (!ctx || !ctx->authenticated || !jc.key) return nullptr;
    if (ctx->jwt.data) return &ctx->jwt;
    try {
        const Identity& id = ctx->identity;
        const StringList groups{sv(id.group_list), id.group_count};
        const TokenClaims claims = claims_from_stored(sv(id.user), sv(id.email), sv(id.name), groups);
        const TokenOptions options{sv(jc.issuer), sv(jc.audience), jc.lifetime};
        auto token = sign_identity_token(*jc.key, claims, options, ngx_time());
        if (!token) {
            log_reason(r, NGX_LOG_ERR, token.error().reason);
            return nullptr;
        }
        ctx->jwt = pool_copy(r->pool, token.value());
        return ctx->jwt.data ? &ctx->jwt : nullptr;
    } catch (...) {
        log_reason(r, NGX_LOG_ERR, "identity token: out of memory");
        return nullptr;
    }
}

ngx_int_t jwt_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) noexcept {
    RequestCtx* ctx = existing_request_ctx(r);
    const ngx_str_t* token = request_token(r, ctx);
    if (!token) {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = token->data;
    v->len = token->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

}  // namespace

void init_jwt_conf(JwtLocConf* c) noexcept {
    c->key = static_cast<const TokenKey*>(NGX_CONF_UNSET_PTR);
    c->lifetime = NGX_CONF_UNSET;
}

char* merge_jwt_conf(ngx_conf_t* cf, const JwtLocConf* prev, JwtLocConf* c) noexcept {
    ngx_conf_merge_str_value(c->header, prev->header, "off");
    ngx_conf_merge_ptr_value(c->key, prev->key, nullptr);
    ngx_conf_merge_str_value(c->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(c->audience, prev->audience, "");
    ngx_conf_merge_sec_value(c->lifetime, prev->lifetime, kDefaultLifetime);
    if (c->lifetime <= 0) return conf_error(cf, "\"sso_jwt_lifetime\" must be positive");
    if (sv(c->header) == "off") return NGX_CONF_OK;
    if (!c->key)
        return conf_error(cf, "\"sso_jwt_header " + str(c->header) + "\" needs \"sso_jwt_key\" (hs256 or rs256 FILE)");
    c->header_lowcase.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, c->header.len));
    if (!c->header_lowcase.data) return static_cast<char*>(NGX_CONF_ERROR);
    c->header_lowcase.len = c->header.len;
    c->header_hash = ngx_hash_strlow(c->header_lowcase.data, c->header.data, c->header.len);
    return NGX_CONF_OK;
}

char* set_jwt_header(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    JwtLocConf& jc = static_cast<LocConf*>(conf)->jwt;
    if (jc.header.data) return const_cast<char*>("is duplicate");
    const ngx_str_t& value = static_cast<ngx_str_t*>(cf->args->elts)[1];
    const std::string_view name = sv(value);
    try {
        if (name != "off") {
            bool token = !name.empty() && name.size() <= kMaxHeaderName;
            for (const char c : name) token = token && is_tchar(static_cast<unsigned char>(c));
            if (!token)
                return conf_error(cf, "\"sso_jwt_header\": \"" + std::string(name) +
                                          "\" is not a header name (1 to 64 token characters)");
            for (std::string_view reserved : kReservedHeaders)
                if (is_header_name(name, reserved))
                    return conf_error(cf, "\"sso_jwt_header\": \"" + std::string(name) +
                                              "\" is reserved; for a bearer token use "
                                              "proxy_set_header Authorization \"Bearer $sso_jwt\"");
        }
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    jc.header = value;
    return NGX_CONF_OK;
}

char* set_jwt_key(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    JwtLocConf& jc = static_cast<LocConf*>(conf)->jwt;
    if (jc.key != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    try {
        std::string alg_name = str(value[1]);
        for (char& ch : alg_name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (alg_name != "hs256" && alg_name != "rs256")
            return conf_error(cf, "\"sso_jwt_key\": unknown algorithm \"" + str(value[1]) + "\" (hs256 or rs256)");
        const TokenAlg alg = alg_name == "hs256" ? TokenAlg::hs256 : TokenAlg::rs256;
        ngx_str_t file = value[2];
        if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
        ngx_err_t err = 0;
        std::string why;
        auto bytes = read_key_file(file, err, why);
        if (!bytes) {
            if (!why.empty()) return conf_error(cf, "\"sso_jwt_key\": file \"" + str(file) + "\" is " + why);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, err, "\"sso_jwt_key\": cannot read file \"%V\"", &file);
            return static_cast<char*>(NGX_CONF_ERROR);
        }
        auto key = TokenKey::load(alg, *bytes);
        OPENSSL_cleanse(bytes->data(), bytes->size());
        if (!key) return conf_error(cf, "\"sso_jwt_key\": file \"" + str(file) + "\": " + key.error().reason);
        jc.key = pool_new<TokenKey>(cf->pool, std::move(key.value()));
        if (!jc.key) return static_cast<char*>(NGX_CONF_ERROR);
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    return NGX_CONF_OK;
}

ngx_int_t strip_jwt_header(ngx_http_request_t* r) noexcept {
    const JwtLocConf& jc = loc_conf(r)->jwt;
    if (!jc.header_lowcase.len) return NGX_OK;
    return remove_request_headers(r, names_token_header, &jc);
}

bool add_jwt_header(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const JwtLocConf& jc = loc_conf(r)->jwt;
    if (!jc.header_lowcase.len) return true;
    const ngx_str_t* token = request_token(r, ctx);
    if (!token) return false;
    auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_in.headers));
    if (!h) return false;
    h->key = jc.header;
    h->value = *token;
    h->lowcase_key = jc.header_lowcase.data;
    h->hash = jc.header_hash;
#if defined(nginx_version) && nginx_version >= 1023000
    h->next = nullptr;
#endif
    return true;
}

bool add_jwt_response_header(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const JwtLocConf& jc = loc_conf(r)->jwt;
    if (!jc.header_lowcase.len) return true;
    const ngx_str_t* token = request_token(r, ctx);
    return token && add_response_header(r, sv(jc.header), sv(*token));
}

ngx_int_t add_jwt_variable(ngx_conf_t* cf) noexcept {
    static ngx_str_t name = ngx_string("sso_jwt");
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (!var) return NGX_ERROR;
    var->get_handler = jwt_variable;
    return NGX_OK;
}

}  // namespace sso::ngx
