// `sso_endpoint`: SP metadata, login, the Assertion Consumer Service, logout and Single Logout,
// chosen by the last path segment of the location (…/metadata, …/login, …/acs, …/logout, …/slo).
#include <algorithm>
#include <string>

#include "identity/attribute_map.hpp"
#include "module/counters.hpp"
#include "module/flows.hpp"
#include "module/sources.hpp"
#include "module/handlers.hpp"
#include "module/idp_chooser.hpp"
#include "module/http_util.hpp"
#include "module/slo.hpp"
#include "module/shm_store.hpp"
#include "saml/logout.hpp"
#include "saml/saml_time.hpp"
#include "session/form.hpp"
#include "session/login_request.hpp"
#include "session/replay_state.hpp"
#include "session/return_target.hpp"
#include "session/session_id.hpp"

namespace sso::ngx {
namespace {

constexpr std::string_view kRefusedTitle = "Sign-in refused";
constexpr std::string_view kRefusedMessage =
    "The identity provider's answer could not be accepted. Please start again from the page you wanted to open.";

void finish(ngx_http_request_t* r) noexcept {
    ngx_http_finalize_request(r, send_decision(r, request_ctx(r)));
}

void refuse(ngx_http_request_t* r, RequestCtx* ctx, ngx_int_t status, std::string_view reason,
            Counter counter = Counter::refused_saml) noexcept {
    count(r, counter);
    try {
        decide_page(r, ctx, status, NGX_LOG_WARN, "SAML response refused: " + std::string(reason), kRefusedTitle,
                    kRefusedMessage, PageForward::sign_in);
    } catch (...) {
        ctx->decision = status;
    }
}

std::string_view last_segment(ngx_http_request_t* r) noexcept {
    const std::string_view uri = sv(r->uri);
    const std::size_t slash = uri.rfind('/');
    return slash == std::string_view::npos ? uri : uri.substr(slash + 1);
}

// --- ACS: take the pending request, refuse replays, create the session -----------------------

void acs_signed_in(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    if (ctx->decision == NGX_HTTP_SEE_OTHER) {
        count(r, Counter::login_saml);
        try {
            log_reason(r, NGX_LOG_INFO,
                       "signed in \"" + std::string(sv(ctx->user_for_log)) + "\" via SAML" +
                           (ctx->in_response_to.len ? "" : " (IdP-initiated)"));
        } catch (...) {
            // the sign-in stands; only its log line is lost
        }
    }
    finish(r);
}

void acs_assertion_recorded(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status == StoreStatus::exists) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN, "assertion was already used (replay): " + std::string(sv(ctx->replay_key)),
               Counter::refused_replay);
        finish(r);
        return;
    }
    if (reply.status != StoreStatus::ok) {
        decide_store_unavailable(r, ctx, "replay cache full or unavailable; login refused", reply,
                                 "Your sign-in could not be completed. Please try again shortly.");
        finish(r);
        return;
    }
    store_new_session(r, ctx, acs_signed_in);
}

// The replay cache admits each assertion once, on every node that shares the store.
void record_assertion(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const Lifetime life{ctx->replay_expires, 0};
    with_store(r, ctx, acs_assertion_recorded, [&](Store* store, StoreCallback cb, void* data) {
        store->insert_new(Table::seen_assertions, sv(ctx->replay_key), "1", life, ngx_time(), cb, data);
    });
}

void acs_request_recorded(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status == StoreStatus::exists) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN,
               "InResponseTo " + std::string(sv(ctx->in_response_to)) +
                   " names no AuthnRequest this SP has pending (already answered)");
        finish(r);
        return;
    }
    if (reply.status != StoreStatus::ok) {
        decide_store_unavailable(r, ctx, "replay cache full or unavailable; login refused", reply,
                                 "Your sign-in could not be completed. Please try again shortly.");
        finish(r);
        return;
    }
    record_assertion(r, ctx);
}

// The IdP that could have been asked with this ID and RelayState, when it is not the one
// that answered: an ID verifies for one IdP only.
std::string_view asked_idp(ngx_http_request_t* r, RequestCtx* ctx, std::int64_t now) noexcept {
    SrvConf* scf = srv_conf(r);
    for (const IdpSummary& idp : scf->rt->sp->idps()) {
        if (idp.entity_id == sv(ctx->message_idp)) continue;
        const auto v = scf->rt->login_key->verify(sv(ctx->in_response_to), idp.entity_id, sv(ctx->relay_state), now,
                                                  scf->login_timeout, scf->clock_skew);
        if (v.status != LoginRequestCheck::forged) return idp.entity_id;
    }
    return {};
}

