#include "module/sources.hpp"

#include <algorithm>
#include <ctime>

#include "identity/directory_identity.hpp"
#include "identity/header_value.hpp"
#include "identity/user_directory.hpp"
#include "module/conf_util.hpp"
#include "module/metadata_source.hpp"
#include "module/sso_conf.hpp"
#include "module/user_directory_zone.hpp"

namespace sso::ngx {

// One import: the thread reads `directory` and writes the rest. Heap-allocated: a worker that
// exits with an import in flight leaves it to the thread (nginx waits for its threads before it
// frees the configuration), and the shared slot is freed by the next worker that finds the
// exited process (DirectoryZone::claim).
struct ImportJob {
    ngx_thread_task_t task{};
    SourceConf* source = nullptr;  // null: the worker's configuration went away
    ngx_shm_zone_t* zone = nullptr;
    const ldap::Directory* directory = nullptr;
    std::string name;
    std::int64_t started = 0;
    std::optional<UserSnapshot> snapshot;
    std::string error, summary;
};

namespace {

constexpr std::size_t kMaxSources = 32;
constexpr time_t kRetryAfterFailure = 60;

bool valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 63) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

const char* kind_name(SourceKind k) noexcept {
    switch (k) {
        case SourceKind::saml:
            return "saml";
        case SourceKind::ldap:
            return "ldap";
        case SourceKind::users:
            return "users";
    }
    return "?";
}

// "key=value" parameters after a source's target.
char* parse_parameter(ngx_conf_t* cf, SourceConf& s, std::string_view arg) {
    const std::string where = "\"sso_sources\": source " + in_quotes(s.name) + ": ";
    const std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos) return conf_error(cf, where + "unexpected " + in_quotes(arg));
    const std::string_view key = arg.substr(0, eq), value = arg.substr(eq + 1);
    if (s.kind != SourceKind::ldap) return conf_error(cf, where + in_quotes(key) + " applies to ldap sources only");
    if (key == "import") {
        if (value == "off") {
            s.import_interval = 0;
            return NGX_CONF_OK;
        }
        ngx_str_t v{value.size(), reinterpret_cast<u_char*>(const_cast<char*>(value.data()))};
        const time_t t = ngx_parse_time(&v, 1);
        if (t == static_cast<time_t>(NGX_ERROR) || t < 10)
            return conf_error(cf, where + "import=" + std::string(value) + " is not off or a time of at least 10s");
        s.import_interval = t;
    } else if (key == "max_drop") {
        std::string_view digits = value;
        if (!digits.empty() && digits.back() == '%') digits.remove_suffix(1);
        unsigned percent = 0;
        bool ok = !digits.empty() && digits.size() <= 3;
        for (char c : digits) {
            if (c < '0' || c > '9') ok = false;
            percent = percent * 10 + static_cast<unsigned>(c - '0');
        }
        if (!ok || percent > 100)
            return conf_error(cf, where + "max_drop=" + std::string(value) + " is not a percentage from 0% to 100%");
        s.max_drop_percent = percent;
    } else if (key == "removed_users") {
        if (value != "end" && value != "keep")
            return conf_error(cf, where + "removed_users=" + std::string(value) + " is not end or keep");
        s.end_removed_sessions = value == "end";
    } else {
        return conf_error(cf, where + "unknown parameter " + in_quotes(key));
    }
    return NGX_CONF_OK;
}

