// Configuration of ngx_http_sso_module: plain structs that nginx's ngx_conf_set_*_slot helpers
// fill (so offsetof works), and the C++ state built from them once per configuration load.
#pragma once

#include "module/ngx_includes.hpp"

#include <memory>
#include <string>
#include <vector>

#include "identity/access_policy.hpp"
#include "identity/attribute_map.hpp"
#include "ldap/directory.hpp"
#include "module/identity_token.hpp"
#include "saml/service_provider.hpp"
#include "session/cookie.hpp"
#include "session/credential_key.hpp"
#include "session/login_request.hpp"
#include "session/store.hpp"

namespace sso::ngx {

class ShmStore;
class MetadataSource;
class RedisStore;
struct Sources;
struct SourceConf;

// `sso_redis` and its settings (module/redis_store.hpp): plain, for the slot helpers.
struct RedisSettings {
    ngx_str_t address;  // as written; empty: sessions stay in shared memory
    ngx_str_t host;     // numeric, resolved when the configuration loads
    ngx_uint_t port;
    ngx_str_t unix_path;         // "unix:/path" instead of host:port
    ngx_int_t database;          // sso_redis_database
    ngx_str_t password;          // sso_redis_password
    ngx_str_t prefix;            // sso_redis_prefix
    ngx_msec_t connect_timeout;  // sso_redis_connect_timeout
    ngx_msec_t timeout;          // sso_redis_timeout: each operation
    time_t session_cache;        // sso_session_cache
    ngx_uint_t failure;          // sso_store_failure
};
enum StoreFailure : ngx_uint_t { store_failure_closed = 0, store_failure_cached = 1 };

// Built in merge_srv_conf, owned by the configuration pool (its cleanup runs the destructor).
struct ServerRuntime {
    std::unique_ptr<ServiceProvider> sp;  // null: SAML is off for this server
    std::string sp_metadata;              // served even while SAML is off (no IdP metadata yet)
    std::string scope;                    // sessions issued here are valid only here
    CookieOptions cookie;
    AttributeMap attributes;
    MetadataSource* metadata = nullptr;      // where the IdP metadata came from (null: SAML off)
    bool metadata_expired() const noexcept;  // SAML is off because validUntil passed
    // MACs the AuthnRequest IDs (session/login_request.hpp); set when SAML is on.
    std::unique_ptr<LoginRequestKey> login_key;
};

// One `sso_ldap_directory NAME { ... }` block.
struct LdapDirectoryConf {
    std::string name;
    std::unique_ptr<ldap::Directory> directory;
    time_t cache_ttl = 60;         // successful Basic checks are reused this long; 0: never
    time_t failure_cache_ttl = 2;  // and failed ones this long (at most kMaxFailureCacheTtl)
    std::string realm;             // for WWW-Authenticate: Basic realm="..."
    std::string challenge;         // the whole WWW-Authenticate value, made from realm at load

