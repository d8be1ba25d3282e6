// The signed identity token in nginx: sso_jwt_* directives, the header for the upstream and
// the $sso_jwt variable. The token itself is made by identity/identity_token.hpp.
#pragma once

#include "module/ngx_includes.hpp"

#include "identity/identity_token.hpp"

namespace sso::ngx {

// The sso_jwt_* settings of one location (http and server levels are merged into it).
struct JwtLocConf {
    ngx_str_t header;          // sso_jwt_header NAME | off (the default)
    ngx_str_t header_lowcase;  // made at merge, with its nginx hash, for the upstream request
    ngx_uint_t header_hash;
    const TokenKey* key;  // sso_jwt_key, loaded where written and inherited; null: no token here
    ngx_str_t issuer;     // sso_jwt_issuer; empty: no iss claim
    ngx_str_t audience;   // sso_jwt_audience; empty: no aud claim
    time_t lifetime;      // sso_jwt_lifetime
};

void init_jwt_conf(JwtLocConf* c) noexcept;
char* merge_jwt_conf(ngx_conf_t* cf, const JwtLocConf* prev, JwtLocConf* c) noexcept;

// Directive handlers; `conf` is the LocConf.
char* set_jwt_key(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;     // hs256|rs256 FILE
char* set_jwt_header(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;  // NAME | off

struct RequestCtx;

// Access phase, before anything else: removes client-sent copies of this location's token
// header (any case, '_' for '-').
ngx_int_t strip_jwt_header(ngx_http_request_t* r) noexcept;

// For an authenticated request where sso_jwt_header is set: the token on the upstream request
// (or, for sso_auth_request, on the response). False on failure, which is logged.
bool add_jwt_header(ngx_http_request_t* r, RequestCtx* ctx) noexcept;
bool add_jwt_response_header(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

ngx_int_t add_jwt_variable(ngx_conf_t* cf) noexcept;  // $sso_jwt

}  // namespace sso::ngx