char* source_line(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* sources = reinterpret_cast<Sources*>(conf);
    try {
        auto* args = static_cast<ngx_str_t*>(cf->args->elts);
        const ngx_uint_t n = cf->args->nelts;
        auto mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
        const std::string name = str(args[0]);
        if (!valid_name(name))
            return conf_error(cf, "\"sso_sources\": " + in_quotes(name) +
                                      " is not a source name (1 to 63 letters, digits, '-', '_' or '.')");
        if (sources->find(name)) return conf_error(cf, "\"sso_sources\": source " + in_quotes(name) + " is duplicate");
        if (sources->list.size() == kMaxSources)
            return conf_error(cf, "\"sso_sources\": more than " + std::to_string(kMaxSources) + " sources");
        if (n < 2)
            return conf_error(cf, "\"sso_sources\": source " + in_quotes(name) + " needs a type: saml, ldap or users");
        auto s = std::make_unique<SourceConf>();
        s->name = name;
        s->priority = sources->list.size() + 1;
        s->conf_file = str(cf->conf_file->file.name);
        s->conf_line = cf->conf_file->line;
        const std::string_view type = sv(args[1]);
        const std::string where = "\"sso_sources\": source " + in_quotes(name) + ": ";
        ngx_uint_t next = 2;
        if (type == "saml") {
            s->kind = SourceKind::saml;
            if (n < 3) return conf_error(cf, where + "saml needs the IdP's entityID");
            s->target = str(args[2]);
            next = 3;
        } else if (type == "ldap") {
            s->kind = SourceKind::ldap;
            s->target = name;
            if (n >= 3 && sv(args[2]).find('=') == std::string_view::npos) s->target = str(args[next++]);
            s->ldap = mcf->ldap ? mcf->ldap->find(s->target) : nullptr;
            if (!s->ldap)
                return conf_error(cf,
                                  where + "no sso_ldap_directory named " + in_quotes(s->target) + " above this line");
        } else if (type == "users") {
            s->kind = SourceKind::users;
            if (n < 3) return conf_error(cf, where + "users needs the users file");
            ngx_str_t path = args[2];
            if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
            s->target = str(path);
            next = 3;
            auto loaded = UsersFile::load(s->target);
            if (auto* e = std::get_if<UsersFileError>(&loaded)) {
                return conf_error(cf, where + "users file " + in_quotes(s->target) +
                                          (e->line ? ", line " + std::to_string(e->line) : std::string()) + ": " +
                                          e->message);
            }
            s->users = std::make_unique<UsersFile>(std::move(std::get<UsersFile>(loaded)));
            s->loaded_at = ngx_time();
        } else {
            return conf_error(cf, where + "unknown type " + in_quotes(type) + " (saml, ldap or users)");
        }
        for (const auto& other : sources->list)
            if (other->kind == s->kind && other->target == s->target)
                return conf_error(cf,
                                  where + "the same " + kind_name(s->kind) + " source as " + in_quotes(other->name));
        for (; next < n; ++next)
            if (char* rc = parse_parameter(cf, *s, sv(args[next])); rc != NGX_CONF_OK) return rc;
        if (s->imported()) sources->imported_names.push_back(s->name);
        sources->list.push_back(std::move(s));
        return NGX_CONF_OK;
    } catch (...) {
        return static_cast<char*>(NGX_CONF_ERROR);
    }
}

// `winner` supplies the whole identity; the sign-in keeps what logout needs (NameID, IdP, ...).
void adopt_identity(SessionRecord& record, SessionRecord&& winner) {
    record.user = std::move(winner.user);
    record.email = std::move(winner.email);
    record.display_name = std::move(winner.display_name);
    record.groups = std::move(winner.groups);
    record.attributes = std::move(winner.attributes);
    record.source = std::move(winner.source);
}

// The identity `source` holds for `email`, when it has one.
std::optional<SessionRecord> identity_in(ngx_http_request_t* r, const Sources& sources, const SourceConf& source,
                                         std::string_view email) {
    if (source.kind == SourceKind::users) {
        if (const InternalUser* u = source.users->by_email(email)) return identity_from_internal(*u, source.name);
        return std::nullopt;
    }
    if (!source.imported() || !sources.zone) return std::nullopt;
    bool found = false;
    const ngx_str_t copy = DirectoryZone::copy_user(sources.zone, source.name, email, r->pool, found);
    if (!found || !copy.data) return std::nullopt;
    return decode_session(sv(copy));
}

// The user-directory key of an e-mail as records store it. Every record's e-mail was normalised
// when it was made, then made header-safe, which changed only addresses with a '%': the common
// case is the stored bytes themselves, with no allocation (this runs on requests with a session).
std::string_view lookup_key(std::string_view stored, std::string& buffer) {
    if (stored.find('%') == std::string_view::npos) return stored;
    buffer = decode_header_value(stored);
    return buffer;
}

// --- imports ---------------------------------------------------------------------------------

void run_import(void* data, ngx_log_t*) noexcept {
    auto* job = static_cast<ImportJob*>(data);
    try {
        ldap::ImportResult result = job->directory->import_users();
        if (!result.ok) {
            job->error = result.reason;
            return;
        }
        std::vector<SessionRecord> records;
        records.reserve(result.users.size());
        for (const auto& u : result.users) {
            records.push_back(identity_from_directory(u, job->name));
            records.back().source = job->name;
        }
        job->snapshot = make_user_snapshot(std::move(records));
        if (!job->snapshot) {
            job->error =
                "cannot build the snapshot of " + std::to_string(result.users.size()) + " users (out of memory)";
            return;
        }
        job->summary = result.reason;
    } catch (...) {
        job->snapshot.reset();
        job->error = "import failed: out of memory";
    }
}

void import_done(ngx_event_t* ev) noexcept;

