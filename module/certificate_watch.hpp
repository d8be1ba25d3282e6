// A warning ahead of a certificate expiry: an expired IdP signing certificate, or our own, is
// the most common cause of a sudden SSO outage, and nothing else in the log says it is coming.
#pragma once

#include "module/ngx_includes.hpp"

namespace sso::ngx {

struct MainConf;

// In worker 0 only (one line per certificate and node, not per worker): warns now about every
// certificate of every server that expires within 30 days or has expired, then once a day.
void start_certificate_watch(ngx_cycle_t* cycle, const MainConf* mcf) noexcept;

}  // namespace sso::ngx
