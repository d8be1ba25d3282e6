// IdP metadata from a URL, with the last good copy kept on disk: one attempt fetches, checks
// (saml/idp_metadata.hpp) and builds the Service Provider that would use it, so a document
// that fails any step never replaces a working one. Blocking; the module runs it at
// configuration load and in a thread-pool thread, never on a worker's event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "saml/idp_metadata.hpp"
#include "saml/metadata_fetch.hpp"
#include "saml/service_provider.hpp"

namespace sso {

struct UrlMetadataConfig {
    std::string url;
    std::string cache_file;  // where the last good copy is written (atomically) and read back
    FetchOptions fetch;
    MetadataTrust trust;
    SpSettings sp;  // idp_metadata_xml is filled in by each attempt
};

struct MetadataLoad {
    std::string error;       // empty on success
    std::string warning;     // a success with something to log (the cached copy could not be saved)
    bool unchanged = false;  // the fetched document equals `current`: nothing was rebuilt
    std::string xml;
    IdpMetadataInfo info;
    std::unique_ptr<ServiceProvider> sp;
    bool ok() const noexcept { return error.empty(); }
    static MetadataLoad failed(std::string why) {
        MetadataLoad out;
        out.error = std::move(why);
        return out;
    }
};

// Fetches the URL. On success (and unless the document equals `current`) the new copy is
// written to the cache file when `write_cache` is set.
MetadataLoad fetch_metadata(const UrlMetadataConfig& config, std::int64_t now, std::string_view current,
                            bool write_cache);

// The copy a previous fetch left in the cache file.
MetadataLoad load_cached_metadata(const UrlMetadataConfig& config, std::int64_t now);

// Seconds until the next fetch: the configured interval, shortened by cacheDuration and by
// validUntil (refreshed at half the remaining validity), and after a failure at most a minute.
std::int64_t next_refresh_delay(std::int64_t refresh, const IdpMetadataInfo* info, std::int64_t now, bool failed);

}  // namespace sso
