// Access rules of a location, checked once the request is signed in.
#pragma once

#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {

// `sso_require user|group|attribute [NAME] VALUE...;`
char* set_require(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

// True when the signed-in identity in ctx meets the location's rules; otherwise a 403 is
// decided (with one log line naming the rule) and false returned.
bool access_allowed(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

}  // namespace sso::ngx
