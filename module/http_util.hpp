// Small request/response helpers shared by the phase handlers and the endpoint.
#pragma once

#include "module/ngx_includes.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "session/page.hpp"

namespace sso::ngx {

inline std::string_view sv(const ngx_str_t& s) noexcept {
    return {reinterpret_cast<const char*>(s.data), s.len};
}

// A copy in the request pool; data is null when the pool is exhausted.
ngx_str_t pool_copy(ngx_pool_t* pool, std::string_view s) noexcept;

// The first request header with this (case-insensitive) name.
std::optional<std::string_view> request_header(ngx_http_request_t* r, std::string_view lowercase_name) noexcept;

// The value of a cookie, looked up in every Cookie header the client sent.
std::optional<std::string_view> request_cookie(ngx_http_request_t* r, std::string_view name) noexcept;

bool add_response_header(ngx_http_request_t* r, std::string_view name, std::string_view value) noexcept;

// One log line for a decision, with the reason escaped (it may quote hostile input).
void log_reason(ngx_http_request_t* r, ngx_uint_t level, std::string_view reason) noexcept;

// A complete response with a short HTML page (or JSON when the client asked for JSON): the
// site's name, the way forward, and the request's reference (session/page.hpp).
// Returns what ngx_http_output_filter returned, for ngx_http_finalize_request.
ngx_int_t send_page(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                    PageForward forward = PageForward::none) noexcept;

// The same with the page wanted and the sign-in link given, where the request does not say
// them (the LDAP form's POST carries return_to in its body).
ngx_int_t send_page_to(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                       PageForward forward, std::string_view return_to, std::string_view login_uri) noexcept;

// The name pages give the site: server_name, or the Host (page_site in session/page.hpp).
std::string_view site_name(ngx_http_request_t* r) noexcept;

// Where "Sign in again" leads from a page of this request: the sign-in its location uses
// (page_sign_in in session/page.hpp); empty when it has none that works.
std::string_view page_login_uri(ngx_http_request_t* r) noexcept;

// 405 with Allow naming the methods the endpoint takes (e.g. "GET, HEAD").
ngx_int_t not_allowed(ngx_http_request_t* r, std::string_view allow) noexcept;

// $request_id of the request (the main request's): the reference pages show and log lines
// carry. init_request_reference looks the variable up when the configuration is read.
ngx_int_t init_request_reference(ngx_conf_t* cf) noexcept;
std::string_view request_reference(ngx_http_request_t* r) noexcept;

// Every answer of the module goes through here. A request body not read yet is discarded
// (a 413 also ends the connection), so that it cannot be parsed as the next request.
ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type,
                    std::string_view body) noexcept;

// 302/303 to `location`, no body cached anywhere.
ngx_int_t send_redirect(ngx_http_request_t* r, ngx_uint_t status, std::string_view location) noexcept;

using sso::html_escape;

// Removes every request header whose name `match` accepts (before they are copied upstream).
ngx_int_t remove_request_headers(ngx_http_request_t* r, bool (*match)(std::string_view name) noexcept) noexcept;
// The same with a context for `match` (e.g. a configured header name).
ngx_int_t remove_request_headers(ngx_http_request_t* r, bool (*match)(std::string_view name, const void* data) noexcept,
                                 const void* data) noexcept;

// The request body read by ngx_http_read_client_request_body, from memory or its temporary
// file; nullopt when there is none or it cannot be read. May throw std::bad_alloc.
std::optional<std::string> request_body(ngx_http_request_t* r);

// "https" or "http", and the Host the client used: the origin return targets must match.
std::string_view request_scheme(ngx_http_request_t* r) noexcept;
std::string_view request_host(ngx_http_request_t* r) noexcept;

}  // namespace sso::ngx
