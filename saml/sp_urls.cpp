#include "saml/sp_urls.hpp"

namespace sso {
namespace {

bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool has_space_or_control(std::string_view s) noexcept {
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7f) return true;
    return false;
}

// RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), followed by ':'. Returns the
// scheme, empty when `s` does not start with one.
std::string_view scheme_of(std::string_view s) noexcept {
    if (s.empty() || !is_alpha(s[0])) return {};
    for (std::size_t i = 1; i < s.size(); ++i) {
        const char c = s[i];
        if (c == ':') return s.substr(0, i);
        if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return {};
    }
    return {};
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    return true;
}

}  // namespace

std::optional<HttpUrl> split_http_url(std::string_view url) noexcept {
    const std::string_view scheme = scheme_of(url);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return std::nullopt;
    const std::size_t authority = scheme.size() + 3;
    if (url.substr(scheme.size(), 3) != "://") return std::nullopt;
    const std::size_t end = url.find_first_of("/?#", authority);
    const std::size_t host_end = end == std::string_view::npos ? url.size() : end;
    if (host_end == authority || url[authority] == ':') return std::nullopt;  // no host
    HttpUrl out;
    out.origin = url.substr(0, host_end);
    if (end == std::string_view::npos || url[end] != '/') {
        out.path = "/";
    } else {
        const std::size_t path_end = url.find_first_of("?#", end);
        out.path = url.substr(end, path_end == std::string_view::npos ? std::string_view::npos : path_end - end);
    }
    return out;
}

std::string acs_url_problem(std::string_view url) {
    if (url.empty()) return "is empty";
    if (has_space_or_control(url)) return "contains whitespace or control characters";
    if (url[0] == '/') return "is a path, not an absolute URL";
    const std::string_view scheme = scheme_of(url);
    if (scheme.empty()) return "is not an absolute URL (no scheme)";
    if (!iequals(scheme, "http") && !iequals(scheme, "https"))
        return "has the scheme \"" + std::string(scheme) + "\", not http or https";
    if (!split_http_url(url)) return "has no host";
    if (url.find('#') != std::string_view::npos) return "has a fragment, which a browser never sends";
    return {};
}

std::string entity_id_problem(std::string_view id) {
    if (id.empty()) return "is empty";
    if (id.size() > kMaxEntityIdLength)
        return "is " + std::to_string(id.size()) + " characters long (SAML allows " +
               std::to_string(kMaxEntityIdLength) + ")";
    if (has_space_or_control(id)) return "contains whitespace or control characters";
    const std::string_view scheme = scheme_of(id);
    if (scheme.empty()) return "is not an absolute URI (no scheme such as https: or urn:)";
    if (id.size() == scheme.size() + 1) return "has nothing after its scheme";
    return {};
}

std::string_view last_path_segment(std::string_view path) noexcept {
    const std::size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace sso
