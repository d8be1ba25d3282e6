// Where a server's IdP metadata comes from and, for a URL, how it stays fresh: each worker
// refreshes on a timer in the thread pool (fetch, check, build the new Service Provider), then
// swaps it in on the event loop. A failed refresh keeps the working metadata; metadata whose
// validUntil passes without a fresh copy turns SAML sign-in off until a refresh succeeds.
#pragma once

#include "module/ngx_includes.hpp"

#include <cstdint>
#include <optional>
#include <string>

#include "saml/idp_metadata_loader.hpp"

namespace sso::ngx {

struct ServerRuntime;

// What sso_status reports about one server's IdP metadata.
struct MetadataStatus {
    std::string origin;    // "file" or "url"
    std::string location;  // the file or the URL
    std::string entity_id;
    // where the document in use was last confirmed: "file", "url" (fetched, or fetched again and
    // found unchanged) or "cache" (the copy a previous fetch left, while the URL has not answered)
    std::string loaded_from;
    std::int64_t loaded_at = 0;
    std::optional<std::int64_t> valid_until;
    bool signature_verified = false;
    std::string signer;    // subject of sso_idp_metadata_certificate when the signature was checked
    bool expired = false;  // validUntil passed with no fresh copy: SAML sign-in is off
    // URL only
    std::string cache_file;
    std::int64_t last_fetch = 0;    // when the last attempt ended
    std::string last_fetch_result;  // "ok", "unchanged" or why it failed
    std::int64_t last_success = 0;
    std::int64_t confirmed_at = 0;  // when the URL last served the document in use (0: not since the start)
    std::int64_t next_refresh = 0;
};

class MetadataSource {
public:
    MetadataSource(ServerRuntime* rt, MetadataStatus status) noexcept : rt_(rt), status_(std::move(status)) {}
    // A URL source: `current` is the document in use (from the URL or the cache).
    MetadataSource(ServerRuntime* rt, MetadataStatus status, UrlMetadataConfig config, std::string current,
                   std::int64_t refresh, const IdpMetadataInfo& info) noexcept;
    ~MetadataSource();
    MetadataSource(const MetadataSource&) = delete;
    MetadataSource& operator=(const MetadataSource&) = delete;

    const MetadataStatus& status() const noexcept { return status_; }
    const ServerRuntime* runtime() const noexcept { return rt_; }
    bool is_url() const noexcept { return status_.origin == "url"; }

    // In each worker (init_process): arms the refresh timer of a URL source.
    void start(ngx_cycle_t* cycle, ngx_thread_pool_t* pool) noexcept;

private:
    struct Job;
    static void on_timer(ngx_event_t* ev) noexcept;
    static void run_job(void* data, ngx_log_t* log) noexcept;  // in a pool thread
    static void job_done(ngx_event_t* ev) noexcept;
    void refresh() noexcept;
    void finish(Job& job) noexcept;
    void expire_if_due(std::int64_t now) noexcept;
    void schedule(std::int64_t delay) noexcept;

    ServerRuntime* rt_;
    MetadataStatus status_;
    UrlMetadataConfig config_;
    std::string current_;
    std::int64_t refresh_ = 3600;
    IdpMetadataInfo info_;
    ngx_thread_pool_t* pool_ = nullptr;
    ngx_event_t timer_{};
    Job* job_ = nullptr;  // the refresh in flight, if any
};

}  // namespace sso::ngx
