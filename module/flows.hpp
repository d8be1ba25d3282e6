// The steps of a sign-in that both the access phase and the endpoint take. Each step may
// wait on the store; it records its outcome in the request context and calls `done`.
#pragma once

#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"

#include <optional>
#include <string>

namespace sso::ngx {

// Decision helpers: what the request gets when the flow finishes.
void decide_page(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, ngx_uint_t log_level,
                 std::string_view reason, std::string_view title, std::string_view message) noexcept;
void decide_redirect(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, std::string_view location) noexcept;

// Sends what ctx->decision says (page, or redirect with an optional Set-Cookie).
ngx_int_t send_decision(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

// Looks up the session cookie; on success ctx->authenticated is set and the identity filled.
void load_session(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept;

// The end of every sign-in: ends the session the browser had (a login always gets a fresh id:
// no fixation), stores ctx->encoded_session under ctx->session_id until ctx->session_expires,
// and decides the 303 to ctx->return_to with the session cookie, or a 503 when the store
// refuses. `done` runs either way; ctx->decision == NGX_HTTP_SEE_OTHER means signed in.
void store_new_session(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept;

// ?return_to=… checked against our own origin; "/" when absent. nullopt with `refused` set
// when it is present and not acceptable.
std::optional<std::string> return_to_arg(ngx_http_request_t* r, bool& refused) noexcept;

// Records a pending AuthnRequest and decides the redirect to the IdP.
void start_login(ngx_http_request_t* r, RequestCtx* ctx, std::string_view return_to, StepDone done) noexcept;

}  // namespace sso::ngx
