#include "module/slo_subjects.hpp"

#include "identity/attribute_map.hpp"
#include "module/counters.hpp"
#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "saml/logout.hpp"
#include "session/session_id.hpp"
#include "session/session_record.hpp"

namespace sso::ngx {
namespace {

void end_next_member(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

void member_index_removed(void* data, StoreReply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    end_next_member(r, request_ctx(r));
}

void member_session_removed(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        end_next_member(r, ctx);
        return;
    }
    ++ctx->slo_ended;
    count(r, Counter::logout);
    with_store(r, ctx, member_index_removed, [&](Store* store, StoreCallback cb, void* data) {
        store->remove(Table::slo_index, sv(ctx->slo_key), cb, data);
    });
}

// A member is ended only when its session is still one of this NameID from this IdP here.
void member_session_read(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    auto session = reply.status == StoreStatus::ok ? view_session(reply.value) : std::nullopt;
    if (!session || !session_is_of(*session, srv_conf(r)->rt->scope, sv(ctx->message_idp), sv(ctx->user_for_log))) {
        end_next_member(r, ctx);
        return;
    }
    try {
        // keyed as at sign-in: by the IdP's entityID as it names itself
        ctx->slo_key = pool_copy(
            r->pool, slo_index_key(session->scope, sv(ctx->message_idp), session->name_id, session->session_index));
    } catch (...) {
        ctx->slo_key = {0, nullptr};
    }
    with_store(r, ctx, member_session_removed, [&](Store* store, StoreCallback cb, void* data) {
        store->remove(Table::sessions, sv(ctx->session_id), cb, data);
    });
}

void end_next_member(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
    const std::string_view members = sv(ctx->slo_members);
    std::string_view member;
    while (ctx->slo_next < members.size() && member.empty()) {
        const std::size_t nl = members.find('\n', ctx->slo_next);
        const std::size_t end = nl == std::string_view::npos ? members.size() : nl;
        member = members.substr(ctx->slo_next, end - ctx->slo_next);
        ctx->slo_next = end + 1;
        if (!is_well_formed_session_id(member)) member = {};
    }
    if (member.empty()) {
        ctx->next(r);
        return;
    }
    ctx->session_id = {member.size(), const_cast<u_char*>(reinterpret_cast<const u_char*>(member.data()))};
    with_store(r, ctx, member_session_read, [&](Store* store, StoreCallback cb, void* data) {
        store->get(Table::sessions, member, ngx_time(), cb, data);
    });
}

void idp_logout_members_taken(void* data, StoreReply reply) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(data);
    RequestCtx* ctx = request_ctx(r);
    if (reply.status != StoreStatus::ok) {
        ctx->next(r);
        return;
    }
    ctx->slo_members = pool_copy(r->pool, reply.value);
    ctx->slo_next = 0;
    if (!ctx->slo_members.data) {
        ctx->next(r);
        return;
    }
    end_next_member(r, ctx);
}

}  // namespace

void end_subject_sessions(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept {
    ctx->next = done;
    ctx->slo_ended = 0;
    with_store(r, ctx, idp_logout_members_taken, [&](Store* store, StoreCallback cb, void* data) {
        store->take_members(Table::slo_subjects, sv(ctx->slo_subject_key), ngx_time(), cb, data);
    });
}

}  // namespace sso::ngx
