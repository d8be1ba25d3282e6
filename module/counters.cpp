#include "module/counters.hpp"

#include "module/sources.hpp"
#include "module/user_directory_zone.hpp"

#include <string>

#include "module/http_util.hpp"
#include "module/metadata_source.hpp"
#include "module/shm_store.hpp"
#include "module/sso_conf.hpp"
#include "saml/build_info.hpp"

namespace sso::ngx {
namespace {

constexpr unsigned kCount = static_cast<unsigned>(Counter::count_);

struct Shared {
    ngx_atomic_t values[kCount];
};

Shared* shared_of(ngx_shm_zone_t* zone) noexcept {
    return zone ? static_cast<Shared*>(zone->data) : nullptr;
}

// One Prometheus metric family: its HELP and TYPE lines, then one sample per label value.
struct Sample {
    const char* labels;  // "" or `method="saml"`
    Counter counter;
};

void family(std::string& out, const char* name, const char* help, std::initializer_list<Sample> samples,
            const CounterValues& v) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" counter\n");
    for (const Sample& s : samples) {
        out.append(name);
        if (*s.labels) out.append("{").append(s.labels).append("}");
        out.append(" ").append(std::to_string(v[s.counter])).append("\n");
    }
}

void gauge(std::string& out, const char* name, const char* help, ngx_uint_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" gauge\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

// Per imported source: its users and whether its last import worked, so an alert can fire on a
// directory that stopped syncing.
void source_gauges(std::string& out, const MainConf* mcf) {
    if (!mcf->sources || !mcf->sources->zone) return;
    std::string users, ok, success;
    for (const auto& s : mcf->sources->list) {
        if (!s->imported()) continue;
        auto st = DirectoryZone::state(mcf->sources->zone, s->name);
        if (!st) continue;
        const std::string label = "{source=\"" + s->name + "\"} ";
        users += "sso_source_users" + label + std::to_string(st->users) + "\n";
        ok += "sso_source_import_ok" + label + (st->last_outcome == ImportOutcome::ok ? "1" : "0") + "\n";
        success += "sso_source_last_success_timestamp_seconds" + label + std::to_string(st->last_success) + "\n";
    }
    if (users.empty()) return;
    out +=
        "# HELP sso_source_users Users of the imported source's last successful import.\n"
        "# TYPE sso_source_users gauge\n" +
        users;
    out +=
        "# HELP sso_source_import_ok 1 when the source's last import succeeded, 0 otherwise.\n"
        "# TYPE sso_source_import_ok gauge\n" +
        ok;
    out +=
        "# HELP sso_source_last_success_timestamp_seconds When the source was last imported (0: never).\n"
        "# TYPE sso_source_last_success_timestamp_seconds gauge\n" +
        success;
}

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label_value(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// Seconds until each certificate of each server expires (negative once it has), so that an
// alert fires well before an IdP's signing certificate, or ours, stops sign-ins.
void certificate_gauges(std::string& out, const MainConf* mcf) {
    if (!mcf->metadata_sources) return;
    const std::int64_t now = ngx_time();
    std::string samples;
    auto* const* list = static_cast<MetadataSource* const*>(mcf->metadata_sources->elts);
    for (ngx_uint_t i = 0; i < mcf->metadata_sources->nelts; ++i) {
        const ServiceProvider* sp = list[i]->runtime()->sp.get();
        if (!sp) continue;
        for (const CertificateExpiry& c : sp->certificates())
            samples += "sso_certificate_expiry_seconds{server=\"" + label_value(sp->entity_id()) + "\",idp=\"" +
                       label_value(c.idp) + "\",use=\"" + c.use + "\",subject=\"" + label_value(c.subject) +
                       "\",serial=\"" + c.serial + "\"} " + std::to_string(c.not_after - now) + "\n";
    }
    if (samples.empty()) return;
    out +=
        "# HELP sso_certificate_expiry_seconds Seconds until the certificate expires (negative: expired); idp is "
        "empty for our own.\n"
        "# TYPE sso_certificate_expiry_seconds gauge\n" +
        samples;
}

// The Prometheus "info" convention: a constant 1 whose labels say what is running.
void build_info_gauge(std::string& out) {
    const BuildInfo& b = build_info();
    out +=
        "# HELP sso_build_info The module's version and the library versions it runs on.\n"
        "# TYPE sso_build_info gauge\n"
        "sso_build_info{version=\"" +
        label_value(b.version) + "\",lasso=\"" + label_value(b.lasso) + "\",xmlsec1=\"" + label_value(b.xmlsec) +
        "\",libxml2=\"" + label_value(b.libxml2) + "\",openssl=\"" + label_value(b.openssl) + "\"} 1\n";
}

std::string prometheus_text(const MainConf* mcf) {
    const CounterValues v = read_counters(mcf->counters_zone);
    std::string out;
    build_info_gauge(out);
    family(out, "sso_logins_total", "Sign-ins that created a session or passed a directory check, by method.",
           {{"method=\"saml\"", Counter::login_saml},
            {"method=\"ldap_form\"", Counter::login_ldap_form},
            {"method=\"ldap_basic\"", Counter::login_ldap_basic}},
           v);
    family(out, "sso_login_failures_total", "Sign-ins refused or not completed, by reason.",
           {{"reason=\"saml_response\"", Counter::refused_saml},
            {"reason=\"replay\"", Counter::refused_replay},
            {"reason=\"ldap_credentials\"", Counter::refused_ldap},
            {"reason=\"directory_unavailable\"", Counter::directory_down},
            {"reason=\"store_unavailable\"", Counter::store_unavailable}},
           v);
    family(out, "sso_access_denied_total", "Signed-in requests refused by sso_require.", {{"", Counter::access_denied}},
           v);
    family(out, "sso_logouts_total", "Sessions ended by the logout endpoint.", {{"", Counter::logout}}, v);
    if (!mcf->redis_store) {  // with Redis the shared-memory tables hold nothing of interest
        const ZoneStats sessions = mcf->shm->stats(Table::sessions);
        const ZoneStats replay = mcf->shm->stats(Table::seen_assertions);
        gauge(out, "sso_sessions", "Sessions in the shared-memory zone (live and not yet purged).",
              sessions.entries[static_cast<int>(Table::sessions)]);
        gauge(out, "sso_pending_requests", "LogoutRequests sent and not yet answered (AuthnRequests are not stored).",
              sessions.entries[static_cast<int>(Table::pending_requests)]);
        gauge(out, "sso_seen_assertions", "Assertion IDs held by the replay cache.",
              replay.entries[static_cast<int>(Table::seen_assertions)]);
    }
    source_gauges(out, mcf);
    certificate_gauges(out, mcf);
    return out;
}

}  // namespace

ngx_int_t init_counters_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    bool fresh = false;  // a reload keeps counting from where the previous configuration was
    return zone_shared_block(zone, data, sizeof(Shared), fresh) ? NGX_OK : NGX_ERROR;
}

void count(ngx_http_request_t* r, Counter c) noexcept {
    if (Shared* sh = shared_of(main_conf(r)->counters_zone))
        (void)ngx_atomic_fetch_add(&sh->values[static_cast<unsigned>(c)], 1);
}

CounterValues read_counters(ngx_shm_zone_t* zone) noexcept {
    CounterValues out;
    if (Shared* sh = shared_of(zone))
        for (unsigned i = 0; i < kCount; ++i) out.v[i] = sh->values[i];
    return out;
}

ngx_int_t metrics_handler(ngx_http_request_t* r) noexcept {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return not_allowed(r, "GET, HEAD");
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    try {
        return send_body(r, NGX_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(main_conf(r)));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace sso::ngx
