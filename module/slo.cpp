// SAML Single Logout in nginx: the SP-initiated half of `…/logout` (end the local session,
// then send the IdP a LogoutRequest and finish on its LogoutResponse at `…/slo`) and the
// IdP-initiated half (a LogoutRequest at `…/slo` ends the session its NameID and SessionIndex
// name, found through the SLO index, or without a SessionIndex every session of that NameID,
// found through the slo_subjects sets, and is answered with a LogoutResponse; one that cannot
// be verified ends nothing and is answered Requester/RequestDenied). The messages are made and
// checked by saml/logout.cpp; this file only walks the store steps.
#include <string>

#include "module/counters.hpp"
#include "module/flows.hpp"
#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "module/slo.hpp"
#include "module/slo_subjects.hpp"
#include "saml/logout.hpp"
#include "saml/service_provider.hpp"
#include "session/cookie.hpp"
#include "session/form.hpp"
#include "session/session_id.hpp"

namespace sso::ngx {
namespace {

constexpr std::string_view kPendingPrefix = "slo:";  // pending_requests keys of our LogoutRequests
constexpr std::string_view kSignedOut = "You are signed out of this site.";
constexpr std::string_view kUnverified =
    "You are signed out here; the identity provider's answer could not be verified.";

void finish(ngx_http_request_t* r) noexcept {
    ngx_http_finalize_request(r, send_decision(r, request_ctx(r)));
}

// The IdP a logout message comes from, by the Issuer it names: only to choose whose keys
// check it; the check itself (LogoutService::parse_*) compares the Issuer again.
LogoutService* slo_for_message(ngx_http_request_t* r, SloBinding binding, std::string_view message, bool is_request) {
    SrvConf* scf = srv_conf(r);
    auto issuer = logout_message_issuer(binding, message, is_request, scf->max_response_size);
    return issuer ? scf->rt->sp->logout(*issuer) : nullptr;
}

// The page that carries a message to the IdP when a redirect cannot: the HTTP-POST binding's
// self-submitting form, or for HTTP-Redirect inside a 4xx answer, a link the page follows.
std::string carrier_page(const OutgoingLogout& m) {
    std::string body;
    if (m.binding == SloBinding::post) {
        body = "<form method=\"post\" action=\"" + html_escape(m.url) + "\">\n<input type=\"hidden\" name=\"" +
               html_escape(m.field) + "\" value=\"" + html_escape(m.value) + "\">\n";
        if (!m.relay_state.empty())
            body += "<input type=\"hidden\" name=\"RelayState\" value=\"" + html_escape(m.relay_state) + "\">\n";
        body +=
            "<button type=\"submit\">Continue</button>\n</form>\n"
            "<script>document.forms[0].submit();</script>\n";
    } else {
        body = "<meta http-equiv=\"refresh\" content=\"0;url=" + html_escape(m.url) + "\">\n<p><a href=\"" +
               html_escape(m.url) + "\">Continue</a></p>\n";
    }
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing out</title></head>\n<body>\n" + body +
           "</body></html>\n";
}

// How the browser carries `m`: a 302 (HTTP-Redirect) or the form page with `status`.
bool decide_outgoing(ngx_http_request_t* r, RequestCtx* ctx, const OutgoingLogout& m, ngx_int_t status) {
    ctx->title = {0, nullptr};
    if (m.binding == SloBinding::redirect && status == NGX_HTTP_MOVED_TEMPORARILY) {
        ctx->html_body = {0, nullptr};
        decide_redirect(r, ctx, status, m.url);
        return ctx->location.data != nullptr;
    }
    ctx->location = {0, nullptr};
    ctx->decision = status;
    ctx->html_body = pool_copy(r->pool, carrier_page(m));
    return ctx->html_body.data != nullptr;
}

void signed_out_page(ngx_http_request_t* r, RequestCtx* ctx, std::string_view message) noexcept {
    ctx->decision = NGX_HTTP_OK;
    ctx->location = {0, nullptr};
    ctx->html_body = {0, nullptr};
    ctx->title = pool_copy(r->pool, "Signed out");
    ctx->message = pool_copy(r->pool, message);
    ctx->page_forward = static_cast<unsigned>(PageForward::sign_in);
}

// The signed-out page with a link on to `return_to` (already checked when the logout began).
void signed_out_page_with_link(ngx_http_request_t* r, RequestCtx* ctx, std::string_view message,
                               std::string_view return_to) {
    signed_out_page(r, ctx, message);
    ctx->page_continue = pool_copy(r->pool, return_to);
}

void refuse(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, std::string_view reason) noexcept {
    try {
        decide_page(r, ctx, status, NGX_LOG_WARN, reason, "Sign-out refused",
                    "The sign-out message could not be accepted.");
    } catch (...) {
        ctx->decision = status;
    }
    finish(r);
}

ngx_int_t status_of(const Error& e) noexcept {
    return e.code == SamlError::bad_request ? NGX_HTTP_BAD_REQUEST
           : e.code == SamlError::internal  ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                            : NGX_HTTP_FORBIDDEN;
}

// --- SP-initiated: …/logout ----------------------------------------------------------------

void sp_logout_pending_recorded(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        signed_out_page(r, ctx, kSignedOut);
        log_reason(r, NGX_LOG_ERR,
                   "session ended by logout; cannot record the pending LogoutRequest (store full or "
                   "unavailable): the IdP is not told");
    } else {
        log_reason(
            r, NGX_LOG_INFO,
            "session ended by logout; LogoutRequest " + std::string(sv(ctx->in_response_to)) + " sent to the IdP");
    }
    finish(r);
}

void sp_logout_index_removed(void* data, StoreReply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    const std::int64_t now = ngx_time();
    std::string key;
    try {
        key = std::string(kPendingPrefix) + std::string(sv(ctx->in_response_to));
    } catch (...) {
        sp_logout_pending_recorded(r, {StoreStatus::unavailable, {}});
        return;
    }
    // (the store call itself must not throw: with_store is noexcept)
    with_store(r, ctx, sp_logout_pending_recorded, [&](Store* store, StoreCallback cb, void* data) {
        store->put(Table::pending_requests, key, sv(ctx->return_to), {now + srv_conf(r)->login_timeout, 0}, now, cb,
                   data);
    });
}

void sp_logout_session_removed(void* data, StoreReply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    count(r, Counter::logout);
    if (!ctx->slo) {
        log_reason(r, NGX_LOG_INFO, "session ended by logout");
        finish(r);
        return;
    }
    with_store(r, ctx, sp_logout_index_removed, [&](Store* store, StoreCallback cb, void* data) {
        store->remove(Table::slo_index, sv(ctx->slo_key), cb, data);
    });
}

// The session is read first: the LogoutRequest names its NameID and SessionIndex. It is
// removed before the browser is sent anywhere, so it ends even when the IdP is unreachable.
void sp_logout_session_read(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    SrvConf* scf = srv_conf(r);
    if (reply.status == StoreStatus::ok) {
        auto session = view_session(reply.value);
        if (session && session->scope == scf->rt->scope && session->auth_method == "saml" &&
            !session->name_id.empty() && scf->rt->sp) {
            try {
                // The IdP that signed this session in, if it is still in the metadata and has SLO.
                LogoutService* slo = scf->rt->sp->logout(session->idp);
                auto message =
                    slo && slo->idp_has_slo()
                        ? slo->build_request({session->name_id, session->name_id_format, session->session_index,
                                              session->name_qualifier, session->sp_name_qualifier},
                                             ngx_time())
                        : Result<OutgoingLogout>(fail(SamlError::config, "no SLO service"));
                if (!slo || !slo->idp_has_slo()) {
                    // local logout only
                } else if (!message) {
                    log_reason(r, NGX_LOG_ERR, "cannot build the LogoutRequest: " + message.error().reason);
                } else {
                    ctx->in_response_to = pool_copy(r->pool, message->id);
                    ctx->slo_key = pool_copy(
                        r->pool, slo_index_key(scf->rt->scope, session->idp, session->name_id, session->session_index));
                    const ngx_int_t status =
                        message->binding == SloBinding::redirect ? NGX_HTTP_MOVED_TEMPORARILY : NGX_HTTP_OK;
                    ctx->slo =
                        ctx->in_response_to.data && ctx->slo_key.data && decide_outgoing(r, ctx, *message, status);
                }
            } catch (...) {
                ctx->slo = 0;
            }
        }
    }
    with_store(r, ctx, sp_logout_session_removed, [&](Store* store, StoreCallback cb, void* data) {
        store->remove(Table::sessions, sv(ctx->session_id), cb, data);
    });
}

// --- IdP-initiated: a LogoutRequest at …/slo ------------------------------------------------

// Answers the IdP (logout_status_for): Success (302 or form); for a session we do not know, a
// 404; for a request we could not verify, a 403 (`refusal` says why). The pages of both still
// carry the signed LogoutResponse on, so the IdP's logout chain goes on.
void answer_idp(ngx_http_request_t* r, RequestCtx* ctx, LogoutOutcome outcome, std::string_view refusal = {}) noexcept {
    // Looked up again: the metadata may have been refreshed (or expired) while the store answered.
    LogoutService* slo = srv_conf(r)->rt->sp ? srv_conf(r)->rt->sp->logout(sv(ctx->message_idp)) : nullptr;
    if (!slo) {
        decide_page(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_WARN,
                    "LogoutRequest not answered: the IdP is no longer in the metadata (expired or refreshed)",
                    "Sign-out unavailable", "The identity provider is not available to this site any more.");
        finish(r);
        return;
    }
    const bool ended = outcome == LogoutOutcome::ended;
    try {
        const LogoutStatus answer = logout_status_for(outcome);
        auto response = slo->build_response(sv(ctx->in_response_to), answer.status, answer.second, sv(ctx->relay_state),
                                            ngx_time());
        if (!response) {
            decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
                        "cannot build the LogoutResponse: " + response.error().reason, "Internal error",
                        "The sign-out could not be completed.");
            finish(r);
            return;
        }
        const ngx_int_t status = outcome == LogoutOutcome::refused           ? NGX_HTTP_FORBIDDEN
                                 : !ended                                    ? NGX_HTTP_NOT_FOUND
                                 : response->binding == SloBinding::redirect ? NGX_HTTP_MOVED_TEMPORARILY
                                                                             : NGX_HTTP_OK;
        if (!decide_outgoing(r, ctx, *response, status)) ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        // The browser the IdP sends here is usually the user's: its cookie goes too.
        if (ended) ctx->set_cookie = pool_copy(r->pool, build_clear_cookie(srv_conf(r)->rt->cookie));
        const std::string id(sv(ctx->in_response_to));
        const std::string who = "NameID \"" + std::string(sv(ctx->user_for_log)) + "\"";
        if (outcome == LogoutOutcome::refused)
            log_reason(r, NGX_LOG_WARN,
                       "LogoutRequest refused: " + std::string(refusal) + "; answered " + std::string(answer.second) +
                           ", no session ended");
        else if (ended && ctx->slo_all)
            log_reason(r, NGX_LOG_INFO,
                       std::to_string(ctx->slo_ended) + " session(s) of " + who + " ended by the IdP's LogoutRequest " +
                           id + " (no SessionIndex: every session of it)");
        else if (ended)
            log_reason(r, NGX_LOG_INFO, "session of " + who + " ended by the IdP's LogoutRequest " + id);
        else
            log_reason(r, NGX_LOG_WARN,
                       "LogoutRequest " + id + " for " + who + " names no session of this SP (unknown session)");
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    finish(r);
}

void idp_logout_session_removed(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    if (reply.status == StoreStatus::ok) count(r, Counter::logout);
    answer_idp(r, request_ctx(r), reply.status == StoreStatus::ok ? LogoutOutcome::ended : LogoutOutcome::no_session);
}

void idp_logout_index_taken(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok || !is_well_formed_session_id(reply.value)) {
        answer_idp(r, ctx, LogoutOutcome::no_session);
        return;
    }
    ctx->session_id = pool_copy(r->pool, reply.value);
    if (!ctx->session_id.data) {
        answer_idp(r, ctx, LogoutOutcome::no_session);
        return;
    }
    with_store(r, ctx, idp_logout_session_removed, [&](Store* store, StoreCallback cb, void* data) {
        store->remove(Table::sessions, sv(ctx->session_id), cb, data);
    });
}

