// Fetches IdP metadata over HTTP(S) with libcurl. Blocking: the module calls it at
// configuration load (in the master, bounded by the timeout) and otherwise only from a
// thread-pool thread, never on a worker's event loop.
#pragma once

#include <cstddef>
#include <string>

namespace sso {

struct FetchOptions {
    long timeout_ms = 10'000;                  // the whole transfer, name resolution included
    std::size_t max_bytes = 16 * 1024 * 1024;  // a larger document is refused, not truncated
    std::string ca_file;                       // empty: the system's trusted CAs
};

struct Fetched {
    std::string body;
    std::string error;  // empty on success (HTTP 200, within the limits); else why not
    bool ok() const noexcept { return error.empty(); }
};

// libcurl's global set-up; call once while the process has a single thread.
bool http_client_init() noexcept;

Fetched http_get(const std::string& url, const FetchOptions& options);

}  // namespace sso
