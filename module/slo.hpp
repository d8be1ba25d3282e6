// SAML Single Logout steps of `sso_endpoint` (…/logout with an IdP that publishes SLO, …/slo).
#pragma once

#include <string_view>

#include "module/request_ctx.hpp"

namespace sso::ngx {

// SP-initiated: when this server's IdP publishes a SingleLogoutService, reads the session,
// ends it and its SLO index entry, records the LogoutRequest and decides the trip to the IdP
// (falling back to the local decision already in ctx when the session is not a SAML one).
// False when SLO does not apply; then nothing was started. `return_to` is empty for the
// signed-out page. The request is finalized by this flow (the caller has taken its count).
bool start_sp_logout(ngx_http_request_t* r, RequestCtx* ctx, std::string_view session_id,
                     std::string_view return_to) noexcept;

// `…/slo`: the IdP's LogoutRequest or LogoutResponse, HTTP-Redirect (GET) or HTTP-POST.
ngx_int_t slo_handler(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

}  // namespace sso::ngx
