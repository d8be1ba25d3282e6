// Open-redirect defence for the post-login return target.
//
// The target arrives from the client (query argument, RelayState), so it is
// accepted only when it can only lead back to this site (or an explicitly
// allowed origin). Anything unusual is refused; the caller then falls back to
// a fixed default such as "/".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sso {

// Longer targets are refused outright (they fit no sane redirect).
constexpr std::size_t kMaxReturnTargetLength = 8192;

// scheme + host + port of an http(s) URL. `host` borrows from the parsed
// text and is compared ASCII-case-insensitively; `port` has the scheme's
// default filled in (80/443).
struct Origin {
    bool https = false;
    std::string_view host;  // reg-name as written, or "[...]" IPv6 literal with brackets
    std::uint16_t port = 0;
};

bool same_origin(const Origin& a, const Origin& b) noexcept;

// Parses an allowed-origin string: "http(s)://host[:port]" with at most one
// trailing '/', nothing else (no userinfo, path, query or fragment).
// nullopt when malformed; use it to validate configuration.
std::optional<Origin> parse_origin(std::string_view origin) noexcept;

// Returns the target to redirect to, or nullopt to refuse it. Accepted:
//  (a) "/" alone, or a path reference "/" + a first character other than
//      '/' or '\' (also when percent-encoded);
//  (b) an absolute http/https URL ("scheme://authority...") whose origin
//      equals the own origin (own_scheme "http"/"https" + own_host
//      "host[:port]" as the client sent it) or one of `allowed_origins`.
// Refused everywhere: raw bytes <= 0x20, 0x7F or >= 0x80; raw '\', '"', '<',
// '>', '`'; malformed percent-escapes; escapes decoding to a control char;
// userinfo ('@' in the authority); percent-escapes in the host; empty or
// invalid ports. Hosts must match exactly (case-insensitively; no trailing-dot
// or IDN normalisation), so look-alikes never match. Accepted targets are
// returned unchanged. nullopt also on allocation failure.
//
// The target is judged as it will appear in the Location header, i.e. after
// the caller has removed its own transport encoding (e.g. one level of
// query-argument decoding) and not decoded again afterwards.
std::optional<std::string> safe_return_target(std::string_view target, std::string_view own_scheme,
                                              std::string_view own_host,
                                              std::span<const std::string> allowed_origins = {}) noexcept;

}  // namespace sso
