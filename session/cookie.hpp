// Cookie request-header parsing and Set-Cookie construction.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sso {

// Value of the FIRST cookie called exactly `name` (case-sensitive) in a
// Cookie request header such as "a=1; b=2". Surrounding spaces/tabs are
// trimmed, and a value wrapped in double quotes is returned without them.
// Segments without '=' and other junk are skipped, never fatal. The result
// borrows from `cookie_header`. nullopt when absent or when `name` is empty.
std::optional<std::string_view> find_cookie(std::string_view cookie_header, std::string_view name) noexcept;

// A Cookie request header without the cookies called one of `names` (exact, case-sensitive,
// as find_cookie reads them): what goes on to an upstream that must not see them. nullopt when
// the header has none of them (leave it as it is). Otherwise the other segments keep their order
// and their bytes (only the spaces around each are trimmed, segments without '=' are kept, empty
// ones dropped), joined with "; "; an empty string when nothing is left (remove the header).
// May throw std::bad_alloc.
std::optional<std::string> without_cookies(std::string_view cookie_header, std::span<const std::string_view> names);

struct CookieOptions {
    std::string name;
    std::string path = "/";
    std::string domain;  // empty: host-only cookie (no Domain attribute)
    bool secure = true;
    bool http_only = true;
    std::string same_site = "Lax";  // "Strict", "Lax", "None" (any case), or empty to omit
};

// nullptr when `options` can be used to build cookies, otherwise a static
// message for the configuration error log. Meant for config-time checks:
//   name: non-empty RFC 9110 token; path: starts with '/', no CTL, ';' or
//   non-ASCII; domain: empty, or labels of [A-Za-z0-9-] joined by single dots
//   (one leading '.' tolerated, no trailing '.'); same_site: "", Strict, Lax
//   or None (any ASCII case; the header always gets this canonical spelling);
//   SameSite=None requires secure (browsers drop it otherwise).
// Call it at configuration time: build_*_cookie() return "" for options it
// rejects, so an unchecked bad configuration would silently set no cookie.
const char* cookie_options_error(const CookieOptions& options) noexcept;

// True when every byte of `value` is an RFC 6265 cookie-octet.
bool is_valid_cookie_value(std::string_view value) noexcept;

// "NAME=VALUE; Path=/; [Domain=D; ]Max-Age=N[; HttpOnly][; Secure][; SameSite=S]".
// A negative max_age is written as 0 (expire now). Returns an EMPTY string
// when the options are invalid (see cookie_options_error), the value is not
// made of cookie-octets (so nothing can inject attributes or split the
// header), or allocation fails (no exception escapes).
std::string build_set_cookie(const CookieOptions& options, std::string_view value,
                             std::int64_t max_age_seconds) noexcept;

// Same attributes as build_set_cookie() with an empty value, Max-Age=0 and
// Expires in the past (for clients that ignore Max-Age). Path and Domain must
// match the cookie being cleared, hence the same options. Empty string on
// invalid options or allocation failure.
std::string build_clear_cookie(const CookieOptions& options) noexcept;

}  // namespace sso