void subject_sessions_ended(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    answer_idp(r, ctx, ctx->slo_ended ? LogoutOutcome::ended : LogoutOutcome::no_session);
}

void idp_logout_recorded(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status == StoreStatus::exists) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN,
               "LogoutRequest refused: " + std::string(sv(ctx->in_response_to)) + " was already processed (replay)");
        return;
    }
    if (reply.status != StoreStatus::ok) {
        decide_page(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_LOG_ERR,
                    "LogoutRequest refused: replay cache full or unavailable", "Service unavailable",
                    "The sign-out could not be completed. Please try again shortly.");
        finish(r);
        return;
    }
    if (ctx->slo_all) {
        end_subject_sessions(r, ctx, subject_sessions_ended);
        return;
    }
    with_store(r, ctx, idp_logout_index_taken, [&](Store* store, StoreCallback cb, void* data) {
        store->take(Table::slo_index, sv(ctx->slo_key), ngx_time(), cb, data);
    });
}

// A LogoutRequest that does not verify (unsigned, another key, stale, misdirected) ends
// nothing, but the IdP still gets a signed answer saying so, so that its logout chain goes on.
// Read unverified only for its ID (InResponseTo of the answer); the answer goes to the IdP's
// SingleLogoutService from the metadata, never to anywhere the message names.
void refuse_logout_request(ngx_http_request_t* r, RequestCtx* ctx, LogoutService* slo, SloBinding binding,
                           std::string_view message, std::string_view relay_state, const std::string& reason) {
    auto peeked =
        slo->idp_has_slo() ? peek_logout_message(binding, message, true, srv_conf(r)->max_response_size) : std::nullopt;
    if (!peeked || peeked->id.empty()) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN, "LogoutRequest refused: " + reason);
        return;
    }
    ctx->in_response_to = pool_copy(r->pool, peeked->id);
    ctx->relay_state = pool_copy(r->pool, relay_state);
    ctx->message_idp = pool_copy(r->pool, slo->idp());
    if (!ctx->in_response_to.data || !ctx->message_idp.data || (!relay_state.empty() && !ctx->relay_state.data)) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    answer_idp(r, ctx, LogoutOutcome::refused, reason);
}

