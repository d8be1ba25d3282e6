#include "saml/metadata_fetch.hpp"

#include <curl/curl.h>

#include <memory>

namespace sso {
namespace {

struct CurlFree {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};

struct Sink {
    std::string* body;
    std::size_t max_bytes;
    bool too_large = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* userdata) noexcept {
    auto* sink = static_cast<Sink*>(userdata);
    const std::size_t n = size * count;
    if (sink->body->size() + n > sink->max_bytes) {
        sink->too_large = true;
        return 0;  // aborts the transfer
    }
    try {
        sink->body->append(data, n);
    } catch (...) {
        return 0;
    }
    return n;
}

}  // namespace

bool http_client_init() noexcept {
    static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    return ok;
}

Fetched http_get(const std::string& url, const FetchOptions& options) {
    Fetched out;
    if (!http_client_init()) return {{}, "libcurl could not be initialised"};
    std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
    if (!curl) return {{}, "libcurl could not create a transfer"};
    char message[CURL_ERROR_SIZE] = {};
    Sink sink{&out.body, options.max_bytes};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // required in threads: no SIGALRM for timeouts
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, options.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, options.timeout_ms);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "nginx-sso metadata fetcher");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, message);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(c);
    if (sink.too_large) {
        out.error = "the document is larger than " + std::to_string(options.max_bytes) + " bytes";
    } else if (rc != CURLE_OK) {
        out.error = message[0] ? message : curl_easy_strerror(rc);
    } else {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) out.error = "HTTP status " + std::to_string(status);
    }
    if (!out.ok()) out.body.clear();
    return out;
}

}  // namespace sso
