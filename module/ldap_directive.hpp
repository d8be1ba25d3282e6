// The `sso_ldap_directory` block directive.
#pragma once

#include "module/ngx_includes.hpp"

namespace sso::ngx {

// http level: `sso_ldap_directory NAME { url ...; base_dn ...; ... }`; conf is the MainConf.
char* ldap_directory_block(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

}  // namespace sso::ngx
