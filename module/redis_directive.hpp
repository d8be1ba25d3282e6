// `sso_redis` and the settings around it: the shared store for several nginx nodes.
#pragma once

#include "module/ngx_includes.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {

// http level: `sso_redis ADDRESS[:PORT] | unix:PATH`; conf is the MainConf.
char* set_redis(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

// Unset values, for create_main_conf.
void redis_create_conf(RedisSettings& s) noexcept;

// At the end of the http block: checks the settings and, with sso_redis, makes the Redis
// store the module's store. nginx -t names the directive that is wrong.
char* redis_init_conf(ngx_conf_t* cf, MainConf* mcf) noexcept;

}  // namespace sso::ngx
