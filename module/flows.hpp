// The steps of a sign-in that both the access phase and the endpoint take. Each step may
// wait on the store; it records its outcome in the request context and calls `done`.
#pragma once

#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"
#include "session/page.hpp"

#include <optional>
#include <string>

namespace sso::ngx {

// Every store operation made for a request goes through here: `issue(store, cb, data)` starts
// it. The answer may come after the handler returned (Redis): the request is kept
// (r->main->blocked: nginx does not free it, even when the client hangs up or the request is
// terminated) until `cb` has run; an answer that comes later also runs the posted requests
// afterwards (a finished subrequest posts its parent). `cb` gets the request as its data.
void relay_store_reply(void* data, StoreReply reply) noexcept;
template <class Issue>
void with_store(ngx_http_request_t* r, RequestCtx* ctx, StoreCallback cb, Issue&& issue) noexcept {
    bool answered_now = false;
    ctx->store_cb = cb;
    ctx->store_answered_now = &answered_now;
    r->main->blocked++;
    issue(main_conf(r)->store, relay_store_reply, static_cast<void*>(r));
    // Answered already: `cb` ran and may have finished the request, which must not be touched.
    // Otherwise the request waits (blocked), and the answer will come later.
    if (!answered_now) ctx->store_answered_now = nullptr;
}

// A 503 with `message` on the page, and one error line: "<what>: <why the store failed>".
void decide_store_unavailable(ngx_http_request_t* r, RequestCtx* ctx, std::string_view what, StoreReply reply,
                              std::string_view message) noexcept;

// Decision helpers: what the request gets when the flow finishes.
void decide_page(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, ngx_uint_t log_level,
                 std::string_view reason, std::string_view title, std::string_view message,
                 PageForward forward = PageForward::none) noexcept;
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

// Decides the redirect to the IdP with a self-verifying AuthnRequest (nothing is stored).
// Sends the browser to `idp` (an entityID of the server's metadata; empty: its first IdP).
void start_login(ngx_http_request_t* r, RequestCtx* ctx, std::string_view return_to, StepDone done,
                 std::string_view idp = {}) noexcept;

}  // namespace sso::ngx