// The claimed import could not be handed to a thread: the claim ends as a failure, retried soon.
void not_started(ngx_log_t* log, Sources& sources, const SourceConf& s, const char* why) noexcept {
    try {
        DirectoryZone::Publish p;
        p.error = std::string("import not started: ") + why;
        p.now = ngx_time();
        p.next_due = p.now + kRetryAfterFailure;
        std::string message;
        DirectoryZone::publish(sources.zone, s.name, p, message);
    } catch (...) {
        // publish() could not run: the claim stays until this worker exits (DirectoryZone::claim)
    }
    ngx_log_error(NGX_LOG_ERR, log, 0, "sso: import of source \"%s\" not started: %s", s.name.c_str(), why);
}

void post_import(ngx_log_t* log, ngx_thread_pool_t* pool, Sources& sources, SourceConf& s) noexcept {
    ImportJob* job = nullptr;
    try {
        job = new ImportJob;
        job->source = &s;
        job->zone = sources.zone;
        job->directory = s.ldap->directory.get();
        job->name = s.name;
        job->started = ngx_time();
    } catch (...) {
        delete job;
        not_started(log, sources, s, "out of memory");
        return;
    }
    job->task.ctx = job;
    job->task.handler = run_import;
    job->task.event.handler = import_done;
    job->task.event.data = job;
    job->task.event.log = log;
    if (ngx_thread_task_post(pool, &job->task) != NGX_OK) {
        delete job;
        not_started(log, sources, s, "the thread pool queue is full");
        return;
    }
    ngx_log_error(NGX_LOG_INFO, log, 0, "sso: import of source \"%s\" started", s.name.c_str());
    s.running = job;
}

void import_done(ngx_event_t* ev) noexcept {
    auto* job = static_cast<ImportJob*>(ev->data);
    SourceConf* s = job->source;
    if (s) {
        s->running = nullptr;
        DirectoryZone::Publish p;
        p.snapshot = job->snapshot ? &*job->snapshot : nullptr;
        p.error = job->error;
        p.started = job->started;
        p.now = ngx_time();
        p.max_drop_percent = s->max_drop_percent;
        p.next_due = p.now + (p.snapshot ? s->import_interval : std::min(s->import_interval, kRetryAfterFailure));
        std::string message;
        const ImportOutcome outcome = DirectoryZone::publish(job->zone, s->name, p, message);
        if (outcome == ImportOutcome::ok) {
            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0, "sso: import of source \"%s\": %s (%s)", s->name.c_str(),
                          message.c_str(), job->summary.c_str());
        } else {
            ngx_log_error(NGX_LOG_ERR, ev->log, 0, "sso: import of source \"%s\" %s: %s", s->name.c_str(),
                          outcome == ImportOutcome::refused ? "refused" : "failed", message.c_str());
        }
    }
    delete job;
}

struct ImportTimer {
    ngx_event_t ev{};
    Sources* sources = nullptr;
    ngx_thread_pool_t* pool = nullptr;
};
ImportTimer g_import_timer;  // one per worker process

void run_due_imports(Sources& sources, ngx_thread_pool_t* pool, ngx_log_t* log) noexcept {
    const std::int64_t now = ngx_time();
    for (auto& s : sources.list) {
        if (!s->imported() || s->running) continue;
        if (DirectoryZone::claim(sources.zone, s->name, now)) post_import(log, pool, sources, *s);
    }
}

void on_import_timer(ngx_event_t* ev) noexcept {
    if (ngx_exiting || ngx_terminate || ngx_quit) return;
    run_due_imports(*g_import_timer.sources, g_import_timer.pool, ev->log);
    ngx_add_timer(ev, 1000);
}

}  // namespace

SourceConf::~SourceConf() {
    if (running) running->source = nullptr;
}

SourceConf* Sources::find(std::string_view name) const noexcept {
    for (const auto& s : list)
        if (s->name == name) return s.get();
    return nullptr;
}

const MetadataSource* idp_metadata_source(const MainConf* mcf, std::string_view entity_id) noexcept {
    if (!mcf->metadata_sources) return nullptr;
    auto** list = static_cast<MetadataSource**>(mcf->metadata_sources->elts);
    for (ngx_uint_t i = 0; i < mcf->metadata_sources->nelts; ++i) {
        const ServiceProvider* sp = list[i]->runtime()->sp.get();
        if (sp && sp->knows_idp(entity_id)) return list[i];
    }
    return nullptr;
}

std::size_t Sources::rank_of(SourceKind kind, std::string_view target) const noexcept {
    for (std::size_t i = 0; i < list.size(); ++i) {
        const SourceConf& s = *list[i];
        if (s.kind != kind) continue;
        if (kind == SourceKind::users ? s.name == target : s.target == target) return i;
    }
    return list.size();
}

