#include "session/cookie.hpp"

#include <array>
#include <charconv>
#include <new>

namespace sso {

namespace {

constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// RFC 9110 tchar.
constexpr bool is_tchar(unsigned char c) noexcept {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

// RFC 6265 cookie-octet: printable US-ASCII minus DQUOTE, comma, semicolon, backslash.
constexpr bool is_cookie_octet(unsigned char c) noexcept {
    return c >= 0x21 && c <= 0x7E && c != '"' && c != ',' && c != ';' && c != '\\';
}

bool is_valid_path(std::string_view p) noexcept {
    if (p.empty() || p.front() != '/') {
        return false;
    }
    for (const char ch : p) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7F || c == ';') {
            return false;
        }
    }
    return true;
}

bool is_valid_domain(std::string_view d) noexcept {
    if (d.empty()) {
        return true;
    }
    // A leading '.' is legal in Set-Cookie (and ignored); we still only
    // accept non-empty labels of host characters.
    if (d.front() == '.') {
        d.remove_prefix(1);
    }
    if (d.empty() || d.back() == '.') {
        return false;
    }
    char prev = '.';
    for (const char c : d) {
        const bool host_char =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!host_char || (c == '.' && prev == '.')) {
            return false;
        }
        prev = c;
    }
    return true;
}

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

// Configuration may spell it "lax" or "LAX"; the header always gets the
// canonical spelling. Empty when it is none of the three.
std::string_view canonical_same_site(std::string_view v) noexcept {
    for (const std::string_view known : {"Strict", "Lax", "None"}) {
        if (iequals(v, known)) {
            return known;
        }
    }
    return {};
}

std::string build(const CookieOptions& o, std::string_view value, std::int64_t max_age, bool with_expires) {
    std::array<char, 24> num{};
    const auto conv = std::to_chars(num.data(), num.data() + num.size(), max_age < 0 ? 0 : max_age);
    const std::string_view max_age_text(num.data(), static_cast<std::size_t>(conv.ptr - num.data()));
    constexpr std::string_view kEpoch = "; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

    std::string out;
    out.reserve(o.name.size() + value.size() + o.path.size() + o.domain.size() + o.same_site.size() +
                max_age_text.size() + kEpoch.size() + 64);
    out.append(o.name).append("=").append(value);
    out.append("; Path=").append(o.path);
    if (!o.domain.empty()) {
        out.append("; Domain=").append(o.domain);
    }
    out.append("; Max-Age=").append(max_age_text);
    if (with_expires) {
        out.append(kEpoch);
    }
    if (o.http_only) {
        out.append("; HttpOnly");
    }
    if (o.secure) {
        out.append("; Secure");
    }
    if (!o.same_site.empty()) {
        out.append("; SameSite=").append(canonical_same_site(o.same_site));
    }
    return out;
}

}  // namespace

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) noexcept {
    if (name.empty()) {
        return std::nullopt;
    }
    while (!header.empty()) {
        const std::size_t semi = header.find(';');
        const std::string_view pair = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);

        const std::size_t eq = pair.find('=');
        if (eq == std::string_view::npos) {
            continue;  // junk segment, skip it
        }
        if (trim_ows(pair.substr(0, eq)) != name) {
            continue;
        }
        std::string_view value = trim_ows(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        return value;
    }
    return std::nullopt;
}

std::optional<std::string> without_cookies(std::string_view header, std::span<const std::string_view> names) {
    const auto named = [&](std::string_view segment) noexcept {
        const std::size_t eq = segment.find('=');
        if (eq == std::string_view::npos) return false;
        const std::string_view name = trim_ows(segment.substr(0, eq));
        for (const std::string_view n : names)
            if (!n.empty() && n == name) return true;
        return false;
    };
    bool found = false;
    for (std::string_view rest = header; !rest.empty() && !found;) {
        const std::size_t semi = rest.find(';');
        found = named(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    }
    if (!found) return std::nullopt;
    std::string out;
    out.reserve(header.size());
    for (std::string_view rest = header; !rest.empty();) {
        const std::size_t semi = rest.find(';');
        const std::string_view segment = trim_ows(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        if (segment.empty() || named(segment)) continue;
        if (!out.empty()) out += "; ";
        out += segment;
    }
    return out;
}

const char* cookie_options_error(const CookieOptions& o) noexcept {
    if (o.name.empty()) {
        return "cookie name is empty";
    }
    for (const char c : o.name) {
        if (!is_tchar(static_cast<unsigned char>(c))) {
            return "cookie name contains a character that is not allowed in a token";
        }
    }
    if (!is_valid_path(o.path)) {
        return "cookie path must start with '/' and contain no control characters, ';' or non-ASCII";
    }
    if (!is_valid_domain(o.domain)) {
        return "cookie domain must be a host name";
    }
    if (!o.same_site.empty() && canonical_same_site(o.same_site).empty()) {
        return "cookie SameSite must be Strict, Lax or None";
    }
    if (canonical_same_site(o.same_site) == "None" && !o.secure) {
        return "cookie SameSite=None requires Secure";
    }
    return nullptr;
}

bool is_valid_cookie_value(std::string_view value) noexcept {
    for (const char c : value) {
        if (!is_cookie_octet(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

std::string build_set_cookie(const CookieOptions& options, std::string_view value,
                             std::int64_t max_age_seconds) noexcept {
    if (cookie_options_error(options) != nullptr || !is_valid_cookie_value(value)) {
        return {};
    }
    try {
        return build(options, value, max_age_seconds, false);
    } catch (const std::bad_alloc&) {
        return {};
    }
}

std::string build_clear_cookie(const CookieOptions& options) noexcept {
    if (cookie_options_error(options) != nullptr) {
        return {};
    }
    try {
        return build(options, {}, 0, true);
    } catch (const std::bad_alloc&) {
        return {};
    }
}

}  // namespace sso
