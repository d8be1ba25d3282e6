// `sso_sources { ... }`: the identity sources in priority order (first line = highest), and what
// a sign-in does with them: when a higher-priority source knows the signed-in e-mail, the
// identity (user, name, groups, attributes) is that source's, whole; lower ones are ignored.
#pragma once

#include "module/ngx_includes.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "identity/users_file.hpp"
#include "session/session_record.hpp"

namespace sso::ngx {

struct LdapDirectoryConf;
struct ImportJob;
struct MainConf;
class MetadataSource;

enum class SourceKind { saml, ldap, users };

struct SourceConf {
    std::string name;
    SourceKind kind = SourceKind::saml;
    std::string target;        // saml: the IdP's entityID; ldap: the sso_ldap_directory; users: the file
    std::size_t priority = 0;  // 1 = highest
    std::string conf_file;     // where the line is, for nginx -t messages found after parsing
    ngx_uint_t conf_line = 0;
    // ldap
    const LdapDirectoryConf* ldap = nullptr;
    time_t import_interval = 0;  // 0: never imported (no "Sync now" either)
    unsigned max_drop_percent = 10;
    bool end_removed_sessions = true;
    ImportJob* running = nullptr;  // this worker's import in flight
    // users
    std::unique_ptr<UsersFile> users;
    std::int64_t loaded_at = 0;

    bool imported() const noexcept { return kind == SourceKind::ldap && import_interval > 0; }

    SourceConf() = default;
    SourceConf(const SourceConf&) = delete;
    SourceConf& operator=(const SourceConf&) = delete;
    ~SourceConf();  // an import still in a thread forgets it (see ImportJob)
};

struct Sources {
    std::vector<std::unique_ptr<SourceConf>> list;  // priority order
    std::vector<std::string> imported_names;        // the directory zone's slots
    ngx_shm_zone_t* zone = nullptr;                 // the user directory (null: nothing imported)

    SourceConf* find(std::string_view name) const noexcept;
    // The index of the source a sign-in came through, or list.size() for a sign-in through an
    // IdP or directory that is not listed (below every listed source).
    std::size_t rank_of(SourceKind kind, std::string_view target) const noexcept;
};

// The IdP metadata (of some server) that has `entity_id`, or null.
const MetadataSource* idp_metadata_source(const MainConf* mcf, std::string_view entity_id) noexcept;

char* sources_block(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;  // sso_sources
// After every server merged: each saml line must name an IdP some server has metadata for.
ngx_int_t check_saml_sources(ngx_conf_t* cf) noexcept;

// Applies the priority rule to a fresh sign-in's identity (before it is stored): `record` came
// through the `kind` source named by `target` (an entityID, a directory name, a users source
// name). Sets record.source. Logs at info when a higher source supplied the identity.
void apply_sources(ngx_http_request_t* r, SessionRecord& record, SourceKind kind, std::string_view target) noexcept;

// True when the session's identity came from an imported directory that no longer has the
// user, and that source ends such sessions.
bool removed_from_source(ngx_http_request_t* r, const SessionView& session) noexcept;

// Every worker: the timer that runs due imports (one worker at a time per source).
void start_imports(ngx_cycle_t* cycle) noexcept;
// "Sync now". The answer for the client: 202 started, 409 already running, 404 no such
// imported source.
ngx_uint_t sync_now(ngx_http_request_t* r, std::string_view source, std::string& message) noexcept;

}  // namespace sso::ngx
