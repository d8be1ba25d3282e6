#include "session/form.hpp"

namespace sso {
namespace {

int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool is_form_urlencoded(std::string_view content_type) noexcept {
    std::string_view type = content_type.substr(0, content_type.find(';'));
    const std::size_t first = type.find_first_not_of(" \t");
    if (first == std::string_view::npos) return false;
    type = type.substr(first, type.find_last_not_of(" \t") + 1 - first);
    constexpr std::string_view form = "application/x-www-form-urlencoded";
    if (type.size() != form.size()) return false;
    for (std::size_t i = 0; i < form.size(); ++i) {
        const char c = type[i] >= 'A' && type[i] <= 'Z' ? static_cast<char>(type[i] - 'A' + 'a') : type[i];
        if (c != form[i]) return false;
    }
    return true;
}

std::optional<std::string> url_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return std::nullopt;
            const int h = hex(in[i + 1]), l = hex(in[i + 2]);
            if (h < 0 || l < 0) return std::nullopt;
            out.push_back(static_cast<char>(h * 16 + l));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string url_encode(std::string_view in) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(in.size() * 3);
    for (const unsigned char c : in) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 15]);
        }
    }
    return out;
}

FormField form_field(std::string_view body, std::string_view name) {
    FormField result{FormFieldStatus::absent, {}};
    while (!body.empty()) {
        const std::size_t amp = body.find('&');
        const std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
        const std::size_t eq = pair.find('=');
        auto key = url_decode(pair.substr(0, eq), true);
        if (!key) return {FormFieldStatus::malformed, {}};
        if (*key != name) continue;
        if (result.status == FormFieldStatus::found) return {FormFieldStatus::duplicate, {}};
        auto value = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!value) return {FormFieldStatus::malformed, {}};
        result = {FormFieldStatus::found, std::move(*value)};
    }
    return result;
}

}  // namespace sso
