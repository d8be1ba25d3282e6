// Directory sign-in steps shared by the access phase (HTTP Basic) and the endpoint (the form).
// libldap blocks, so each check runs in nginx's thread pool and continues on the event loop.
#pragma once

#include <string>

#include "identity/users_file.hpp"
#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {

struct SourceConf;

struct LdapJob;
using LdapDone = void (*)(ngx_http_request_t* r, LdapJob& job) noexcept;

// Lives in the request pool (its cleanup runs the destructor), written by one pool thread
// while the request waits, read on the event loop afterwards.
struct LdapJob {
    ngx_http_request_t* r = nullptr;
    const LdapDirectoryConf* directory = nullptr;  // its `directory` is null for internal accounts only
    const SourceConf* internal = nullptr;          // sso_internal_users: checked before the directory
    const InternalUser* internal_user = nullptr;   // set when an internal account's password matched
    std::string user, password;
    ldap::AuthResult result;
    LdapDone done = nullptr;
    std::string cache_key;  // Basic: where the outcome is cached
    std::string form_csrf;  // form: the token to show again when the sign-in fails
    std::string form_return_to;
    ~LdapJob();  // wipes the password
};

// A check of user/password, made in the request pool; null when out of memory.
LdapJob* new_directory_check(ngx_http_request_t* r, const LdapDirectoryConf& d, std::string_view user,
                             std::string_view password, LdapDone done) noexcept;

// Runs the check in the thread pool; job.done runs on the event loop after it. False when it
// could not start (out of memory, thread pool queue full): nothing was posted.
bool post_directory_check(ngx_http_request_t* r, LdapJob& job) noexcept;

// The page and status for a failed check (401, 503, 504); the reason goes to the log. Wrong
// password, unknown user and a name the filter finds twice all look the same to the client.
void decide_directory_failure(ngx_http_request_t* r, RequestCtx* ctx, const LdapJob& job) noexcept;

// The session record for a successful check, encoded; empty when it cannot be made.
std::string directory_session(ngx_http_request_t* r, const LdapJob& job, std::int64_t expires) noexcept;

enum class BasicStatus { absent, started };

// HTTP Basic credentials on the request, checked against the location's directory: the
// credential cache first, then the directory. `absent` (no Basic header): nothing happened
// and `done` will not be called. Otherwise `done` runs once the identity is set
// (ctx->authenticated) or a refusal decided.
BasicStatus basic_sign_in(ngx_http_request_t* r, RequestCtx* ctx, const LdapDirectoryConf& d, StepDone done) noexcept;

// "Basic realm=..." for a 401 that invites Basic credentials.
void set_basic_challenge(ngx_http_request_t* r, RequestCtx* ctx, const LdapDirectoryConf& d) noexcept;

}  // namespace sso::ngx
