// The module's phase handlers and the content handler of `sso_endpoint`.
#pragma once

#include "module/ngx_includes.hpp"

namespace sso::ngx {

ngx_int_t post_read_handler(ngx_http_request_t* r) noexcept;  // strips forged identity headers
ngx_int_t access_handler(ngx_http_request_t* r) noexcept;     // `sso on`: session or sign-in
ngx_int_t endpoint_handler(ngx_http_request_t* r) noexcept;   // metadata, login, acs, logout
ngx_int_t status_handler(ngx_http_request_t* r) noexcept;     // `sso_status`: zone usage as JSON

ngx_int_t auth_request_handler(ngx_http_request_t* r) noexcept;  // `sso_auth_request`: 200 + identity or 401

struct RequestCtx;
ngx_int_t ldap_form_handler(ngx_http_request_t* r, RequestCtx* ctx) noexcept;  // `sso_endpoint` …/ldap

}  // namespace sso::ngx
