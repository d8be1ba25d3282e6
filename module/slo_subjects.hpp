// The sessions of one NameID from one IdP (SAML core 3.7.3.2: a LogoutRequest without
// SessionIndex ends them all), ended one after the other from their slo_subjects set.
#pragma once

#include "module/flows.hpp"
#include "module/request_ctx.hpp"

namespace sso::ngx {

// Takes the set at ctx->slo_subject_key and ends each of its sessions that is still a SAML
// session of NameID ctx->user_for_log from IdP ctx->message_idp in this server block, with
// its SLO index entry; ctx->slo_ended counts them. Then `done` (also when there is no set or
// the store fails: nothing ended).
void end_subject_sessions(ngx_http_request_t* r, RequestCtx* ctx, StepDone done) noexcept;

}  // namespace sso::ngx
