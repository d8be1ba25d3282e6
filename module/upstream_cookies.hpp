// The module's own cookies stay between the browser and nginx: the upstream has no use for
// them, and every upstream log line or bug report that shows one would hand out a session.
#pragma once

#include "module/ngx_includes.hpp"

namespace sso::ngx {

// Removes the session cookie (sso_cookie_name) and the sign-in form's token cookie from the
// Cookie headers that go upstream, unless sso_pass_session_cookie is on here. Other cookies
// keep their order and values; a Cookie header left empty is removed. NGX_ERROR when out of
// memory.
ngx_int_t strip_own_cookies(ngx_http_request_t* r) noexcept;

// Whether requests to this server can carry a cookie of ours: it signs in with SAML or has a
// prefix sso_endpoint location.
bool server_issues_cookies(ngx_http_request_t* r) noexcept;

}  // namespace sso::ngx