// SP-initiated: InResponseTo must be an AuthnRequest ID this SP issued (session/login_request.hpp)
// to the IdP that answers, with the RelayState posted, within sso_login_timeout. Its ID then goes
// into the replay cache, so that it is answered once.
void acs_solicited(ngx_http_request_t* r, RequestCtx* ctx, std::int64_t now) {
    SrvConf* scf = srv_conf(r);
    const std::string id(sv(ctx->in_response_to));
    const auto v = scf->rt->login_key->verify(id, sv(ctx->message_idp), sv(ctx->relay_state), now, scf->login_timeout,
                                              scf->clock_skew);
    std::string why;
    switch (v.status) {
        case LoginRequestCheck::ok:
            break;
        case LoginRequestCheck::malformed:
            why = "InResponseTo " + id + " names no AuthnRequest this SP has pending (not an ID this SP issues)";
            break;
        case LoginRequestCheck::relay_mismatch:
            why = "RelayState does not belong to the AuthnRequest named by InResponseTo";
            break;
        case LoginRequestCheck::forged:
            if (const std::string_view asked = asked_idp(r, ctx, now); !asked.empty())
                why = "the answer comes from IdP \"" + std::string(sv(ctx->message_idp)) +
                      "\" but the AuthnRequest went to \"" + std::string(asked) + "\"";
            else
                why =
                    "RelayState does not belong to the AuthnRequest named by InResponseTo (altered, or the ID was "
                    "not made with this SP's key)";
            break;
        case LoginRequestCheck::expired:
            why = "InResponseTo " + id + " names no AuthnRequest this SP has pending (expired: issued " +
                  std::to_string(now - v.issued) + " s ago, sso_login_timeout is " +
                  std::to_string(scf->login_timeout) + " s)";
            break;
        case LoginRequestCheck::from_future:
            why = "InResponseTo " + id + " names an AuthnRequest issued " + std::to_string(v.issued - now) +
                  " s in the future";
            break;
    }
    // The address was checked when the login started and is under the MAC; checked again all the same.
    auto target = why.empty() ? safe_return_target(v.return_to, request_scheme(r), request_host(r)) : std::nullopt;
    if (why.empty() && !target) why = "the return address of the AuthnRequest is not a same-origin target";
    if (!why.empty()) {
        refuse(r, ctx, NGX_HTTP_FORBIDDEN, why);
        finish(r);
        return;
    }
    ctx->return_to = pool_copy(r->pool, *target);
    ctx->request_replay_key = pool_copy(r->pool, "authn\n" + id);
    ctx->request_replay_expires = v.issued + scf->login_timeout + 2 * scf->clock_skew;
    if (!ctx->return_to.data || !ctx->request_replay_key.data) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    const Lifetime life{ctx->request_replay_expires, 0};
    with_store(r, ctx, acs_request_recorded, [&](Store* store, StoreCallback cb, void* data) {
        store->insert_new(Table::seen_assertions, sv(ctx->request_replay_key), "1", life, now, cb, data);
    });
}

// IdP-initiated (sso_idp_initiated on): there is no pending request to take; RelayState, when
// it is a same-origin URL, says where to go. The replay cache still admits each assertion once.
void acs_unsolicited(ngx_http_request_t* r, RequestCtx* ctx) {
    auto target = safe_return_target(sv(ctx->relay_state), request_scheme(r), request_host(r));
    if (ctx->relay_state.len && !target)
        log_reason(r, NGX_LOG_INFO, "IdP-initiated login: RelayState is not a same-origin URL; going to \"/\"");
    ctx->return_to = pool_copy(r->pool, target ? std::string_view(*target) : std::string_view("/"));
    if (!ctx->return_to.data) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
        return;
    }
    record_assertion(r, ctx);
}

