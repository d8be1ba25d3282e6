// `sso_status`: what the shared-memory zones hold, as JSON, for monitoring and the benchmarks.
#include <string>

#include "module/handlers.hpp"
#include "module/http_util.hpp"
#include "module/redis_store.hpp"
#include "module/shm_store.hpp"
#include "module/sso_conf.hpp"

namespace sso::ngx {
namespace {

std::string zone_json(const ZoneStats& z, std::initializer_list<std::pair<const char*, Table>> tables) {
    std::string out = "{\"name\":\"" + std::string(sv(z.name)) + "\",\"size\":" + std::to_string(z.size) +
                      ",\"used_bytes\":" + std::to_string(z.used_bytes) + ",\"entries\":{";
    bool first = true;
    for (const auto& [name, table] : tables) {
        out += std::string(first ? "" : ",") + "\"" + name + "\":" + std::to_string(z.entries[static_cast<int>(table)]);
        first = false;
    }
    return out + "}}";
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += '?';
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Which store holds the sessions and, for Redis, this worker's connection to it.
std::string store_json(const MainConf* mcf) {
    const RedisStore* redis = mcf->redis_store;
    if (!redis) return "{\"kind\":\"shm\"}";
    return "{\"kind\":\"redis\",\"address\":" + json_string(redis->options().display) + ",\"state\":\"" +
           redis->state() + "\",\"last_error\":" + json_string(redis->last_error()) +
           ",\"cached_sessions\":" + std::to_string(redis->cached_sessions()) + "}";
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
    if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    try {
        // Zone names come from the configuration (letters, digits, '_' in practice); they are
        // written as they are.
        const ShmStore* store = main_conf(r)->shm;
        const std::string body =
            "{\"store\":" + store_json(main_conf(r)) + ",\"zones\":{\"sessions\":" +
            zone_json(store->stats(Table::sessions), {{"sessions", Table::sessions},
                                                      {"pending_requests", Table::pending_requests},
                                                      {"cached_credentials", Table::credentials}}) +
            ",\"replay\":" +
            zone_json(store->stats(Table::seen_assertions), {{"seen_assertions", Table::seen_assertions}}) + "}}\n";
        return send_body(r, NGX_HTTP_OK, "application/json", body);
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace sso::ngx
