// The SP's own identifiers as the configuration writes them: what an entityID and an Assertion
// Consumer Service URL must look like for an IdP to use them, checked when nginx reads them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sso {

// An absolute http:// or https:// URL taken apart: origin "https://host:port", and the path
// ("/" when the URL has none) without query or fragment.
struct HttpUrl {
    std::string_view origin;
    std::string_view path;
};
std::optional<HttpUrl> split_http_url(std::string_view url) noexcept;

// Why `url` cannot be the Assertion Consumer Service URL (empty when it can). The IdP sends
// the browser there with a POST and SP metadata publishes it, so it must be an absolute
// http:// or https:// URL with a host, no fragment, no whitespace.
std::string acs_url_problem(std::string_view url);

// Why `id` cannot be the SP's entityID (empty when it can): SAML 2.0 wants an absolute URI
// (scheme ":" ...) of at most 1024 characters, and IdPs compare it character for character.
std::string entity_id_problem(std::string_view id);

inline constexpr std::size_t kMaxEntityIdLength = 1024;

// The last segment of a URL path ("acs" for "/sso/acs"): what an sso_endpoint location runs.
std::string_view last_path_segment(std::string_view path) noexcept;

}  // namespace sso
