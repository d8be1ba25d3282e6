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
#include "module/sso_conf.hpp"
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
    json_object_set_new(o, "expired", json_boolean(m.expired));
    if (m.origin == "url") {
        json_object_set_new(o, "cache_file", text(m.cache_file));
        json_object_set_new(o, "last_fetch", time_or_null(m.last_fetch));
        json_object_set_new(o, "last_fetch_result", text(m.last_fetch_result));
        json_object_set_new(o, "last_success", time_or_null(m.last_success));
        json_object_set_new(o, "next_refresh", time_or_null(m.next_refresh));
    }
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

std::string status_json(const MainConf* mcf) {
    const ShmStore* store = mcf->shm;
    JsonPtr root(json_object());
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
                                                            {"slo_index", Table::slo_index}}),
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
    std::unique_ptr<char, decltype(&free)> dumped(json_dumps(root.get(), JSON_COMPACT), &free);
    if (!dumped) throw std::bad_alloc();
    return std::string(dumped.get()) + "\n";
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    try {
        return send_body(r, NGX_HTTP_OK, "application/json", status_json(main_conf(r)));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace sso::ngx