void acs_body_read(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    SrvConf* scf = srv_conf(r);
    try {
        auto body = request_body(r);
        if (!body) {
            refuse(r, ctx, NGX_HTTP_BAD_REQUEST, "empty or unreadable POST body");
            finish(r);
            return;
        }
        const FormField response = form_field(*body, "SAMLResponse");
        const FormField relay = form_field(*body, "RelayState");
        if (response.status != FormFieldStatus::found || relay.status == FormFieldStatus::malformed ||
            relay.status == FormFieldStatus::duplicate) {
            refuse(r, ctx, NGX_HTTP_BAD_REQUEST,
                   response.status == FormFieldStatus::absent      ? "no SAMLResponse field in the POST"
                   : response.status == FormFieldStatus::duplicate ? "SAMLResponse given twice"
                   : relay.status == FormFieldStatus::duplicate    ? "RelayState given twice"
                                                                   : "malformed form encoding");
            finish(r);
            return;
        }
        const std::int64_t now = ngx_time();
        auto assertion = scf->rt->sp->consume_response(response.value, now);
        if (!assertion) {
            const auto code = assertion.error().code;
            refuse(r, ctx,
                   code == SamlError::bad_request ? NGX_HTTP_BAD_REQUEST
                   : code == SamlError::internal  ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                                  : NGX_HTTP_FORBIDDEN,
                   assertion.error().reason);
            finish(r);
            return;
        }
        // The embedded replay cache began empty at its horizon (a start without the state of a
        // clean stop): what was issued before may have been accepted already.
        MainConf* mcf = main_conf(r);
        if (mcf->store == mcf->shm &&
            issued_before_replay_cache(assertion->issue_instant, mcf->shm->replay_horizon())) {
            refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                   "assertion issued at " + format_saml_time(assertion->issue_instant) +
                       ", before the replay cache started empty at " + format_saml_time(mcf->shm->replay_horizon()) +
                       " (a start without sso_replay_state from a clean stop): it may have been used already",
                   Counter::refused_replay);
            finish(r);
            return;
        }
        SessionRecord record = identity_from_assertion(assertion.value(), scf->rt->attributes);
        apply_sources(r, record, SourceKind::saml, assertion->idp);
        if (record.user.empty()) {
            refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                   "the attribute mapped to the user name is missing, empty or white space");
            finish(r);
            return;
        }
        auto id = new_session_id();
        if (!id) {
            decide_page(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, "no random bytes for a session id",
                        "Internal error", "Your sign-in could not be completed.");
            finish(r);
            return;
        }
        record.scope = scf->rt->scope;
        record.created = record.last_seen = now;
        record.expires = now + scf->session_lifetime;
        if (assertion->session_not_on_or_after)
            record.expires = std::min(record.expires, assertion->session_not_on_or_after);
        const std::string encoded = encode_session(record);
        if (encoded.empty()) {
            refuse(r, ctx, NGX_HTTP_FORBIDDEN, "identity too large for a session");
            finish(r);
            return;
        }
        ctx->session_id = pool_copy(r->pool, *id);
        ctx->encoded_session = pool_copy(r->pool, encoded);
        ctx->session_expires = record.expires;
        ctx->user_for_log = pool_copy(r->pool, record.user);
        ctx->relay_state = pool_copy(r->pool, relay.value);
        ctx->in_response_to = pool_copy(r->pool, assertion->in_response_to);
        ctx->replay_key = pool_copy(r->pool, assertion->idp + '\n' + assertion->assertion_id);
        ctx->message_idp = pool_copy(r->pool, assertion->idp);
        ctx->replay_expires = assertion->not_on_or_after;
        ctx->slo_key = pool_copy(
            r->pool, slo_index_key(record.scope, assertion->idp, assertion->name_id, assertion->session_index));
        ctx->slo_subject_key = pool_copy(r->pool, slo_subject_key(record.scope, assertion->idp, assertion->name_id));
        if (!ctx->session_id.data || !ctx->encoded_session.data || !ctx->replay_key.data || !ctx->message_idp.data ||
            !ctx->slo_key.data || !ctx->slo_subject_key.data) {
            ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
            finish(r);
            return;
        }
        if (assertion->in_response_to.empty()) {
            acs_unsolicited(r, ctx);
            return;
        }
        acs_solicited(r, ctx, now);
    } catch (...) {
        ctx->decision = NGX_HTTP_INTERNAL_SERVER_ERROR;
        finish(r);
    }
}

