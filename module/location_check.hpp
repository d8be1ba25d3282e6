// nginx -t checks that need every location of a server: whether the ACS URL lands in an
// sso_endpoint location, a server that protects locations without one, and protected
// locations that no sign-in can open (one warning at load).
#pragma once

#include "module/ngx_includes.hpp"

namespace sso::ngx {

// From postconfiguration: the location trees are built and every location is merged.
ngx_int_t check_server_locations(ngx_conf_t* cf) noexcept;

}  // namespace sso::ngx