void idp_logout_request(ngx_http_request_t* r, RequestCtx* ctx, SloBinding binding, std::string_view message,
                        std::string_view relay_state) {
    SrvConf* scf = srv_conf(r);
    LogoutService* slo = slo_for_message(r, binding, message, true);
    if (!slo) {
        refuse(r, ctx, NGX_HTTP_BAD_REQUEST,
               "LogoutRequest refused: not a logout message, or its Issuer is not an IdP of the metadata");
        return;
    }
    auto request = slo->parse_request(binding, message, relay_state, ngx_time());
    if (!request && request.error().code == SamlError::invalid_response) {
        refuse_logout_request(r, ctx, slo, binding, message, relay_state, request.error().reason);
        return;
    }
    if (!request) {
        refuse(r, ctx, status_of(request.error()), "LogoutRequest refused: " + request.error().reason);
        return;
    }
    ctx->in_response_to = pool_copy(r->pool, request->id);
    ctx->relay_state = pool_copy(r->pool, request->relay_state);
    ctx->user_for_log = pool_copy(r->pool, request->name_id);
    ctx->replay_key = pool_copy(r->pool, "LogoutRequest\n" + slo->idp() + '\n' + request->id);
    ctx->message_idp = pool_copy(r->pool, slo->idp());
    ctx->slo_all = request->session_index.empty();
    if (ctx->slo_all)
        ctx->slo_subject_key = pool_copy(r->pool, slo_subject_key(scf->rt->scope, slo->idp(), request->name_id));
    else
        ctx->slo_key =
            pool_copy(r->pool, slo_index_key(scf->rt->scope, slo->idp(), request->name_id, request->session_index));
    if (!ctx->in_response_to.data || !ctx->replay_key.data || !(ctx->slo_key.data || ctx->slo_subject_key.data) ||
        !ctx->user_for_log.data || !ctx->message_idp.data) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    with_store(r, ctx, idp_logout_recorded, [&](Store* store, StoreCallback cb, void* data) {
        store->insert_new(Table::seen_assertions, sv(ctx->replay_key), "1", {request->expires, 0}, ngx_time(), cb,
                          data);
    });
}