ngx_int_t acs(ngx_http_request_t* r) noexcept {
    SrvConf* scf = srv_conf(r);
    if (!(r->method & NGX_HTTP_POST)) {
        log_reason(r, NGX_LOG_INFO, "ACS accepts only POST");
        if (!add_response_header(r, "Allow", "POST")) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        return send_page(r, NGX_HTTP_NOT_ALLOWED, "Method not allowed",
                         "The Assertion Consumer Service takes HTTP-POST.");
    }
    // The HTTP-POST binding posts a form; anything else (multipart, JSON, text) is not one.
    const std::string_view content_type =
        r->headers_in.content_type ? sv(r->headers_in.content_type->value) : std::string_view();
    if (!is_form_urlencoded(content_type)) {
        log_reason(r, NGX_LOG_INFO,
                   "SAML response refused: Content-Type \"" + std::string(content_type.substr(0, 100)) +
                       "\" is not application/x-www-form-urlencoded");
        return send_page(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, kRefusedTitle, kRefusedMessage, PageForward::sign_in);
    }
    // Refuse oversized bodies before reading them.
    const off_t limit = static_cast<off_t>(scf->max_response_size / 3 * 4 + 8192);
    if (r->headers_in.content_length_n > limit) {
        log_reason(r, NGX_LOG_WARN, "SAML response refused: POST body larger than sso_max_response_size allows");
        return send_page(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, kRefusedTitle,
                         "The identity provider's answer is too large.", PageForward::sign_in);
    }
    if (r->headers_in.content_length_n < 0 && !r->headers_in.chunked) {
        log_reason(r, NGX_LOG_INFO, "SAML response refused: POST without a body");
        return send_page(r, NGX_HTTP_BAD_REQUEST, kRefusedTitle, kRefusedMessage, PageForward::sign_in);
    }
    const ngx_int_t rc = ngx_http_read_client_request_body(r, [](ngx_http_request_t* r) { acs_body_read(r); });
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) return rc;
    return NGX_DONE;
}

// --- login and logout -------------------------------------------------------------------

ngx_int_t login(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    bool refused = false;
    auto target = return_to_arg(r, refused);
    if (refused || !target) {
        log_reason(r, NGX_LOG_WARN, "login refused: return_to is not a same-origin target");
        return send_page(r, NGX_HTTP_BAD_REQUEST, "Invalid return address",
                         "The address to return to after signing in is not on this site.", PageForward::sign_in);
    }
    // ?idp=ENTITYID picks the IdP (links can name one); none, or several, show the chooser.
    const ServiceProvider& sp = *srv_conf(r)->rt->sp;
    std::optional<std::vector<std::string>> asked;
    std::vector<IdpSummary> offered;
    try {
        asked = query_values(r, "idp");
        if (!asked) {
            log_reason(r, NGX_LOG_WARN, "login refused: malformed idp argument");
            return send_page(r, NGX_HTTP_BAD_REQUEST, "Unknown sign-in service", "The sign-in link is malformed.",
                             PageForward::sign_in);
        }
        for (const std::string& id : *asked) {
            if (!sp.knows_idp(id)) {
                log_reason(r, NGX_LOG_WARN, "login refused: no IdP \"" + id + "\" in the metadata");
                return send_page(r, NGX_HTTP_BAD_REQUEST, "Unknown sign-in service",
                                 "The identity provider named in the sign-in link is not known to this site.",
                                 PageForward::sign_in);
            }
        }
        if (asked->size() != 1 && !(asked->empty() && sp.idps().size() == 1)) {
            for (const IdpSummary& idp : sp.idps())
                if (asked->empty() || std::find(asked->begin(), asked->end(), idp.entity_id) != asked->end())
                    offered.push_back(idp);
            return send_idp_chooser(r, *target, offered);
        }
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ++r->main->count;
    start_login(r, ctx, *target, finish, asked->empty() ? std::string_view() : std::string_view(asked->front()));
    return NGX_DONE;
}

void logout_done(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status == StoreStatus::unavailable) {
        // The session may live on elsewhere: say so rather than pretend it ended.
        decide_store_unavailable(
            r, ctx, "logout not recorded: session store unavailable", reply,
            "You could not be signed out because the session store cannot be reached. Please try again "
            "shortly.");
    } else if (reply.status == StoreStatus::not_found) {
        // An expired or forged cookie: nothing ended, the cookie is cleared all the same.
        log_reason(r, NGX_LOG_INFO, "logout: the session cookie names no session");
    } else {
        log_reason(r, NGX_LOG_INFO, "session ended by logout");
        count(r, Counter::logout);
    }
    finish(r);
}

