#include "identity/email.hpp"

#include <new>

namespace sso {

namespace {

constexpr bool is_ascii_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

constexpr bool is_alnum(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 5322 atext (ASCII part) plus '.' for dot-atoms.
constexpr bool is_local_ascii(char c) noexcept {
    if (is_alnum(c)) {
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
        case '/':
        case '=':
        case '?':
        case '^':
        case '_':
        case '`':
        case '{':
        case '|':
        case '}':
        case '~':
        case '.':
            return true;
        default:
            return false;
    }
}

// Well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the 2nd byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (s.size() - i < len) {
            return false;
        }
        const auto second = static_cast<unsigned char>(s[i + 1]);
        if (second < lo || second > hi) {
            return false;
        }
        for (std::size_t k = 2; k < len; ++k) {
            const auto cont = static_cast<unsigned char>(s[i + k]);
            if (cont < 0x80 || cont > 0xBF) {
                return false;
            }
        }
        i += len;
    }
    return true;
}

bool is_valid_local(std::string_view local) noexcept {
    if (local.empty() || local.size() > kMaxEmailLocalLength) {
        return false;
    }
    for (const char c : local) {
        if (static_cast<unsigned char>(c) < 0x80 && !is_local_ascii(c)) {
            return false;
        }
    }
    return true;
}

bool is_valid_label(std::string_view label) noexcept {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return false;
    }
    for (const char c : label) {
        if (static_cast<unsigned char>(c) < 0x80 && !is_alnum(c) && c != '-') {
            return false;
        }
    }
    return true;
}

bool is_valid_domain(std::string_view domain) noexcept {
    if (domain.empty()) {
        return false;
    }
    for (;;) {
        const std::size_t dot = domain.find('.');
        if (!is_valid_label(domain.substr(0, dot))) {
            return false;  // covers ".b", "b..c" and a trailing '.'
        }
        if (dot == std::string_view::npos) {
            return true;
        }
        domain.remove_prefix(dot + 1);
    }
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view address) noexcept {
    while (!address.empty() && is_ascii_space(address.front())) {
        address.remove_prefix(1);
    }
    while (!address.empty() && is_ascii_space(address.back())) {
        address.remove_suffix(1);
    }
    if (address.empty() || address.size() > kMaxEmailLength) {
        return std::nullopt;
    }
    const std::size_t at = address.find('@');
    if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    if (!is_valid_local(address.substr(0, at)) || !is_valid_domain(address.substr(at + 1)) || !is_valid_utf8(address)) {
        return std::nullopt;
    }
    try {
        std::string key(address);
        for (char& c : key) {
            c = ascii_lower(c);
        }
        return key;
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

}  // namespace sso