    void set_realm(std::string r) {
        realm = std::move(r);
        challenge = "Basic realm=\"" + realm + "\", charset=\"UTF-8\"";
    }
};
inline constexpr time_t kMaxFailureCacheTtl = 10;

// With sso_internal_users and no sso_ldap, the location's password check is one of these with no
// `directory`: only the internal accounts sign in.
struct LdapDirectories {
    std::vector<std::unique_ptr<LdapDirectoryConf>> list;
    const LdapDirectoryConf* find(std::string_view name) const noexcept {
        for (const auto& d : list)
            if (d->name == name) return d.get();
        return nullptr;
    }
};

struct MainConf {
    ngx_shm_zone_t* zone;            // sessions, pending AuthnRequests, cached Basic checks
    ngx_shm_zone_t* replay_zone;     // assertion IDs already used
    ngx_shm_zone_t* counters_zone;   // sign-ins, refusals, logouts (module/counters.hpp)
    ShmStore* shm;                   // the embedded store (lives in the cycle pool)
    Store* store;                    // where sessions are kept: shm, or redis_store with sso_redis
    LdapDirectories* ldap;           // null until the first sso_ldap_directory
    ngx_str_t thread_pool_name;      // sso_ldap_thread_pool; "default" when unset
    ngx_thread_pool_t* thread_pool;  // where directory calls run (never on the event loop)
    // Keys the credential cache, from random bytes made when the configuration loads: the
    // cache never holds a password or a plain hash of one.
    CredentialKey* credential_key;
    ngx_path_t* metadata_cache_path;  // sso_idp_metadata_cache_path: copies of fetched metadata
    ngx_array_t* metadata_sources;    // of MetadataSource*: refreshed by every worker, shown by sso_status
    ngx_str_t replay_state;           // sso_replay_state: the file the replay zone is saved to; empty: off
    RedisSettings redis;
    RedisStore* redis_store;          // the store when sso_redis is set (lives in the cycle pool)
    Sources* sources;                 // sso_sources; null: no priority rule, no imports
    std::size_t directory_zone_size;  // sso_directory_zone: imported users (module/user_directory_zone.hpp)
};

// Where a directive was written (line 0: nowhere in this block or above it), for nginx -t
// messages about its value that are found after parsing (file contents, locations).
struct ConfPos {
    ngx_str_t file;
    ngx_uint_t line;
};

struct SrvConf {
    ngx_str_t entity_id;
    ngx_str_t acs_url;
    ngx_str_t key_file;
    ngx_str_t cert_file;
    ngx_str_t idp_metadata_file;         // "none" (the default) leaves SAML off
    ngx_str_t idp_metadata_url;          // or fetched from here (with a cached copy on disk)
    ngx_str_t idp_metadata_certificate;  // when set, the metadata must be signed by this certificate
    time_t idp_metadata_refresh;
    ngx_msec_t idp_metadata_timeout;
    ngx_flag_t sign_requests;
    ngx_flag_t allow_sha1;
    ngx_flag_t idp_initiated;
    ngx_flag_t want_assertions_signed;
    time_t clock_skew;
    time_t session_lifetime;
    time_t session_idle_timeout;
    time_t login_timeout;
    size_t max_response_size;
    ngx_str_t cookie_name;
    ngx_str_t cookie_path;
    ngx_str_t cookie_domain;
    ngx_str_t cookie_samesite;
    ngx_flag_t cookie_secure;
    ngx_array_t* attribute_map;  // of ngx_keyval_t: role -> attribute name
    ServerRuntime* rt;
    // where the settings that are checked after parsing were written (module/conf_position.cpp)
    ConfPos entity_id_at, acs_url_at, key_at, cert_at, idp_metadata_at, idp_metadata_url_at;
    ConfPos encryption_key_at, encryption_cert_at;
    ngx_str_t ldap_form_uri;  // the sign-in form of this server's sso_endpoint ("/sso/ldap")
    ngx_str_t login_uri;      // and its SAML login, where the IdP chooser is ("/sso/login")
    ngx_str_t logout_uri;     // and its logout, where pages offer to switch account ("/sso/logout")
    // encrypted assertions
    ngx_str_t encryption_key_file;   // empty: sso_sp_key decrypts
    ngx_str_t encryption_cert_file;  // empty: sso_sp_certificate is published for encryption
    ngx_flag_t require_encrypted_assertions;
    ngx_flag_t allow_rsa1_5;
};

enum NonBrowser : ngx_uint_t { non_browser_401 = 0, non_browser_redirect = 1 };
enum LoginMethod : ngx_uint_t { login_auto = 0, login_saml = 1, login_ldap = 2 };
enum RequireMatch : ngx_uint_t { require_all = 0, require_any = 1 };

// The `sso_require` lines of one location (a location that has none inherits its parent's).
struct AccessRules {
    std::vector<AccessRule> rules;
};

struct LocConf {
    ngx_flag_t enable;
    ngx_flag_t endpoint;
    ngx_uint_t non_browser;
    ngx_flag_t identity_headers;
    ngx_flag_t pass_session_cookie;  // sso_pass_session_cookie: our cookies go upstream too
    ngx_str_t groups_separator;
    ngx_str_t ldap_name;               // sso_ldap NAME | off
    const LdapDirectoryConf* ldap;     // resolved at merge; null: no password sign-in here
    ngx_str_t internal_users_name;     // sso_internal_users SOURCE | off
    const SourceConf* internal_users;  // its accounts sign in with their passwords (form, Basic)
    ngx_uint_t login;                  // sso_login: how a browser signs in
    ngx_flag_t ldap_basic;             // sso_ldap_basic: HTTP Basic against the directory
    AccessRules* require;              // sso_require lines; null: any signed-in user
    ngx_uint_t require_match;          // sso_require_match all|any
    ngx_array_t* idps;                 // sso_idp: entityIDs (ngx_str_t) accepted here; null: every IdP
    JwtLocConf jwt;                    // sso_jwt_*: the signed identity token
};

inline MainConf* main_conf(ngx_http_request_t* r) {
    return static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_sso_module));
}
inline SrvConf* srv_conf(ngx_http_request_t* r) {
    return static_cast<SrvConf*>(ngx_http_get_module_srv_conf(r, ngx_http_sso_module));
}
inline LocConf* loc_conf(ngx_http_request_t* r) {
    return static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_sso_module));
}

}  // namespace sso::ngx
