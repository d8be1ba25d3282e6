#include "saml/idp_metadata_loader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sso {
namespace {

constexpr std::int64_t kRetryAfterFailure = 60;

// Checks the document and builds the SP that would serve it.
MetadataLoad build(const UrlMetadataConfig& config, std::string xml, std::int64_t now) {
    MetadataLoad out;
    auto info = check_idp_metadata(xml, now, config.trust);
    if (!info) {
        out.error = info.error().reason;
        return out;
    }
    SpSettings settings = config.sp;
    settings.idp_metadata_xml = xml;
    auto sp = ServiceProvider::create(settings);
    if (!sp) {
        out.error = sp.error().reason;
        return out;
    }
    out.xml = std::move(xml);
    out.info = std::move(info.value());
    out.sp = std::move(sp.value());
    return out;
}

// Write to a temporary file next to the target, then rename: readers see the old copy or the
// new one, never half of one.
std::string write_atomically(const std::string& path, const std::string& contents) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return "cannot write \"" + tmp + "\"";
        out << contents;
        out.flush();
        if (!out) {
            std::remove(tmp.c_str());
            return "cannot write \"" + tmp + "\"";
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return "cannot rename \"" + tmp + "\" to \"" + path + "\"";
    }
    return {};
}

}  // namespace

MetadataLoad fetch_metadata(const UrlMetadataConfig& config, std::int64_t now, std::string_view current,
                            bool write_cache) {
    Fetched fetched = http_get(config.url, config.fetch);
    if (!fetched.ok()) return MetadataLoad::failed("cannot fetch \"" + config.url + "\": " + fetched.error);
    if (!current.empty() && fetched.body == current) {
        MetadataLoad out;
        out.unchanged = true;
        // Still checked: the same document can have expired since it was loaded.
        auto info = check_idp_metadata(fetched.body, now, config.trust);
        if (!info)
            out.error = "\"" + config.url + "\": " + info.error().reason;
        else
            out.info = std::move(info.value());
        return out;
    }
    MetadataLoad out = build(config, std::move(fetched.body), now);
    if (!out.ok()) {
        out.error = "\"" + config.url + "\" served unusable metadata: " + out.error;
        return out;
    }
    if (write_cache) {
        if (std::string e = write_atomically(config.cache_file, out.xml); !e.empty())
            out.warning = "the cached copy was not saved: " + e;
    }
    return out;
}

MetadataLoad load_cached_metadata(const UrlMetadataConfig& config, std::int64_t now) {
    std::ifstream in(config.cache_file, std::ios::binary);
    if (!in) return MetadataLoad::failed("no cached copy at \"" + config.cache_file + "\"");
    std::stringstream s;
    s << in.rdbuf();
    MetadataLoad out = build(config, s.str(), now);
    if (!out.ok()) out.error = "the cached copy \"" + config.cache_file + "\" is unusable: " + out.error;
    return out;
}

std::int64_t next_refresh_delay(std::int64_t refresh, const IdpMetadataInfo* info, std::int64_t now, bool failed) {
    std::int64_t delay = std::max<std::int64_t>(1, refresh);
    if (failed) delay = std::min(delay, kRetryAfterFailure);
    if (info && info->cache_duration && *info->cache_duration > 0) delay = std::min(delay, *info->cache_duration);
    if (info && info->valid_until) delay = std::min(delay, std::max<std::int64_t>(1, (*info->valid_until - now) / 2));
    return delay;
}

}  // namespace sso