// --- the IdP's LogoutResponse at …/slo --------------------------------------------------------

void sp_logout_answered(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN,
               "LogoutResponse refused: InResponseTo " + std::string(sv(ctx->in_response_to)) +
                   " names no LogoutRequest this SP has pending (unknown, already answered or expired)");
        return;
    }
    const std::string_view status = sv(ctx->relay_state);
    if (status != saml_status::kSuccess) {
        signed_out_page(r, ctx,
                        "You are signed out of this site, but the identity provider reported that it could "
                        "not end its own session.");
        log_reason(r, NGX_LOG_WARN, "single logout finished; the IdP answered " + std::string(status));
    } else {
        if (reply.value.empty())
            signed_out_page(r, ctx, "You are signed out of this site and of your identity provider.");
        else
            decide_redirect(r, ctx, NGX_HTTP_SEE_OTHER, reply.value);
        log_reason(r, NGX_LOG_INFO, "single logout finished: the IdP ended its session");
    }
    finish(r);
}

// The LogoutResponse did not verify, but it names a LogoutRequest of ours: the session ended
// when that was sent, so the browser gets the signed-out page that says the answer could not
// be trusted, and the way on to where the logout was to return.
void sp_logout_answered_unverified(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN,
               "LogoutResponse refused: " + std::string(sv(ctx->message)) + "; and its InResponseTo " +
                   std::string(sv(ctx->in_response_to)) + " names no LogoutRequest this SP has pending");
        return;
    }
    const std::string reason(sv(ctx->message));
    try {
        signed_out_page_with_link(r, ctx, kUnverified, reply.value);
        log_reason(r, NGX_LOG_WARN,
                   "single logout finished without the IdP's word: its LogoutResponse to " +
                       std::string(sv(ctx->in_response_to)) + " was not accepted (" + reason +
                       "); the local session had already ended");
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    finish(r);
}