ngx_int_t logout(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    SrvConf* scf = srv_conf(r);
    bool refused = false;
    auto target = return_to_arg(r, refused);
    if (refused) {
        log_reason(r, NGX_LOG_WARN, "logout: return_to is not a same-origin target; showing the signed-out page");
        target.reset();
    }
    try {
        ctx->set_cookie = pool_copy(r->pool, build_clear_cookie(scf->rt->cookie));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_str_t given;
    const bool has_target =
        ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>("return_to")), 9, &given) == NGX_OK;
    if (target && has_target) {
        decide_redirect(r, ctx, NGX_HTTP_SEE_OTHER, *target);
    } else {
        ctx->decision = NGX_HTTP_OK;
        ctx->title = pool_copy(r->pool, "Signed out");
        ctx->message = pool_copy(r->pool, "You are signed out of this site.");
        ctx->page_forward = static_cast<unsigned>(PageForward::sign_in);
    }
    ++r->main->count;
    auto cookie = request_cookie(r, scf->rt->cookie.name);
    if (!cookie || !is_well_formed_session_id(*cookie)) {
        finish(r);
        return NGX_DONE;
    }
    // With an IdP that publishes SLO, the session is read first and the IdP told.
    if (start_sp_logout(r, ctx, *cookie, target && has_target ? std::string_view(*target) : std::string_view()))
        return NGX_DONE;
    const std::string_view id = *cookie;
    with_store(r, ctx, logout_done,
               [&](Store* store, StoreCallback cb, void* data) { store->remove(Table::sessions, id, cb, data); });
    return NGX_DONE;
}

}  // namespace

ngx_int_t endpoint_handler(ngx_http_request_t* r) noexcept {
    RequestCtx* ctx = request_ctx(r);
    if (!ctx) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    SrvConf* scf = srv_conf(r);
    const std::string_view action = last_segment(r);
    const bool get = r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD);
    if (action == "logout") {
        if (!(get || (r->method & NGX_HTTP_POST))) return not_allowed(r, "GET, HEAD, POST");
        if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        return logout(r, ctx);
    }
    if (action == "ldap") return ldap_form_handler(r, ctx);
    if (action != "metadata" && action != "login" && action != "acs" && action != "slo")
        return send_page(r, NGX_HTTP_NOT_FOUND, "Not found",
                         "This sign-in endpoint serves metadata, login, acs, slo, ldap and logout.");
    if (action == "metadata" && !scf->rt->sp_metadata.empty()) {
        if (!get) return not_allowed(r, "GET, HEAD");
        // A download names the site it describes (an IdP administrator keeps several).
        try {
            if (!add_response_header(r, "Content-Disposition",
                                     "attachment; filename=\"" + metadata_filename(request_host(r)) + "\""))
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
        } catch (...) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return send_body(r, NGX_HTTP_OK, "application/samlmetadata+xml", scf->rt->sp_metadata);
    }
    if (!scf->rt->sp && scf->rt->metadata_expired()) {
        log_reason(r, NGX_LOG_WARN, "SAML endpoint used while the IdP metadata has expired");
        return send_page(r, NGX_HTTP_SERVICE_UNAVAILABLE, "Sign-in unavailable",
                         "The identity provider's metadata has expired and no fresh copy could be loaded yet.",
                         PageForward::retry);
    }
    if (!scf->rt->sp) {
        log_reason(r, NGX_LOG_INFO, "SAML endpoint used while SAML is off (no sso_idp_metadata)");
        return send_page(r, NGX_HTTP_NOT_FOUND, "SAML is off",
                         "No identity provider metadata is configured for this site.", PageForward::sign_in);
    }
    if (action == "acs") return acs(r);
    if (action == "slo") return slo_handler(r, ctx);
    if (!get) return not_allowed(r, "GET, HEAD");
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return login(r, ctx);
}

}  // namespace sso::ngx
