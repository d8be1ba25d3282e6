// ngx_http_sso_module: directives, configuration merge and registration with nginx's phases.
#include <cctype>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "module/access_rules.hpp"
#include "module/certificate_watch.hpp"
#include "module/conf_position.hpp"
#include "module/conf_util.hpp"
#include "module/counters.hpp"
#include "module/handlers.hpp"
#include "module/ldap_directive.hpp"
#include "module/redis_directive.hpp"
#include "module/http_util.hpp"
#include "module/location_check.hpp"
#include "module/request_ctx.hpp"
#include "module/metadata_source.hpp"
#include "module/shm_store.hpp"
#include "module/sources.hpp"
#include "module/sso_conf.hpp"
#include "module/user_directory_zone.hpp"
#include "saml/build_info.hpp"
#include "saml/idp_metadata.hpp"
#include "saml/idp_metadata_loader.hpp"
#include "saml/sp_urls.hpp"

namespace sso::ngx {
namespace {

constexpr std::size_t kDefaultZoneSize = 10 * 1024 * 1024;
constexpr std::size_t kDefaultReplayZoneSize = 4 * 1024 * 1024;
// About 250 bytes a user, and room for two snapshots while an import swaps: ~60,000 users.
constexpr std::size_t kDefaultDirectoryZoneSize = 32 * 1024 * 1024;

// --- directives --------------------------------------------------------------------------

// sso_zone NAME:SIZE and sso_replay_zone NAME:SIZE
char* set_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    auto*& zone = *reinterpret_cast<ngx_shm_zone_t**>(static_cast<char*>(conf) + cmd->offset);
    if (zone) return const_cast<char*>("is duplicate");
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    const std::string directive(sv(cmd->name));
    const std::string_view arg = sv(value[1]);
    const std::size_t colon = arg.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return conf_error(cf, "\"" + directive + "\": expected NAME:SIZE, got \"" + std::string(arg) + "\"");
    ngx_str_t name{colon, value[1].data};
    ngx_str_t size_str{value[1].len - colon - 1, value[1].data + colon + 1};
    const ssize_t size = ngx_parse_size(&size_str);
    if (size == NGX_ERROR || size < static_cast<ssize_t>(8 * ngx_pagesize))
        return conf_error(cf,
                          "\"" + directive + "\": invalid size \"" + std::string(sv(size_str)) + "\" (at least 32k)");
    zone = ngx_shared_memory_add(cf, &name, static_cast<size_t>(size), &ngx_http_sso_module);
    if (!zone) return static_cast<char*>(NGX_CONF_ERROR);
    if (zone->data) {  // set by the other zone directive with the same name
        return conf_error(cf, "\"" + directive + "\": zone \"" + std::string(sv(name)) + "\" is already used");
    }
    zone->data = zone;  // marks it as ours until init_zone replaces it
    return NGX_CONF_OK;
}

// A file argument: resolved against the prefix and required to be readable now, so that
// nginx -t points at the line.
char* set_file(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    auto* field = reinterpret_cast<ngx_str_t*>(static_cast<char*>(conf) + cmd->offset);
    if (field->data) return const_cast<char*>("is duplicate");
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    *field = value[1];
    record_position(cf, static_cast<SrvConf*>(conf), sv(cmd->name));
    if (sv(*field) == "none" && std::strcmp(reinterpret_cast<const char*>(cmd->name.data), "sso_idp_metadata") == 0)
        return NGX_CONF_OK;
    if (ngx_conf_full_name(cf->cycle, field, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
    ngx_file_info_t fi;
    if (ngx_file_info(field->data, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno, "\"%V\": cannot read file \"%V\"", &cmd->name, field);
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    return NGX_CONF_OK;
}

// A string whose line later checks name (module/conf_position.hpp).
char* set_located_str(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    if (char* rc = ngx_conf_set_str_slot(cf, cmd, conf); rc != NGX_CONF_OK) return rc;
    record_position(cf, static_cast<SrvConf*>(conf), sv(cmd->name));
    return NGX_CONF_OK;
}

// sso_sp_entity_id URI and sso_sp_acs_url URL: the IdP compares and uses them exactly as
// written, so a value no IdP can work with is refused at its line.
char* set_sp_identifier(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    if (char* rc = ngx_conf_set_str_slot(cf, cmd, conf); rc != NGX_CONF_OK) return rc;
    record_position(cf, static_cast<SrvConf*>(conf), sv(cmd->name));
    const std::string_view value = sv(static_cast<ngx_str_t*>(cf->args->elts)[1]);
    try {
        const bool acs = sv(cmd->name) == "sso_sp_acs_url";
        const std::string problem = acs ? acs_url_problem(value) : entity_id_problem(value);
        if (problem.empty()) return NGX_CONF_OK;
        const std::string path =
            value.starts_with('/') ? std::string(value) : std::string("/sso/") + (acs ? "acs" : "metadata");
        const std::string example = in_quotes("https://app.example.org" + path);
        return conf_error(cf, in_quotes(sv(cmd->name)) + ": " + in_quotes(value) + " " + problem +
                                  (acs ? "; the IdP posts the browser to it and SP metadata publishes it, so write "
                                         "the full http:// or https:// URL the browser reaches, e.g. "
                                       : "; SAML wants an absolute URI, usually the URL of this SP's metadata, e.g. ") +
                                  example);
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
}

// sso_attribute user|email|name|groups ATTRIBUTE
char* set_attribute(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* scf = static_cast<SrvConf*>(conf);
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    const std::string_view role = sv(value[1]);
    if (role != "user" && role != "email" && role != "name" && role != "groups")
        return conf_error(
            cf, "\"sso_attribute\": unknown role \"" + std::string(role) + "\" (user, email, name or groups)");
    if (scf->attribute_map == NGX_CONF_UNSET_PTR) {  // first sso_attribute of this block
        scf->attribute_map = ngx_array_create(cf->pool, 4, sizeof(ngx_keyval_t));
        if (!scf->attribute_map) return static_cast<char*>(NGX_CONF_ERROR);
    }
    auto* kv = static_cast<ngx_keyval_t*>(ngx_array_push(scf->attribute_map));
    if (!kv) return static_cast<char*>(NGX_CONF_ERROR);
    kv->key = value[1];
    kv->value = value[2];
    return NGX_CONF_OK;
}

// Like ngx_conf_set_enum_slot, with a message that names the directive and the choices.
char* set_enum(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    auto& field = *reinterpret_cast<ngx_uint_t*>(static_cast<char*>(conf) + cmd->offset);
    if (field != NGX_CONF_UNSET_UINT) return const_cast<char*>("is duplicate");
    const ngx_str_t& value = static_cast<ngx_str_t*>(cf->args->elts)[1];
    std::string choices;
    for (auto* e = static_cast<ngx_conf_enum_t*>(cmd->post); e->name.len; ++e) {
        if (e->name.len == value.len && ngx_strcasecmp(e->name.data, value.data) == 0) {
            field = e->value;
            return NGX_CONF_OK;
        }
        try {
            if (!choices.empty()) choices += ", ";
            choices.append(reinterpret_cast<const char*>(e->name.data), e->name.len);
        } catch (...) {
            return static_cast<char*>(NGX_CONF_ERROR);
        }
    }
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": invalid value \"%V\" (%s)", &cmd->name, &value, choices.c_str());
    return static_cast<char*>(NGX_CONF_ERROR);
}

char* set_endpoint(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->endpoint != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
    lcf->endpoint = 1;
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = [](ngx_http_request_t* r) -> ngx_int_t { return endpoint_handler(r); };
    // Where protected locations of this server send a browser that signs in with the LDAP
    // form: the "ldap" action of this location (a regex location has no URL to derive).
#if (NGX_PCRE)
    if (clcf->regex) return NGX_CONF_OK;
#endif
    auto* scf = static_cast<SrvConf*>(ngx_http_conf_get_module_srv_conf(cf, ngx_http_sso_module));
    try {
        const std::string base = str(clcf->name);
        auto action = [&](const char* name) {
            return clcf->exact_match ? base : base + (base.ends_with('/') ? "" : "/") + name;
        };
        scf->ldap_form_uri = pool_copy(cf->pool, action("ldap"));
        scf->login_uri = pool_copy(cf->pool, action("login"));
        scf->logout_uri = pool_copy(cf->pool, action("logout"));
        if (!scf->ldap_form_uri.data || !scf->login_uri.data || !scf->logout_uri.data)
            return static_cast<char*>(NGX_CONF_ERROR);
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    return NGX_CONF_OK;
}

char* set_auth_request(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = [](ngx_http_request_t* r) -> ngx_int_t { return auth_request_handler(r); };
    return NGX_CONF_OK;
}

// sso_idp ENTITYID...: the IdPs a location accepts (checked against the metadata at merge).
char* set_idp(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->idps != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
    lcf->idps = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (!lcf->idps) return static_cast<char*>(NGX_CONF_ERROR);
    auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
        auto* slot = static_cast<ngx_str_t*>(ngx_array_push(lcf->idps));
        if (!slot) return static_cast<char*>(NGX_CONF_ERROR);
        *slot = value[i];
    }
    return NGX_CONF_OK;
}

char* set_metrics(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = [](ngx_http_request_t* r) -> ngx_int_t { return metrics_handler(r); };
    return NGX_CONF_OK;
}

char* set_status(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    clcf->handler = [](ngx_http_request_t* r) -> ngx_int_t { return status_handler(r); };
    return NGX_CONF_OK;
}

ngx_conf_enum_t kLogin[] = {
    {ngx_string("auto"), login_auto},
    {ngx_string("saml"), login_saml},
    {ngx_string("ldap"), login_ldap},
    {ngx_null_string, 0},
};

ngx_conf_enum_t kRequireMatch[] = {
    {ngx_string("all"), require_all},
    {ngx_string("any"), require_any},
    {ngx_null_string, 0},
};

ngx_conf_enum_t kNonBrowser[] = {
    {ngx_string("401"), non_browser_401},
    {ngx_string("redirect"), non_browser_redirect},
    {ngx_null_string, 0},
};

ngx_conf_enum_t kStoreFailure[] = {
    {ngx_string("closed"), store_failure_closed},
    {ngx_string("cached"), store_failure_cached},
    {ngx_null_string, 0},
};

constexpr ngx_uint_t kSrv = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF;
constexpr ngx_uint_t kLoc = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

#define SRV_OFF(f) NGX_HTTP_SRV_CONF_OFFSET, offsetof(SrvConf, f), nullptr
#define LOC_OFF(f) NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, f), nullptr

ngx_command_t kCommands[] = {
    {ngx_string("sso_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_zone, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(MainConf, zone), nullptr},
    {ngx_string("sso_replay_state"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, replay_state), nullptr},
    {ngx_string("sso_replay_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_zone, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(MainConf, replay_zone), nullptr},
    {ngx_string("sso_ldap_directory"), NGX_HTTP_MAIN_CONF | NGX_CONF_BLOCK | NGX_CONF_TAKE1, ldap_directory_block,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_sources"), NGX_HTTP_MAIN_CONF | NGX_CONF_BLOCK | NGX_CONF_NOARGS, sources_block,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_directory_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_size_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, directory_zone_size), nullptr},
    {ngx_string("sso_ldap_thread_pool"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, thread_pool_name), nullptr},
    {ngx_string("sso"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot, LOC_OFF(enable)},
    {ngx_string("sso_ldap"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot, LOC_OFF(ldap_name)},
    {ngx_string("sso_internal_users"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot, LOC_OFF(internal_users_name)},
    {ngx_string("sso_require"), kLoc | NGX_CONF_1MORE, set_require, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_idp"), kLoc | NGX_CONF_1MORE, set_idp, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_require_match"), kLoc | NGX_CONF_TAKE1, set_enum, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(LocConf, require_match), kRequireMatch},
    {ngx_string("sso_ldap_basic"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot, LOC_OFF(ldap_basic)},
    {ngx_string("sso_login"), kLoc | NGX_CONF_TAKE1, set_enum, NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, login),
     kLogin},
    {ngx_string("sso_endpoint"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_endpoint, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("sso_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_status, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_metrics"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_metrics, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_auth_request"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_auth_request, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("sso_non_browser"), kLoc | NGX_CONF_TAKE1, set_enum, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(LocConf, non_browser), kNonBrowser},
    {ngx_string("sso_identity_headers"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot, LOC_OFF(identity_headers)},
    {ngx_string("sso_pass_session_cookie"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot, LOC_OFF(pass_session_cookie)},
    {ngx_string("sso_groups_separator"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot, LOC_OFF(groups_separator)},
    {ngx_string("sso_jwt_header"), kLoc | NGX_CONF_TAKE1, set_jwt_header, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_jwt_key"), kLoc | NGX_CONF_TAKE2, set_jwt_key, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_jwt_issuer"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot, LOC_OFF(jwt.issuer)},
    {ngx_string("sso_jwt_audience"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot, LOC_OFF(jwt.audience)},
    {ngx_string("sso_jwt_lifetime"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_sec_slot, LOC_OFF(jwt.lifetime)},
    {ngx_string("sso_sp_entity_id"), kSrv | NGX_CONF_TAKE1, set_sp_identifier, SRV_OFF(entity_id)},
    {ngx_string("sso_sp_acs_url"), kSrv | NGX_CONF_TAKE1, set_sp_identifier, SRV_OFF(acs_url)},
    {ngx_string("sso_sp_key"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(key_file)},
    {ngx_string("sso_sp_certificate"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(cert_file)},
    {ngx_string("sso_idp_metadata"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(idp_metadata_file)},
    {ngx_string("sso_idp_metadata_url"), kSrv | NGX_CONF_TAKE1, set_located_str, SRV_OFF(idp_metadata_url)},
    {ngx_string("sso_idp_metadata_certificate"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(idp_metadata_certificate)},
    {ngx_string("sso_idp_metadata_refresh"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     SRV_OFF(idp_metadata_refresh)},
    {ngx_string("sso_idp_metadata_timeout"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     SRV_OFF(idp_metadata_timeout)},
    {ngx_string("sso_idp_metadata_cache_path"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_path_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, metadata_cache_path), nullptr},
    {ngx_string("sso_sign_requests"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot, SRV_OFF(sign_requests)},
    {ngx_string("sso_allow_sha1"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot, SRV_OFF(allow_sha1)},
    {ngx_string("sso_idp_initiated"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot, SRV_OFF(idp_initiated)},
    {ngx_string("sso_want_assertions_signed"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     SRV_OFF(want_assertions_signed)},
    {ngx_string("sso_clock_skew"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_sec_slot, SRV_OFF(clock_skew)},
    {ngx_string("sso_attribute"), kSrv | NGX_CONF_TAKE2, set_attribute, NGX_HTTP_SRV_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_session_lifetime"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_sec_slot, SRV_OFF(session_lifetime)},
    {ngx_string("sso_session_idle_timeout"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     SRV_OFF(session_idle_timeout)},
    {ngx_string("sso_login_timeout"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_sec_slot, SRV_OFF(login_timeout)},
    {ngx_string("sso_max_response_size"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_size_slot, SRV_OFF(max_response_size)},
    {ngx_string("sso_cookie_name"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_str_slot, SRV_OFF(cookie_name)},
    {ngx_string("sso_cookie_path"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_str_slot, SRV_OFF(cookie_path)},
    {ngx_string("sso_cookie_domain"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_str_slot, SRV_OFF(cookie_domain)},
    {ngx_string("sso_cookie_samesite"), kSrv | NGX_CONF_TAKE1, ngx_conf_set_str_slot, SRV_OFF(cookie_samesite)},
    {ngx_string("sso_cookie_secure"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot, SRV_OFF(cookie_secure)},
    {ngx_string("sso_sp_encryption_key"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(encryption_key_file)},
    {ngx_string("sso_sp_encryption_certificate"), kSrv | NGX_CONF_TAKE1, set_file, SRV_OFF(encryption_cert_file)},
    {ngx_string("sso_require_encrypted_assertions"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     SRV_OFF(require_encrypted_assertions)},
    {ngx_string("sso_allow_rsa1_5"), kSrv | NGX_CONF_FLAG, ngx_conf_set_flag_slot, SRV_OFF(allow_rsa1_5)},
    // The Redis store (module/redis_directive.cpp), for several nodes.
    {ngx_string("sso_redis"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_redis, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("sso_redis_database"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.database), nullptr},
    {ngx_string("sso_redis_password"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.password), nullptr},
    {ngx_string("sso_redis_prefix"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.prefix), nullptr},
    {ngx_string("sso_redis_connect_timeout"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.connect_timeout), nullptr},
    {ngx_string("sso_redis_timeout"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.timeout), nullptr},
    {ngx_string("sso_session_cache"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, redis.session_cache), nullptr},
    {ngx_string("sso_store_failure"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_enum, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(MainConf, redis.failure), kStoreFailure},
    ngx_null_command,
};

// --- configuration objects ---------------------------------------------------------------

void* create_main_conf(ngx_conf_t* cf) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
    if (!mcf) return nullptr;
    redis_create_conf(mcf->redis);
    mcf->directory_zone_size = NGX_CONF_UNSET_SIZE;
    return mcf;
}

// Directory calls and metadata fetches block, so they run in a thread pool; "default" is
// nginx's own (32 threads), created on demand like `aio threads` does.
bool use_thread_pool(ngx_conf_t* cf, MainConf* mcf) noexcept {
    if (mcf->thread_pool) return true;
    ngx_str_t* pool_name = mcf->thread_pool_name.len ? &mcf->thread_pool_name : nullptr;
    mcf->thread_pool = ngx_thread_pool_add(cf, pool_name);
    return mcf->thread_pool != nullptr;
}

char* init_main_conf(ngx_conf_t* cf, void* conf) noexcept {
    auto* mcf = static_cast<MainConf*>(conf);
    // Default zones, so that `sso on` works without further set-up.
    struct Default {
        ngx_shm_zone_t** zone;
        ngx_str_t name;
        std::size_t size;
    };
    for (Default d : {Default{&mcf->zone, ngx_string("sso"), kDefaultZoneSize},
                      Default{&mcf->replay_zone, ngx_string("sso_replay"), kDefaultReplayZoneSize}}) {
        if (*d.zone) continue;
        *d.zone = ngx_shared_memory_add(cf, &d.name, d.size, &ngx_http_sso_module);
        if (!*d.zone) return static_cast<char*>(NGX_CONF_ERROR);
    }
    mcf->zone->init = ShmStore::init_zone;
    // The replay cache outlives a stop in a file (relative names: to nginx's prefix); "off": not.
    if (!mcf->replay_state.data) mcf->replay_state = ngx_string("sso_replay.state");
    if (sv(mcf->replay_state) == "off") {
        mcf->replay_state = {0, nullptr};
    } else if (ngx_conf_full_name(cf->cycle, &mcf->replay_state, 0) != NGX_OK) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    mcf->replay_zone->init = ShmStore::init_replay_zone;
    mcf->replay_zone->data = &mcf->replay_state;
    // The counters take a zone of their own: one slab page, the smallest zone nginx makes.
    ngx_str_t counters_name = ngx_string("sso_counters");
    mcf->counters_zone = ngx_shared_memory_add(cf, &counters_name, 8 * ngx_pagesize, &ngx_http_sso_module);
    if (!mcf->counters_zone) return static_cast<char*>(NGX_CONF_ERROR);
    mcf->counters_zone->init = init_counters_zone;
    mcf->shm = pool_new<ShmStore>(cf->pool, mcf->zone, mcf->replay_zone);
    mcf->store = mcf->shm;
    if (!mcf->shm) return static_cast<char*>(NGX_CONF_ERROR);
    if (char* rc = redis_init_conf(cf, mcf); rc != NGX_CONF_OK) return rc;
    if (mcf->store != mcf->shm) mcf->replay_state = {0, nullptr};  // the replay cache is in Redis
    ngx_conf_init_size_value(mcf->directory_zone_size, kDefaultDirectoryZoneSize);
    if (mcf->directory_zone_size < 64 * ngx_pagesize)
        return conf_error(cf, "\"sso_directory_zone\": " + std::to_string(mcf->directory_zone_size) +
                                  " bytes is too small (at least " + std::to_string(64 * ngx_pagesize) + ")");
    if (mcf->sources && !mcf->sources->imported_names.empty()) {
        // Imported users, shared by every worker and kept across reloads.
        ngx_str_t name = ngx_string("sso_directory");
        mcf->sources->zone = ngx_shared_memory_add(cf, &name, mcf->directory_zone_size, &ngx_http_sso_module);
        if (!mcf->sources->zone) return static_cast<char*>(NGX_CONF_ERROR);
        mcf->sources->zone->init = DirectoryZone::init_zone;
        mcf->sources->zone->data = &mcf->sources->imported_names;
        if (!use_thread_pool(cf, mcf)) return static_cast<char*>(NGX_CONF_ERROR);
    }
    if (mcf->ldap || mcf->sources) {  // password sign-ins (directories, internal accounts)
        if (!use_thread_pool(cf, mcf)) return static_cast<char*>(NGX_CONF_ERROR);
        unsigned char secret[32];
        if (RAND_bytes(secret, sizeof secret) != 1)
            return conf_error(cf, "sso: no random bytes for the credential cache key");
        mcf->credential_key = pool_new<CredentialKey>(cf->pool, std::span<const unsigned char>(secret));
        OPENSSL_cleanse(secret, sizeof secret);
        if (!mcf->credential_key || !mcf->credential_key->valid())
            return conf_error(cf, "sso: cannot set up HMAC-SHA256 for the credential cache");
    }
    return NGX_CONF_OK;
}

void* create_srv_conf(ngx_conf_t* cf) noexcept {
    auto* c = static_cast<SrvConf*>(ngx_pcalloc(cf->pool, sizeof(SrvConf)));
    if (!c) return nullptr;
    c->sign_requests = NGX_CONF_UNSET;
    c->allow_sha1 = NGX_CONF_UNSET;
    c->idp_initiated = NGX_CONF_UNSET;
    c->want_assertions_signed = NGX_CONF_UNSET;
    c->clock_skew = NGX_CONF_UNSET;
    c->idp_metadata_refresh = NGX_CONF_UNSET;
    c->idp_metadata_timeout = NGX_CONF_UNSET_MSEC;
    c->session_lifetime = NGX_CONF_UNSET;
    c->session_idle_timeout = NGX_CONF_UNSET;
    c->login_timeout = NGX_CONF_UNSET;
    c->max_response_size = NGX_CONF_UNSET_SIZE;
    c->cookie_secure = NGX_CONF_UNSET;
    c->attribute_map = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
    c->require_encrypted_assertions = NGX_CONF_UNSET;
    c->allow_rsa1_5 = NGX_CONF_UNSET;
    return c;
}

std::optional<std::string> read_file(const ngx_str_t& path) {
    std::string out;
    FILE* f = std::fopen(str(path).c_str(), "rb");
    if (!f) return std::nullopt;
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
        if (out.size() > 64 * 1024 * 1024) break;
    }
    std::fclose(f);
    return out;
}

const char* directive_for(const std::string& subject) {
    if (subject == "key") return "sso_sp_key";
    if (subject == "certificate") return "sso_sp_certificate";
    if (subject == "idp_metadata") return "sso_idp_metadata";
    if (subject == "entity_id") return "sso_sp_entity_id";
    if (subject == "acs_url") return "sso_sp_acs_url";
    if (subject == "encryption_key") return "sso_sp_encryption_key";
    if (subject == "encryption_certificate") return "sso_sp_encryption_certificate";
    return "sso";
}

const ngx_str_t* file_for(const SrvConf* c, const std::string& subject) {
    if (subject == "key") return &c->key_file;
    if (subject == "certificate") return &c->cert_file;
    if (subject == "idp_metadata") return &c->idp_metadata_file;
    if (subject == "encryption_key") return &c->encryption_key_file;
    if (subject == "encryption_certificate") return &c->encryption_cert_file;
    return nullptr;
}

// Every worker refreshes (URL) or watches the expiry (file) of these; sso_status lists them.
char* add_metadata_source(ngx_conf_t* cf, MetadataSource* source) {
    if (!source) return static_cast<char*>(NGX_CONF_ERROR);
    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
    if (!mcf->metadata_sources) mcf->metadata_sources = ngx_array_create(cf->pool, 4, sizeof(MetadataSource*));
    auto** slot =
        mcf->metadata_sources ? static_cast<MetadataSource**>(ngx_array_push(mcf->metadata_sources)) : nullptr;
    if (!slot) return static_cast<char*>(NGX_CONF_ERROR);
    *slot = source;
    return NGX_CONF_OK;
}

// The cached copy of a URL's metadata is named after the URL, so that servers sharing a URL
// share the file and a changed URL never reads another one's copy.
std::string cache_file_name(std::string_view url) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(url.data(), url.size(), digest, &len, EVP_sha256(), nullptr) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string name;
    for (unsigned int i = 0; i < 16; ++i) {
        name += hex[digest[i] >> 4];
        name += hex[digest[i] & 15];
    }
    return name + ".xml";
}

// sso_idp_metadata_url: fetched now (bounded by the timeout, in the master as it reads the
// configuration), else the copy the last good fetch left on disk; nginx -t fails with neither.
char* load_from_url(ngx_conf_t* cf, SrvConf* c, ServerRuntime* rt, SpSettings s, MetadataTrust trust) {
    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
    static ngx_path_init_t default_cache_path = {ngx_string("sso_metadata"), {0, 0, 0}};
    if (ngx_conf_merge_path_value(cf, &mcf->metadata_cache_path, nullptr, &default_cache_path) != NGX_CONF_OK)
        return static_cast<char*>(NGX_CONF_ERROR);
    if (!use_thread_pool(cf, mcf)) return static_cast<char*>(NGX_CONF_ERROR);
    UrlMetadataConfig config;
    config.url = str(c->idp_metadata_url);
    if (config.url.rfind("http://", 0) != 0 && config.url.rfind("https://", 0) != 0)
        return conf_error(cf, "\"sso_idp_metadata_url\": \"" + config.url + "\" is not an http:// or https:// URL");
    if (!http_client_init()) return conf_error(cf, "\"sso_idp_metadata_url\": libcurl could not be initialised");
    config.cache_file = str(mcf->metadata_cache_path->name) + "/" + cache_file_name(config.url);
    config.fetch.timeout_ms = static_cast<long>(c->idp_metadata_timeout);
    config.trust = std::move(trust);
    config.sp = std::move(s);
    // nginx creates the directory (owned by the worker user) only after the configuration is
    // read; the first fetch needs it now.
    const bool save = !ngx_test_config;
    if (save && ngx_create_dir(mcf->metadata_cache_path->name.data, 0700) == NGX_FILE_ERROR && ngx_errno != NGX_EEXIST)
        ngx_conf_log_error(NGX_LOG_WARN, cf, ngx_errno, "\"sso_idp_metadata_cache_path\": cannot create \"%V\"",
                           &mcf->metadata_cache_path->name);
    const std::int64_t now = ngx_time();
    MetadataLoad load = fetch_metadata(config, now, "", save);
    MetadataStatus status;
    status.origin = "url";
    status.location = config.url;
    status.cache_file = config.cache_file;
    status.last_fetch = now;
    status.last_fetch_result = load.ok() ? "ok" : load.error;
    status.loaded_from = "url";
    if (load.ok()) {
        status.last_success = now;
        status.confirmed_at = now;
    } else {
        MetadataLoad cached = load_cached_metadata(config, now);
        if (!cached.ok()) return conf_error(cf, "\"sso_idp_metadata_url\": " + load.error + ", and " + cached.error);
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"sso_idp_metadata_url\": %s; using the cached copy \"%s\"",
                           load.error.c_str(), config.cache_file.c_str());
        load = std::move(cached);
        status.loaded_from = "cache";
    }
    if (!load.warning.empty())
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"sso_idp_metadata_url\": %s", load.warning.c_str());
    rt->sp = std::move(load.sp);
    rt->sp_metadata = rt->sp->metadata_xml();
    status.entity_id = load.info.entity_id;
    status.loaded_at = now;
    status.valid_until = load.info.valid_until;
    status.signature_verified = load.info.signature_verified;
    if (load.info.signature_verified) status.signer = certificate_subject(config.trust.certificate_pem);
    status.next_refresh =
        now + next_refresh_delay(c->idp_metadata_refresh, &load.info, now, status.loaded_from == "cache");
    rt->metadata = pool_new<MetadataSource>(cf->pool, rt, std::move(status), std::move(config), std::move(load.xml),
                                            c->idp_metadata_refresh, load.info);
    return add_metadata_source(cf, rt->metadata);
}

// Builds the per-server runtime: cookie settings, attribute map and, when IdP metadata is
// configured, the Service Provider with its LassoServer (once per configuration load).
char* build_runtime(ngx_conf_t* cf, SrvConf* c) {
    ServerRuntime* rt = pool_new<ServerRuntime>(cf->pool);
    if (!rt) return static_cast<char*>(NGX_CONF_ERROR);
    c->rt = rt;
    auto* cscf = static_cast<ngx_http_core_srv_conf_t*>(ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module));
    rt->scope = c->entity_id.len ? str(c->entity_id) : "server:" + str(cscf->server_name);
    rt->cookie.name = str(c->cookie_name);
    rt->cookie.path = str(c->cookie_path);
    rt->cookie.domain = str(c->cookie_domain);
    rt->cookie.secure = c->cookie_secure;
    std::string samesite = str(c->cookie_samesite);
    for (char& ch : samesite) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    rt->cookie.same_site = samesite == "lax"      ? "Lax"
                           : samesite == "strict" ? "Strict"
                           : samesite == "none"   ? "None"
                                                  : "";
    if (rt->cookie.same_site.empty())
        return conf_error(cf, "\"sso_cookie_samesite\": \"" + samesite + "\" is not lax, strict or none");
    if (rt->cookie.same_site == "None" && !rt->cookie.secure)
        return conf_error(cf,
                          "\"sso_cookie_samesite none\" needs \"sso_cookie_secure on\" (browsers drop it otherwise)");
    if (const char* e = cookie_options_error(rt->cookie)) return conf_error(cf, std::string("sso_cookie_*: ") + e);

    if (c->attribute_map) {
        for (ngx_uint_t i = 0; i < c->attribute_map->nelts; ++i) {
            const auto& kv = static_cast<ngx_keyval_t*>(c->attribute_map->elts)[i];
            const std::string role = str(kv.key), name = str(kv.value);
            if (role == "user")
                rt->attributes.user = name;
            else if (role == "email")
                rt->attributes.email = name;
            else if (role == "name")
                rt->attributes.display_name = name;
            else
                rt->attributes.groups = name;
        }
    }

    const bool from_file = c->idp_metadata_file.len && sv(c->idp_metadata_file) != "none";
    const bool from_url = c->idp_metadata_url.len != 0;
    if (from_file && from_url)
        return conf_error(cf, "\"sso_idp_metadata\" and \"sso_idp_metadata_url\" are both set; use one of them");
    const bool saml_on = from_file || from_url;
    const bool sp_described = c->entity_id.len && c->acs_url.len && c->key_file.len && c->cert_file.len;
    if (saml_on) {
        const std::string source = from_url ? "\"sso_idp_metadata_url\"" : "\"sso_idp_metadata\"";
        if (!c->key_file.len) return conf_error(cf, source + " is set but \"sso_sp_key\" is missing");
        if (!c->cert_file.len) return conf_error(cf, source + " is set but \"sso_sp_certificate\" is missing");
    }
    if (!saml_on && !sp_described) return NGX_CONF_OK;  // nothing to publish, SAML off

    SpSettings s;
    s.entity_id = str(c->entity_id);
    s.acs_url = str(c->acs_url);
    s.clock_skew = c->clock_skew;
    s.sign_requests = c->sign_requests;
    s.allow_sha1 = c->allow_sha1;
    s.allow_unsolicited = c->idp_initiated;
    s.want_assertions_signed = c->want_assertions_signed;
    s.max_response_bytes = c->max_response_size;
    s.require_encrypted_assertions = c->require_encrypted_assertions;
    s.allow_rsa1_5 = c->allow_rsa1_5;
    MetadataTrust trust;
    trust.allow_sha1 = c->allow_sha1;
    std::vector<std::pair<const ngx_str_t*, std::string*>> inputs = {{&c->key_file, &s.key_pem},
                                                                     {&c->cert_file, &s.cert_pem}};
    if (c->encryption_key_file.len) inputs.emplace_back(&c->encryption_key_file, &s.encryption_key_pem);
    if (c->encryption_cert_file.len) inputs.emplace_back(&c->encryption_cert_file, &s.encryption_cert_pem);
    if (from_file) inputs.emplace_back(&c->idp_metadata_file, &s.idp_metadata_xml);
    if (saml_on && c->idp_metadata_certificate.len)
        inputs.emplace_back(&c->idp_metadata_certificate, &trust.certificate_pem);
    for (auto [field, out] : inputs) {
        auto contents = read_file(*field);
        if (!contents) return conf_error(cf, "cannot read file \"" + str(*field) + "\"");
        *out = std::move(*contents);
    }
    if (saml_on) {
        // AuthnRequest IDs verify themselves under a key every node of this SP shares.
        rt->login_key = std::make_unique<LoginRequestKey>(s.key_pem, s.entity_id);
        if (!rt->login_key->valid()) return conf_error(cf, "sso: cannot set up HMAC-SHA256 for AuthnRequest IDs");
    }
    // At the directive's own line: these are found after the whole block was read.
    auto report = [&](const Error& e) {
        const char* directive = directive_for(e.subject);
        std::string msg = std::string("\"") + directive + "\"";
        if (const ngx_str_t* file = file_for(c, e.subject); file && file->len) msg += " file \"" + str(*file) + "\"";
        return conf_error_at(cf, position_of(c, directive), msg + ": " + e.reason);
    };
    if (!saml_on) {
        auto metadata = ServiceProvider::sp_metadata(s);
        if (!metadata) return report(metadata.error());
        rt->sp_metadata = std::move(metadata.value());
        return NGX_CONF_OK;
    }
    if (from_url) {
        // The SP side is checked first, so that its errors name their own directives.
        auto metadata = ServiceProvider::sp_metadata(s);
        if (!metadata) return report(metadata.error());
        return load_from_url(cf, c, rt, std::move(s), std::move(trust));
    }
    const std::int64_t now = ngx_time();
    auto info = check_idp_metadata(s.idp_metadata_xml, now, trust);
    if (!info) return report(info.error());
    auto sp = ServiceProvider::create(s);  // checks the key pair and builds the metadata once
    if (!sp) return report(sp.error());
    rt->sp_metadata = sp.value()->metadata_xml();
    rt->sp = std::move(sp.value());
    MetadataStatus status;
    status.origin = "file";
    status.location = str(c->idp_metadata_file);
    status.entity_id = info->entity_id;
    status.loaded_from = "file";
    status.loaded_at = now;
    status.valid_until = info->valid_until;
    status.signature_verified = info->signature_verified;
    if (info->signature_verified) status.signer = certificate_subject(trust.certificate_pem);
    rt->metadata = pool_new<MetadataSource>(cf->pool, rt, std::move(status));
    return add_metadata_source(cf, rt->metadata);
}

char* merge_srv_conf(ngx_conf_t* cf, void* parent, void* child) noexcept {
    auto* prev = static_cast<SrvConf*>(parent);
    auto* c = static_cast<SrvConf*>(child);
    merge_positions(prev, c);
    ngx_conf_merge_str_value(c->entity_id, prev->entity_id, "");
    ngx_conf_merge_str_value(c->acs_url, prev->acs_url, "");
    ngx_conf_merge_str_value(c->key_file, prev->key_file, "");
    ngx_conf_merge_str_value(c->cert_file, prev->cert_file, "");
    ngx_conf_merge_str_value(c->idp_metadata_file, prev->idp_metadata_file, "none");
    ngx_conf_merge_str_value(c->idp_metadata_url, prev->idp_metadata_url, "");
    ngx_conf_merge_str_value(c->idp_metadata_certificate, prev->idp_metadata_certificate, "");
    ngx_conf_merge_sec_value(c->idp_metadata_refresh, prev->idp_metadata_refresh, 3600);
    ngx_conf_merge_msec_value(c->idp_metadata_timeout, prev->idp_metadata_timeout, 10000);
    ngx_conf_merge_value(c->sign_requests, prev->sign_requests, 1);
    ngx_conf_merge_value(c->allow_sha1, prev->allow_sha1, 0);
    ngx_conf_merge_value(c->idp_initiated, prev->idp_initiated, 0);
    ngx_conf_merge_value(c->want_assertions_signed, prev->want_assertions_signed, 0);
    ngx_conf_merge_sec_value(c->clock_skew, prev->clock_skew, 60);
    ngx_conf_merge_sec_value(c->session_lifetime, prev->session_lifetime, 8 * 3600);
    ngx_conf_merge_sec_value(c->session_idle_timeout, prev->session_idle_timeout, 3600);
    ngx_conf_merge_sec_value(c->login_timeout, prev->login_timeout, 300);
    ngx_conf_merge_size_value(c->max_response_size, prev->max_response_size, 256 * 1024);
    ngx_conf_merge_str_value(c->cookie_name, prev->cookie_name, "sso_session");
    ngx_conf_merge_str_value(c->cookie_path, prev->cookie_path, "/");
    ngx_conf_merge_str_value(c->cookie_domain, prev->cookie_domain, "");
    ngx_conf_merge_str_value(c->cookie_samesite, prev->cookie_samesite, "lax");
    ngx_conf_merge_value(c->cookie_secure, prev->cookie_secure, 1);
    ngx_conf_merge_ptr_value(c->attribute_map, prev->attribute_map, nullptr);
    ngx_conf_merge_str_value(c->encryption_key_file, prev->encryption_key_file, "");
    ngx_conf_merge_str_value(c->encryption_cert_file, prev->encryption_cert_file, "");
    ngx_conf_merge_value(c->require_encrypted_assertions, prev->require_encrypted_assertions, 0);
    ngx_conf_merge_value(c->allow_rsa1_5, prev->allow_rsa1_5, 0);
    if (c->session_lifetime <= 0) return conf_error(cf, "\"sso_session_lifetime\" must be positive");
    if (c->login_timeout <= 0) return conf_error(cf, "\"sso_login_timeout\" must be positive");
    try {
        return build_runtime(cf, c);
    } catch (const std::exception& e) {
        return conf_error(cf, std::string("sso: ") + e.what());
    }
}

void* create_loc_conf(ngx_conf_t* cf) noexcept {
    auto* c = static_cast<LocConf*>(ngx_pcalloc(cf->pool, sizeof(LocConf)));
    if (!c) return nullptr;
    c->enable = NGX_CONF_UNSET;
    c->endpoint = NGX_CONF_UNSET;
    c->non_browser = NGX_CONF_UNSET_UINT;
    c->identity_headers = NGX_CONF_UNSET;
    c->pass_session_cookie = NGX_CONF_UNSET;
    c->login = NGX_CONF_UNSET_UINT;
    c->ldap_basic = NGX_CONF_UNSET;
    c->require = static_cast<AccessRules*>(NGX_CONF_UNSET_PTR);
    c->require_match = NGX_CONF_UNSET_UINT;
    c->idps = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
    init_jwt_conf(&c->jwt);
    return c;
}

// The password check of a location whose only accounts are internal ones: a directory block
// without a directory, made once per users source.
const LdapDirectoryConf* internal_password_check(ngx_conf_t* cf, MainConf* mcf, const SourceConf& s) noexcept {
    try {
        const std::string name = "users:" + s.name;
        if (!mcf->ldap && !(mcf->ldap = pool_new<LdapDirectories>(cf->pool))) return nullptr;
        if (const LdapDirectoryConf* d = mcf->ldap->find(name)) return d;
        auto d = std::make_unique<LdapDirectoryConf>();
        d->name = name;
        d->set_realm(s.name);
        mcf->ldap->list.push_back(std::move(d));
        return mcf->ldap->list.back().get();
    } catch (...) {
        return nullptr;
    }
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) noexcept {
    auto* prev = static_cast<LocConf*>(parent);
    auto* c = static_cast<LocConf*>(child);
    ngx_conf_merge_value(c->enable, prev->enable, 0);
    if (c->endpoint == NGX_CONF_UNSET) c->endpoint = 0;  // never inherited: one location serves it
    ngx_conf_merge_uint_value(c->non_browser, prev->non_browser, non_browser_401);
    ngx_conf_merge_value(c->identity_headers, prev->identity_headers, 0);
    ngx_conf_merge_value(c->pass_session_cookie, prev->pass_session_cookie, 0);
    ngx_conf_merge_str_value(c->groups_separator, prev->groups_separator, ",");
    ngx_conf_merge_str_value(c->ldap_name, prev->ldap_name, "off");
    ngx_conf_merge_uint_value(c->login, prev->login, login_auto);
    ngx_conf_merge_value(c->ldap_basic, prev->ldap_basic, 1);
    ngx_conf_merge_ptr_value(c->require, prev->require, nullptr);
    ngx_conf_merge_uint_value(c->require_match, prev->require_match, require_all);
    ngx_conf_merge_ptr_value(c->idps, prev->idps, nullptr);
    if (c->idps) {
        auto* scf = static_cast<SrvConf*>(ngx_http_conf_get_module_srv_conf(cf, ngx_http_sso_module));
        if (!scf->rt || !scf->rt->sp) return conf_error(cf, "\"sso_idp\" needs IdP metadata in this server");
        const auto* names = static_cast<const ngx_str_t*>(c->idps->elts);
        for (ngx_uint_t i = 0; i < c->idps->nelts; ++i)
            if (!scf->rt->sp->knows_idp(sv(names[i])))
                return conf_error(cf, "\"sso_idp\": no IdP \"" + str(names[i]) + "\" in this server's metadata");
    }
    c->ldap = nullptr;
    if (sv(c->ldap_name) != "off") {
        auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
        c->ldap = mcf->ldap ? mcf->ldap->find(sv(c->ldap_name)) : nullptr;
        if (!c->ldap) return conf_error(cf, "\"sso_ldap\": no sso_ldap_directory named \"" + str(c->ldap_name) + "\"");
    }
    ngx_conf_merge_str_value(c->internal_users_name, prev->internal_users_name, "off");
    c->internal_users = nullptr;
    if (sv(c->internal_users_name) != "off") {
        auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
        const SourceConf* s = mcf->sources ? mcf->sources->find(sv(c->internal_users_name)) : nullptr;
        if (!s || s->kind != SourceKind::users)
            return conf_error(cf, "\"sso_internal_users\": no users source named \"" + str(c->internal_users_name) +
                                      "\" in sso_sources");
        c->internal_users = s;
        if (!c->ldap && !(c->ldap = internal_password_check(cf, mcf, *s))) return static_cast<char*>(NGX_CONF_ERROR);
    }
    if (c->login == login_ldap && !c->ldap)
        return conf_error(cf, "\"sso_login ldap\" needs \"sso_ldap\" naming a directory");
    return merge_jwt_conf(cf, &prev->jwt, &c->jwt);
}

ngx_int_t preconfiguration(ngx_conf_t* cf) noexcept {
    return add_variables(cf) == NGX_OK ? add_jwt_variable(cf) : NGX_ERROR;
}

ngx_int_t postconfiguration(ngx_conf_t* cf) noexcept {
    auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers));
    if (!h) return NGX_ERROR;
    *h = [](ngx_http_request_t* r) -> ngx_int_t { return post_read_handler(r); };
    h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers));
    if (!h) return NGX_ERROR;
    *h = [](ngx_http_request_t* r) -> ngx_int_t { return access_handler(r); };
    if (check_server_locations(cf) != NGX_OK) return NGX_ERROR;
    if (init_request_reference(cf) != NGX_OK) return NGX_ERROR;
    return check_saml_sources(cf);
}

// Each worker keeps its servers' IdP metadata fresh and runs the directory imports that are due.
ngx_int_t init_process(ngx_cycle_t* cycle) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sso_module));
    start_imports(cycle);
    if (!mcf || !mcf->metadata_sources) return NGX_OK;
    auto** sources = static_cast<MetadataSource**>(mcf->metadata_sources->elts);
    for (ngx_uint_t i = 0; i < mcf->metadata_sources->nelts; ++i) sources[i]->start(cycle, mcf->thread_pool);
    start_certificate_watch(cycle, mcf);
    return NGX_OK;
}

// One line per load (start, reload, nginx -t) naming this build, for bug reports and upgrades.
ngx_int_t init_module(ngx_cycle_t* cycle) noexcept {
    try {
        const std::string line = describe_build(build_info());
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "sso: %*s", line.size(), line.data());
    } catch (...) {  // only allocation can fail, and the line is not worth failing the load for
    }
    return NGX_OK;
}

// A clean stop keeps the replay cache for the next start. Not by the old master of a binary
// upgrade: the new one runs on, and its own exit writes the file.
void exit_master(ngx_cycle_t* cycle) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sso_module));
    if (!mcf || !mcf->shm || !mcf->replay_state.len) return;
    if (ngx_new_binary) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "sso: replay cache not saved: the new binary (pid %P) keeps running", ngx_new_binary);
        return;
    }
    mcf->shm->save_replay_state(mcf->replay_state, cycle->log);
}

ngx_http_module_t kModuleCtx = {
    preconfiguration, postconfiguration, create_main_conf, init_main_conf,
    create_srv_conf,  merge_srv_conf,    create_loc_conf,  merge_loc_conf,
};

}  // namespace
}  // namespace sso::ngx

extern "C" {
__attribute__((visibility("default"))) ngx_module_t ngx_http_sso_module = {
    NGX_MODULE_V1,
    &sso::ngx::kModuleCtx,
    sso::ngx::kCommands,
    NGX_HTTP_MODULE,
    nullptr,
    sso::ngx::init_module,
    sso::ngx::init_process,
    nullptr,
    nullptr,
    nullptr,
    sso::ngx::exit_master,
    NGX_MODULE_V1_PADDING,
};
}
