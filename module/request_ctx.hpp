// Per-request state, allocated from r->pool: trivially destructible, so the pool may free it.
#pragma once

#include "module/ngx_includes.hpp"

#include <type_traits>

#include "session/session_record.hpp"
#include "session/store.hpp"

namespace sso::ngx {

// The authenticated identity, pointing into the session bytes copied to the request pool:
// values were made header-safe at sign-in (identity/attribute_map.hpp), so nothing is encoded
// per request; attributes stay in their stored list form until a $sso_attr_* asks for one.
struct Identity {
    ngx_str_t user, email, name, groups, auth_method, idp;
    ngx_str_t source;  // the identity source (sso_sources) the values came from
    ngx_str_t attributes;
    ngx_uint_t attribute_count;
    ngx_str_t group_list;  // the groups in their stored list form, for sso_require
    ngx_uint_t group_count;
    ngx_str_t separator;  // the location's sso_groups_separator, for attribute values
};

enum class Phase : ngx_uint_t { idle, waiting, done };

// The continuation of a step that may wait on the store.
using StepDone = void (*)(ngx_http_request_t* r) noexcept;

struct RequestCtx {
    Phase phase;
    unsigned async : 1;  // the handler returned NGX_AGAIN: resume phases on completion
    unsigned authenticated : 1;
    unsigned headers_set : 1;
    unsigned slo : 1;  // logout: a LogoutRequest goes to the IdP
    // an IdP's LogoutRequest without SessionIndex: every session of its NameID (module/slo.cpp)
    unsigned slo_all : 1;
    unsigned page_forward : 2;  // the way forward the page offers (sso::PageForward)
    // what the access phase decided: NGX_OK, or an HTTP status with a page or a redirect
    ngx_int_t decision;
    ngx_str_t location;
    ngx_str_t set_cookie;
    ngx_str_t www_authenticate;  // a 401 that invites HTTP Basic
    ngx_str_t title;
    ngx_str_t message;
    ngx_str_t page_continue;  // a "Continue" link on the page (a sign-out's return_to)
    Identity identity;
    // endpoint work in flight
    ngx_str_t session_id;  // the new session (ACS) or the one to end (logout)
    ngx_str_t return_to;
    ngx_str_t encoded_session;
    std::int64_t session_expires;
    ngx_str_t replay_key;
    std::int64_t replay_expires;
    ngx_str_t request_replay_key;  // "authn\n" + the AuthnRequest ID: each is answered once
    std::int64_t request_replay_expires;
    ngx_str_t relay_state;
    ngx_str_t in_response_to;
    ngx_str_t message_idp;  // the IdP (entityID) that issued the assertion or logout message at hand
    ngx_str_t user_for_log;
    ngx_str_t slo_key;         // the session's SLO index key (module/slo.cpp)
    ngx_str_t html_body;       // a whole HTML page to answer with (the HTTP-POST binding's form)
    StepDone next;             // the step in flight continues here (one at a time per request)
    struct LdapJob* ldap_job;  // a directory check of this request (module/ldap_flow.hpp)
    ngx_str_t jwt;             // the signed identity token, made on first use (module/identity_token.hpp)
    // the Cookie values the client sent (ngx_str_t), kept when ours were removed from the request
    // (module/upstream_cookies.hpp): what request_cookie() reads after that, internal redirects too
    ngx_array_t* sent_cookies;

    // the sessions of one NameID (module/slo.cpp): the key of their set, the set once taken
    // and the offset of the next member in it, and how many of them the LogoutRequest ended
    ngx_str_t slo_subject_key;
    ngx_str_t slo_members;
    std::size_t slo_next;
    ngx_uint_t slo_ended;
    // the store operation in flight (module/flows.hpp, with_store)
    StoreCallback store_cb;
    bool* store_answered_now;  // while the call that issues it runs: set when it is answered then
};
static_assert(std::is_trivially_destructible_v<RequestCtx>);

RequestCtx* request_ctx(ngx_http_request_t* r) noexcept;  // created on first use; null if out of memory

// The request's context if it has one, without making one: after an internal redirect (index,
// try_files, error_page, rewrite ... last, a named location), which empties r->ctx, a fresh
// one that carries the identity decided before it (module/request_ctx.cpp). Null otherwise.
RequestCtx* existing_request_ctx(ngx_http_request_t* r) noexcept;

// Fills ctx->identity from a session read in place; `session` must point into memory that
// lives as long as the request (the pool). False if out of memory.
bool set_identity(ngx_http_request_t* r, RequestCtx* ctx, const SessionView& session, ngx_str_t separator) noexcept;

// Adds the documented X-SSO-* header set to the request that goes upstream (after removing
// whatever the client sent under those names).
bool add_identity_headers(ngx_http_request_t* r, const Identity& id) noexcept;

// The same header set on a response: what `sso_auth_request` answers with.
bool add_identity_response_headers(ngx_http_request_t* r, const Identity& id) noexcept;

// Removes every client-sent header whose name reads as X-SSO-* (any case, '_' for '-').
ngx_int_t strip_identity_headers(ngx_http_request_t* r) noexcept;

ngx_int_t add_variables(ngx_conf_t* cf) noexcept;

}  // namespace sso::ngx
