#include "module/redis_directive.hpp"

#include "module/conf_util.hpp"
#include "module/redis_store.hpp"

namespace sso::ngx {

char* set_redis(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto& s = static_cast<MainConf*>(conf)->redis;
    if (s.address.len) return const_cast<char*>("is duplicate");
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    s.address = value[1];
    ngx_url_t u;
    ngx_memzero(&u, sizeof u);
    u.url = value[1];
    u.default_port = 6379;
    // Resolved here, once: hiredis would resolve a name with a blocking call at every connect.
    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"sso_redis\": invalid address \"%V\": %s", &value[1],
                           u.err ? u.err : "no address found");
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    if (u.family == AF_UNIX) {
        auto* sun = reinterpret_cast<struct sockaddr_un*>(u.addrs[0].sockaddr);
        s.unix_path = pool_copy(cf->pool, sun->sun_path);
        return s.unix_path.data ? NGX_CONF_OK : static_cast<char*>(NGX_CONF_ERROR);
    }
    if (u.naddrs > 1)
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"sso_redis\": \"%V\" has several addresses; using %V", &value[1],
                           &u.addrs[0].name);
    u_char text[NGX_SOCKADDR_STRLEN];
    const size_t len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text, sizeof text, 0);
    s.host = pool_copy(cf->pool, {reinterpret_cast<char*>(text), len});
    s.port = ngx_inet_get_port(u.addrs[0].sockaddr);
    return s.host.data ? NGX_CONF_OK : static_cast<char*>(NGX_CONF_ERROR);
}

void redis_create_conf(RedisSettings& s) noexcept {
    s.database = NGX_CONF_UNSET;
    s.connect_timeout = NGX_CONF_UNSET_MSEC;
    s.timeout = NGX_CONF_UNSET_MSEC;
    s.session_cache = NGX_CONF_UNSET;
    s.failure = NGX_CONF_UNSET_UINT;
}

char* redis_init_conf(ngx_conf_t* cf, MainConf* mcf) noexcept {
    RedisSettings& s = mcf->redis;
    if (!s.address.len) {
        const char* stray = s.database != NGX_CONF_UNSET               ? "sso_redis_database"
                            : s.password.data                          ? "sso_redis_password"
                            : s.prefix.data                            ? "sso_redis_prefix"
                            : s.connect_timeout != NGX_CONF_UNSET_MSEC ? "sso_redis_connect_timeout"
                            : s.timeout != NGX_CONF_UNSET_MSEC         ? "sso_redis_timeout"
                            : s.session_cache != NGX_CONF_UNSET        ? "sso_session_cache"
                            : s.failure != NGX_CONF_UNSET_UINT         ? "sso_store_failure"
                                                                       : nullptr;
        if (stray)
            return conf_error(cf, std::string("\"") + stray + "\" needs \"sso_redis\" (sessions are in shared memory)");
        return NGX_CONF_OK;
    }
    ngx_conf_init_value(s.database, 0);
    ngx_conf_init_msec_value(s.connect_timeout, 1000);
    ngx_conf_init_msec_value(s.timeout, 1000);
    ngx_conf_init_value(s.session_cache, 0);
    ngx_conf_init_uint_value(s.failure, store_failure_closed);
    if (!s.prefix.data) s.prefix = ngx_string("sso:");
    if (s.database < 0) return conf_error(cf, "\"sso_redis_database\" must be 0 or more");
    if (s.connect_timeout == 0) return conf_error(cf, "\"sso_redis_connect_timeout\" must be positive");
    if (s.timeout == 0) return conf_error(cf, "\"sso_redis_timeout\" must be positive");
    if (s.session_cache < 0) return conf_error(cf, "\"sso_session_cache\" must be 0 (off) or a time");
    try {
        RedisOptions o;
        o.host = str(s.host);
        o.port = static_cast<int>(s.port);
        o.unix_path = str(s.unix_path);
        o.display = str(s.address);
        o.database = static_cast<long>(s.database);
        o.password = str(s.password);
        o.prefix = str(s.prefix);
        o.connect_timeout = s.connect_timeout;
        o.timeout = s.timeout;
        o.session_cache = s.session_cache;
        o.serve_cached_on_failure = s.failure == store_failure_cached;
        mcf->redis_store = pool_new<RedisStore>(cf->pool, std::move(o));
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    if (!mcf->redis_store) return static_cast<char*>(NGX_CONF_ERROR);
    mcf->store = mcf->redis_store;
    return NGX_CONF_OK;
}

}  // namespace sso::ngx