void unverified_logout_response(ngx_http_request_t* r, RequestCtx* ctx, SloBinding binding, std::string_view message,
                                const std::string& reason) {
    auto peeked = peek_logout_message(binding, message, false, srv_conf(r)->max_response_size);
    if (!peeked || peeked->in_response_to.empty()) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN, "LogoutResponse refused: " + reason);
        return;
    }
    ctx->in_response_to = pool_copy(r->pool, peeked->in_response_to);
    ctx->message = pool_copy(r->pool, reason);  // read back in sp_logout_answered_unverified
    if (!ctx->in_response_to.data || !ctx->message.data) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    const std::string key = std::string(kPendingPrefix) + peeked->in_response_to;
    with_store(r, ctx, sp_logout_answered_unverified, [&](Store* store, StoreCallback cb, void* data) {
        store->take(Table::pending_requests, key, ngx_time(), cb, data);
    });
}

void idp_logout_response(ngx_http_request_t* r, RequestCtx* ctx, SloBinding binding, std::string_view message) {
    LogoutService* slo = slo_for_message(r, binding, message, false);
    if (!slo) {
        refuse(r, ctx, NGX_HTTP_BAD_REQUEST,
               "LogoutResponse refused: not a logout message, or its Issuer is not an IdP of the metadata");
        return;
    }
    auto response = slo->parse_response(binding, message, ngx_time());
    if (!response && response.error().code == SamlError::invalid_response) {
        unverified_logout_response(r, ctx, binding, message, response.error().reason);
        return;
    }
    if (!response) {
        refuse(r, ctx, status_of(response.error()), "LogoutResponse refused: " + response.error().reason);
        return;
    }
    ctx->in_response_to = pool_copy(r->pool, response->in_response_to);
    ctx->relay_state = pool_copy(r->pool, response->status);  // read back in sp_logout_answered
    if (!ctx->in_response_to.data || !ctx->relay_state.data) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    const std::string key = std::string(kPendingPrefix) + response->in_response_to;
    with_store(r, ctx, sp_logout_answered, [&](Store* store, StoreCallback cb, void* data) {
        store->take(Table::pending_requests, key, ngx_time(), cb, data);
    });
}