char* sources_block(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* mcf = static_cast<MainConf*>(conf);
    if (mcf->sources) return const_cast<char*>("is duplicate");
    mcf->sources = pool_new<Sources>(cf->pool);
    if (!mcf->sources) return static_cast<char*>(NGX_CONF_ERROR);
    ngx_conf_t saved = *cf;
    cf->handler = source_line;
    cf->handler_conf = reinterpret_cast<char*>(mcf->sources);
    char* rv = ngx_conf_parse(cf, nullptr);
    *cf = saved;
    if (rv != NGX_CONF_OK) return rv;
    if (mcf->sources->list.empty()) return conf_error(cf, "\"sso_sources\": no source listed");
    return NGX_CONF_OK;
}

ngx_int_t check_saml_sources(ngx_conf_t* cf) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_sso_module));
    if (!mcf->sources) return NGX_OK;
    for (const auto& s : mcf->sources->list) {
        if (s->kind != SourceKind::saml) continue;
        if (!idp_metadata_source(mcf, s->target)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"sso_sources\": source \"%s\": no server's IdP metadata has the entityID \"%s\" in %s:%ui",
                          s->name.c_str(), s->target.c_str(), s->conf_file.c_str(), s->conf_line);
            return NGX_ERROR;
        }
    }
    return NGX_OK;
}

void apply_sources(ngx_http_request_t* r, SessionRecord& record, SourceKind kind, std::string_view target) noexcept {
    const Sources* sources = main_conf(r)->sources;
    if (!sources) return;
    try {
        const std::size_t rank = sources->rank_of(kind, target);
        record.source = rank < sources->list.size() ? sources->list[rank]->name : std::string();
        std::string buffer;
        const std::string_view email = lookup_key(record.email, buffer);
        if (email.empty()) return;  // no usable e-mail: nothing to merge by
        for (std::size_t i = 0; i < rank; ++i) {
            const SourceConf& s = *sources->list[i];
            auto winner = identity_in(r, *sources, s, email);
            if (!winner) continue;
            log_reason(r, NGX_LOG_INFO,
                       "identity of " + std::string(email) + " from source \"" + s.name + "\" (priority " +
                           std::to_string(s.priority) + "), above the sign-in's source \"" +
                           (record.source.empty() ? std::string(target) : record.source) + "\"");
            adopt_identity(record, std::move(*winner));
            return;
        }
    } catch (...) {
        // Out of memory: the sign-in keeps its own identity.
    }
}

bool removed_from_source(ngx_http_request_t* r, const SessionView& session) noexcept {
    if (session.source.empty()) return false;
    const Sources* sources = main_conf(r)->sources;
    const SourceConf* s = sources ? sources->find(session.source) : nullptr;
    if (!s || !s->imported() || !s->end_removed_sessions || !sources->zone) return false;
    try {
        std::string buffer;
        const std::string_view email = lookup_key(session.email, buffer);
        return !email.empty() && DirectoryZone::presence(sources->zone, s->name, email) == Presence::absent;
    } catch (...) {
        return false;
    }
}

void start_imports(ngx_cycle_t* cycle) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_sso_module));
    if (!mcf || !mcf->sources || !mcf->sources->zone) return;
    g_import_timer.sources = mcf->sources;
    g_import_timer.pool = mcf->thread_pool;
    g_import_timer.ev.handler = on_import_timer;
    g_import_timer.ev.log = cycle->log;
    g_import_timer.ev.data = &g_import_timer;
    g_import_timer.ev.cancelable = 1;
    // At once: a source never imported (or due while nginx was down) imports at start.
    ngx_add_timer(&g_import_timer.ev, 1);
}

ngx_uint_t sync_now(ngx_http_request_t* r, std::string_view name, std::string& message) noexcept {
    MainConf* mcf = main_conf(r);
    Sources* sources = mcf->sources;
    SourceConf* s = sources ? sources->find(name) : nullptr;
    try {
        if (!s || !s->imported() || !sources->zone) {
            message = "no imported source named \"" + std::string(name) + "\"";
            return NGX_HTTP_NOT_FOUND;
        }
        if (!DirectoryZone::request_sync(sources->zone, s->name)) {
            message = "an import of source \"" + s->name + "\" is already running";
            return NGX_HTTP_CONFLICT;
        }
        // The cycle's log: the import outlives this request and its connection's log.
        run_due_imports(*sources, mcf->thread_pool, ngx_cycle->log);
        message = "import of source \"" + s->name + "\" started";
        log_reason(r, NGX_LOG_NOTICE, "sync now: " + message);
        return NGX_HTTP_ACCEPTED;
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace sso::ngx
