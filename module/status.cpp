// `sso_status`: which store holds the sessions, what the shared-memory zones hold and where each
// server's IdP metadata came from, as JSON (built with jansson), for monitoring and the benchmarks.
#include <jansson.h>

#include <memory>
#include <string>

#include "module/counters.hpp"
#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "module/metadata_source.hpp"
#include "module/redis_store.hpp"
#include "module/shm_store.hpp"
#include "module/sources.hpp"
#include "module/sso_conf.hpp"
#include "module/user_directory_zone.hpp"
#include "saml/build_info.hpp"
#include "saml/saml_time.hpp"

namespace sso::ngx {
namespace {

struct JsonFree {
    void operator()(json_t* j) const noexcept { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonFree>;

// jansson takes UTF-8 only; a reason quoting foreign bytes keeps its ASCII.
json_t* text(std::string_view s) {
    if (json_t* j = json_stringn(s.data(), s.size())) return j;
    std::string ascii(s);
    for (char& c : ascii)
        if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    return json_stringn(ascii.data(), ascii.size());
}

json_t* time_or_null(std::int64_t t) {
    return t ? text(format_saml_time(t)) : json_null();
}

json_t* zone_json(const ZoneStats& z, std::initializer_list<std::pair<const char*, Table>> tables) {
    json_t* entries = json_object();
    for (const auto& [name, table] : tables)
        json_object_set_new(entries, name, json_integer(static_cast<json_int_t>(z.entries[static_cast<int>(table)])));
    return json_pack("{s:o, s:I, s:I, s:o}", "name", text(sv(z.name)), "size", static_cast<json_int_t>(z.size),
                     "used_bytes", static_cast<json_int_t>(z.used_bytes), "entries", entries);
}

json_t* metadata_json(const MetadataSource& source) {
    const MetadataStatus& m = source.status();
    json_t* o = json_object();
    json_object_set_new(o, "entity_id", text(m.entity_id));
    // Every IdP in use (an aggregate has several; none while expired metadata keeps SAML off).
    json_t* idps = json_array();
    if (const ServiceProvider* sp = source.runtime()->sp.get())
        for (const IdpSummary& idp : sp->idps()) json_array_append_new(idps, text(idp.entity_id));
    json_object_set_new(o, "idps", idps);
    json_object_set_new(o, "origin", text(m.origin));
    json_object_set_new(o, "location", text(m.location));
    json_object_set_new(o, "loaded_from", text(m.loaded_from));
    json_object_set_new(o, "loaded_at", time_or_null(m.loaded_at));
    json_object_set_new(o, "valid_until", m.valid_until ? time_or_null(*m.valid_until) : json_null());
    json_object_set_new(o, "signature_verified", json_boolean(m.signature_verified));
    json_object_set_new(o, "signer", m.signer.empty() ? json_null() : text(m.signer));
    json_object_set_new(o, "expired", json_boolean(m.expired));
    // Ours and the IdPs', read when the metadata loaded (none while expired metadata keeps SAML off).
    json_t* certificates = json_array();
    if (const ServiceProvider* sp = source.runtime()->sp.get())
        for (const CertificateExpiry& c : sp->certificates())
            json_array_append_new(
                certificates, json_pack("{s:o, s:o, s:o, s:o, s:o}", "idp", c.idp.empty() ? json_null() : text(c.idp),
                                        "use", text(c.use), "subject", text(c.subject), "serial", text(c.serial),
                                        "not_after", time_or_null(c.not_after)));
    json_object_set_new(o, "certificates", certificates);
    if (m.origin == "url") {
        json_object_set_new(o, "cache_file", text(m.cache_file));
        json_object_set_new(o, "last_fetch", time_or_null(m.last_fetch));
        json_object_set_new(o, "last_fetch_result", text(m.last_fetch_result));
        json_object_set_new(o, "last_success", time_or_null(m.last_success));
        json_object_set_new(o, "confirmed_at", time_or_null(m.confirmed_at));
        json_object_set_new(o, "next_refresh", time_or_null(m.next_refresh));
    }
    return o;
}

const char* outcome_name(ImportOutcome o) {
    switch (o) {
        case ImportOutcome::ok:
            return "ok";
        case ImportOutcome::failed:
            return "failed";
        case ImportOutcome::refused:
            return "refused";
        case ImportOutcome::none:
            break;
    }
    return "never";
}

json_t* string_or_null(std::string_view s) {
    return s.empty() ? json_null() : text(s);
}

// What every source reports the same way, whatever its type.
struct SourceOutcome {
    std::optional<std::size_t> users;  // null: not known (IdPs; before the first import)
    std::int64_t last_import = 0;
    std::string result = "never";
    std::string error;
};

json_t* import_json(const SourceConf& s, const ImportState& st, std::string_view base) {
    std::string sync_url(base);
    if (sync_url.empty() || sync_url.back() != '/') sync_url += '/';
    sync_url += "sources/" + s.name + "/sync";
    auto count = [](std::uint64_t n) { return json_integer(static_cast<json_int_t>(n)); };
    json_t* o = json_object();
    json_object_set_new(o, "interval", count(static_cast<std::uint64_t>(s.import_interval)));
    json_object_set_new(o, "running", json_boolean(st.running));
    json_object_set_new(o, "last_start", time_or_null(st.last_start));
    json_object_set_new(o, "last_success", time_or_null(st.last_success));
    json_object_set_new(o, "next", time_or_null(st.next_due));
    json_object_set_new(o, "imports", count(st.imports));
    json_object_set_new(o, "attempts", count(st.attempts));
    json_object_set_new(o, "skipped_without_email", count(st.no_email));
    json_object_set_new(o, "skipped_duplicate_email", count(st.duplicates));
    json_object_set_new(o, "max_drop_percent", count(s.max_drop_percent));
    json_object_set_new(o, "removed_users", text(s.end_removed_sessions ? "end" : "keep"));
    json_object_set_new(o, "sync_url", text(sync_url));
    return o;
}

// One source, as docs/status-schema.json describes it. `base` is the status location, for the
// "Sync now" URL.
json_t* source_json(const MainConf* mcf, const SourceConf& s, std::string_view base) {
    json_t* o = json_object();
    json_object_set_new(o, "name", text(s.name));
    json_object_set_new(o, "priority", json_integer(static_cast<json_int_t>(s.priority)));
    SourceOutcome out;
    json_t* authorised = json_object();
    switch (s.kind) {
        case SourceKind::saml: {
            json_object_set_new(o, "type", text("saml"));
            const MetadataSource* m = idp_metadata_source(mcf, s.target);
            json_object_set_new(authorised, "entity_id", text(s.target));
            json_object_set_new(authorised, "metadata_signer", m ? string_or_null(m->status().signer) : json_null());
            json_object_set_new(o, "metadata", m ? metadata_json(*m) : json_null());
            if (m) {
                const MetadataStatus& st = m->status();
                out.last_import = st.origin == "url" ? st.last_fetch : st.loaded_at;
                const bool failed = st.expired || (st.origin == "url" && st.last_fetch_result != "ok" &&
                                                   st.last_fetch_result != "unchanged");
                out.result = failed ? "failed" : "ok";
                if (failed) out.error = st.expired ? "metadata expired" : st.last_fetch_result;
            }
            break;
        }
        case SourceKind::ldap: {
            json_object_set_new(o, "type", text("ldap"));
            const ldap::DirectorySettings& d = s.ldap->directory->settings();
            json_object_set_new(authorised, "bind_dn", string_or_null(d.bind_dn));
            json_t* urls = json_array();
            for (const auto& u : d.urls) json_array_append_new(urls, text(u));
            json_object_set_new(
                o, "directory",
                json_pack("{s:s, s:o, s:o}", "name", s.ldap->name.c_str(), "urls", urls, "base_dn", text(d.base_dn)));
            auto st =
                s.imported() && mcf->sources->zone ? DirectoryZone::state(mcf->sources->zone, s.name) : std::nullopt;
            if (st) {
                if (st->imported) out.users = st->users;
                out.last_import = st->last_end;
                out.result = outcome_name(st->last_outcome);
                out.error = st->last_error;
            } else {
                out.result = "not imported";
            }
            json_object_set_new(o, "import", st ? import_json(s, *st, base) : json_null());
            break;
        }
        case SourceKind::users: {
            json_object_set_new(o, "type", text("users"));
            json_object_set_new(authorised, "file", text(s.target));
            out.users = s.users->users().size();
            out.last_import = s.loaded_at;
            out.result = "ok";
            break;
        }
    }
    json_object_set_new(o, "authorised_by", authorised);
    json_object_set_new(o, "users", out.users ? json_integer(static_cast<json_int_t>(*out.users)) : json_null());
    json_object_set_new(o, "last_import", time_or_null(out.last_import));
    json_object_set_new(o, "last_result", text(out.result));
    json_object_set_new(o, "last_error", string_or_null(out.error));
    return o;
}

// Which store holds the sessions and, for Redis, this worker's connection to it.
json_t* store_json(const MainConf* mcf) {
    const RedisStore* redis = mcf->redis_store;
    if (!redis) return json_pack("{s:s}", "kind", "shm");
    return json_pack("{s:s, s:o, s:o, s:o, s:I}", "kind", "redis", "address", text(redis->options().display), "state",
                     text(redis->state()), "last_error", text(redis->last_error()), "cached_sessions",
                     static_cast<json_int_t>(redis->cached_sessions()));
}

std::string status_json(const MainConf* mcf, std::string_view base) {
    const ShmStore* store = mcf->shm;
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "version", text(build_info().version));
    json_object_set_new(root.get(), "store", store_json(mcf));
    const CounterValues v = read_counters(mcf->counters_zone);
    auto n = [&](Counter c) { return json_integer(static_cast<json_int_t>(v[c])); };
    json_object_set_new(
        root.get(), "counters",
        json_pack("{s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o, s:o, s:o}, s:o, s:o}", "logins", "saml",
                  n(Counter::login_saml), "ldap_form", n(Counter::login_ldap_form), "ldap_basic",
                  n(Counter::login_ldap_basic), "failures", "saml_response", n(Counter::refused_saml), "replay",
                  n(Counter::refused_replay), "ldap_credentials", n(Counter::refused_ldap), "directory_unavailable",
                  n(Counter::directory_down), "store_unavailable", n(Counter::store_unavailable), "access_denied",
                  n(Counter::access_denied), "logouts", n(Counter::logout)));
    json_object_set_new(
        root.get(), "zones",
        json_pack("{s:o, s:o}", "sessions",
                  zone_json(store->stats(Table::sessions), {{"sessions", Table::sessions},
                                                            {"pending_requests", Table::pending_requests},
                                                            {"cached_credentials", Table::credentials},
                                                            {"slo_index", Table::slo_index},
                                                            {"slo_subjects", Table::slo_subjects}}),
                  "replay",
                  zone_json(store->stats(Table::seen_assertions), {{"seen_assertions", Table::seen_assertions}})));
    // As this worker sees it: every worker refreshes URL metadata on its own timer.
    json_t* sources = json_array();
    if (mcf->metadata_sources) {
        auto** list = static_cast<MetadataSource**>(mcf->metadata_sources->elts);
        for (ngx_uint_t i = 0; i < mcf->metadata_sources->nelts; ++i)
            json_array_append_new(sources, metadata_json(*list[i]));
    }
    json_object_set_new(root.get(), "idp_metadata", sources);
    json_t* identity_sources = json_array();
    if (mcf->sources)
        for (const auto& s : mcf->sources->list) json_array_append_new(identity_sources, source_json(mcf, *s, base));
    json_object_set_new(root.get(), "sources", identity_sources);
    std::unique_ptr<char, decltype(&free)> dumped(json_dumps(root.get(), JSON_COMPACT), &free);
    if (!dumped) throw std::bad_alloc();
    return std::string(dumped.get()) + "\n";
}

// POST <status location>/sources/NAME/sync: "Sync now".
ngx_int_t sync_handler(ngx_http_request_t* r, std::string_view name) {
    if (!(r->method & NGX_HTTP_POST)) {
        if (!add_response_header(r, "Allow", "POST")) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_HTTP_NOT_ALLOWED;
    }
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    std::string message;
    const ngx_uint_t status = sync_now(r, name, message);
    if (status == NGX_HTTP_INTERNAL_SERVER_ERROR) return status;
    if (status != NGX_HTTP_ACCEPTED) log_reason(r, NGX_LOG_INFO, "sync now refused: " + message);
    JsonPtr body(json_pack("{s:o, s:s, s:o}", "source", text(name), "result",
                           status == NGX_HTTP_ACCEPTED   ? "started"
                           : status == NGX_HTTP_CONFLICT ? "running"
                                                         : "unknown",
                           "message", text(message)));
    std::unique_ptr<char, decltype(&free)> dumped(json_dumps(body.get(), JSON_COMPACT), &free);
    if (!dumped) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return send_body(r, status, "application/json", std::string(dumped.get()) + "\n");
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
    try {
        auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
        std::string_view base = sv(clcf->name);
        std::string_view rest = sv(r->uri);
        if (!clcf->regex && rest.substr(0, base.size()) == base) {
            rest.remove_prefix(base.size());
        } else {
            rest = {};
            base = sv(r->uri);
        }
        while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
        if (!rest.empty()) {
            constexpr std::string_view kPrefix = "sources/", kSuffix = "/sync";
            if (rest.size() > kPrefix.size() + kSuffix.size() && rest.substr(0, kPrefix.size()) == kPrefix &&
                rest.substr(rest.size() - kSuffix.size()) == kSuffix) {
                const std::string_view name =
                    rest.substr(kPrefix.size(), rest.size() - kPrefix.size() - kSuffix.size());
                if (name.find('/') == std::string_view::npos) return sync_handler(r, name);
            }
            return NGX_HTTP_NOT_FOUND;
        }
        if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return not_allowed(r, "GET, HEAD");
        if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        return send_body(r, NGX_HTTP_OK, "application/json", status_json(main_conf(r), base));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace sso::ngx