void slo_post_body_read(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    try {
        auto body = request_body(r);
        if (!body) {
            refuse(r, ctx, NGX_HTTP_BAD_REQUEST, "logout message refused: empty or unreadable POST body");
            return;
        }
        const FormField request = form_field(*body, "SAMLRequest");
        const FormField response = form_field(*body, "SAMLResponse");
        const FormField relay = form_field(*body, "RelayState");
        const bool one = (request.status == FormFieldStatus::found) != (response.status == FormFieldStatus::found);
        if (!one || request.status == FormFieldStatus::duplicate || response.status == FormFieldStatus::duplicate ||
            relay.status == FormFieldStatus::duplicate || relay.status == FormFieldStatus::malformed) {
            refuse(r, ctx, NGX_HTTP_BAD_REQUEST,
                   "logout message refused: the POST must carry exactly one SAMLRequest or SAMLResponse");
            return;
        }
        if (request.status == FormFieldStatus::found)
            idp_logout_request(r, ctx, SloBinding::post, request.value, relay.value);
        else
            idp_logout_response(r, ctx, SloBinding::post, response.value);
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
    }
}

bool has_arg(ngx_http_request_t* r, const char* name, std::size_t len, ngx_str_t& value) noexcept {
    return ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>(name)), len, &value) == NGX_OK;
}

}  // namespace

bool start_sp_logout(ngx_http_request_t* r, RequestCtx* ctx, std::string_view session_id,
                     std::string_view return_to) noexcept {
    SrvConf* scf = srv_conf(r);
    if (!scf->rt->sp || !scf->rt->sp->any_idp_has_slo()) return false;
    ctx->session_id = pool_copy(r->pool, session_id);
    ctx->return_to = pool_copy(r->pool, return_to);
    if (!ctx->session_id.data || (!return_to.empty() && !ctx->return_to.data)) return false;
    with_store(r, ctx, sp_logout_session_read, [&](Store* store, StoreCallback cb, void* data) {
        store->get(Table::sessions, session_id, ngx_time(), cb, data);
    });
    return true;
}

ngx_int_t slo_handler(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    if (r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_str_t value, relay{0, nullptr};
        const bool is_request = has_arg(r, "SAMLRequest", 11, value);
        const bool is_response = has_arg(r, "SAMLResponse", 12, value);
        if (is_request == is_response) {
            log_reason(r, NGX_LOG_INFO, "logout message refused: the query must carry one SAMLRequest or SAMLResponse");
            return send_page(r, NGX_HTTP_BAD_REQUEST, "Sign-out refused", "This is not a sign-out message.");
        }
        ++r->main->count;
        try {
            if (is_request) {
                std::string relay_state;
                if (has_arg(r, "RelayState", 10, relay)) relay_state = url_decode(sv(relay), true).value_or("");
                idp_logout_request(r, ctx, SloBinding::redirect, sv(r->args), relay_state);
            } else {
                idp_logout_response(r, ctx, SloBinding::redirect, sv(r->args));
            }
        } catch (...) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
            finish(r);
        }
        return NGX_DONE;
    }
    if (!(r->method & NGX_HTTP_POST)) return not_allowed(r, "GET, HEAD, POST");
    const off_t limit = static_cast<off_t>(srv_conf(r)->max_response_size / 3 * 4 + 8192);
    if (r->headers_in.content_length_n > limit) {
        log_reason(r, NGX_LOG_WARN, "logout message refused: POST body larger than sso_max_response_size allows");
        return send_page(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "Sign-out refused",
                         "The sign-out message is too large.");
    }
    const ngx_int_t rc = ngx_http_read_client_request_body(r, slo_post_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) return rc;
    return NGX_DONE;
}

}  // namespace sso::ngx
