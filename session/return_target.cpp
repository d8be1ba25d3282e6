#include "session/return_target.hpp"

#include <new>

namespace sso {

namespace {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr bool is_control(unsigned c) noexcept {
    return c < 0x20 || c == 0x7F;
}

// Bytes refused anywhere in a target, raw. Besides CTL/space/non-ASCII:
// '\' (browsers read it as '/'), and characters that have no business in a
// URL but could matter if the target is ever reflected into HTML.
constexpr bool is_forbidden_raw(unsigned char c) noexcept {
    return c <= 0x20 || c >= 0x7F || c == '\\' || c == '"' || c == '<' || c == '>' || c == '`';
}

// Every byte allowed and every '%' a well-formed escape of a non-control byte.
bool all_bytes_acceptable(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (is_forbidden_raw(c)) {
            return false;
        }
        if (c == '%') {
            if (s.size() - i < 3) {  // '%' needs two hex digits after it
                return false;
            }
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || is_control(static_cast<unsigned>(hi * 16 + lo))) {
                return false;
            }
            i += 2;
        }
    }
    return true;
}

// The second character of a path reference, after one round of decoding.
// all_bytes_acceptable() has already validated any escape here.
unsigned char decoded_char_at(std::string_view s, std::size_t i) noexcept {
    if (s[i] == '%') {
        return static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
    }
    return static_cast<unsigned char>(s[i]);
}

constexpr bool is_reg_name_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
}

constexpr bool is_ipv6_literal_char(char c) noexcept {
    return hex_value(c) >= 0 || c == ':' || c == '.';
}

// 1..65535, decimal digits only.
std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    unsigned v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

// "host[:port]" or "[v6]:port" (no userinfo, no escapes) → Origin with the
// given scheme; default port filled in.
std::optional<Origin> parse_authority(std::string_view auth, bool https) noexcept {
    Origin o;
    o.https = https;
    o.port = https ? 443 : 80;
    std::string_view port_text;
    bool has_port = false;

    if (!auth.empty() && auth.front() == '[') {
        const std::size_t close = auth.find(']');
        if (close == std::string_view::npos || close < 2) {
            return std::nullopt;
        }
        for (const char c : auth.substr(1, close - 1)) {
            if (!is_ipv6_literal_char(c)) {
                return std::nullopt;  // also refuses zone ids ("%25eth0")
            }
        }
        o.host = auth.substr(0, close + 1);
        const std::string_view rest = auth.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return std::nullopt;
            }
            has_port = true;
            port_text = rest.substr(1);
        }
    } else {
        const std::size_t colon = auth.find(':');
        o.host = auth.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = auth.substr(colon + 1);
        }
        if (o.host.empty()) {
            return std::nullopt;
        }
        for (const char c : o.host) {
            if (!is_reg_name_char(c)) {
                return std::nullopt;  // '@', '%', '[' and friends end up here
            }
        }
    }
    if (has_port) {
        const auto port = parse_port(port_text);
        if (!port) {
            return std::nullopt;
        }
        o.port = *port;
    }
    return o;
}

// Strips "http://" or "https://" (case-insensitive). Nothing else counts as
// an absolute URL: "http:evil", "https:/evil", "javascript:" all fail here.
bool strip_scheme(std::string_view& s, bool& https) noexcept {
    if (istarts_with(s, "https://")) {
        https = true;
        s.remove_prefix(8);
        return true;
    }
    if (istarts_with(s, "http://")) {
        https = false;
        s.remove_prefix(7);
        return true;
    }
    return false;
}

bool parse_scheme_name(std::string_view scheme, bool& https) noexcept {
    if (iequals(scheme, "https")) {
        https = true;
        return true;
    }
    if (iequals(scheme, "http")) {
        https = false;
        return true;
    }
    return false;
}

bool is_acceptable_absolute(std::string_view target, std::string_view own_scheme, std::string_view own_host,
                            std::span<const std::string> allowed_origins) noexcept {
    bool https = false;
    std::string_view rest = target;
    if (!strip_scheme(rest, https)) {
        return false;
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    const auto origin = parse_authority(authority, https);
    if (!origin) {
        return false;
    }

    bool own_https = false;
    if (parse_scheme_name(own_scheme, own_https)) {
        const auto own = parse_authority(own_host, own_https);
        if (own && same_origin(*origin, *own)) {
            return true;
        }
    }
    for (const std::string& allowed : allowed_origins) {
        const auto a = parse_origin(allowed);
        if (a && same_origin(*origin, *a)) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool same_origin(const Origin& a, const Origin& b) noexcept {
    return a.https == b.https && a.port == b.port && iequals(a.host, b.host);
}

std::optional<Origin> parse_origin(std::string_view origin) noexcept {
    bool https = false;
    if (!strip_scheme(origin, https)) {
        return std::nullopt;
    }
    if (!origin.empty() && origin.back() == '/') {
        origin.remove_suffix(1);
    }
    if (origin.find_first_of("/?#@\\%") != std::string_view::npos) {
        return std::nullopt;
    }
    return parse_authority(origin, https);
}

std::optional<std::string> safe_return_target(std::string_view target, std::string_view own_scheme,
                                              std::string_view own_host,
                                              std::span<const std::string> allowed_origins) noexcept {
    if (target.empty() || target.size() > kMaxReturnTargetLength || !all_bytes_acceptable(target)) {
        return std::nullopt;
    }

    bool ok = false;
    if (target.front() == '/') {
        // "/" alone, or "/x" where x (decoded once) cannot start an authority
        // ("//host", "/\host") or be stripped/ignored by a URL parser.
        if (target.size() == 1) {
            ok = true;
        } else {
            const unsigned char second = decoded_char_at(target, 1);
            ok = second != '/' && second != '\\' && second > 0x20 && second != 0x7F;
        }
    } else {
        ok = is_acceptable_absolute(target, own_scheme, own_host, allowed_origins);
    }
    if (!ok) {
        return std::nullopt;
    }
    try {
        return std::string(target);
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

}  // namespace sso
