#include "identity/header_value.hpp"

#include <new>

namespace sso {

namespace {

constexpr bool needs_escape(unsigned char c) noexcept {
    return c < 0x20 || c > 0x7E || c == '%';
}

constexpr char kHex[] = "0123456789ABCDEF";

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::size_t encoded_header_value_length(std::string_view raw) noexcept {
    std::size_t n = raw.size();
    for (const char c : raw) {
        if (needs_escape(static_cast<unsigned char>(c))) {
            n += 2;
        }
    }
    return n;
}

void encode_header_value_into(std::string_view raw, char* out) noexcept {
    for (const char ch : raw) {
        const auto c = static_cast<unsigned char>(ch);
        if (needs_escape(c)) {
            *out++ = '%';
            *out++ = kHex[c >> 4];
            *out++ = kHex[c & 0x0F];
        } else {
            *out++ = ch;
        }
    }
}

std::string encode_header_value(std::string_view raw) noexcept {
    try {
        std::string out(encoded_header_value_length(raw), '\0');
        encode_header_value_into(raw, out.data());
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

std::string decode_header_value(std::string_view encoded) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '%' && i + 2 < encoded.size() && hex(encoded[i + 1]) >= 0 && hex(encoded[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(encoded[i + 1]) * 16 + hex(encoded[i + 2])));
            i += 2;
        } else {
            out.push_back(encoded[i]);
        }
    }
    return out;
}

bool is_header_name(std::string_view name, std::string_view wanted) noexcept {
    if (name.size() != wanted.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char a = name[i] == '_' ? '-' : ascii_lower(name[i]);
        const char b = wanted[i] == '_' ? '-' : ascii_lower(wanted[i]);
        if (a != b) return false;
    }
    return true;
}

bool is_identity_header_name(std::string_view name) noexcept {
    constexpr std::string_view kPrefix = "x-sso-";
    if (name.size() < kPrefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < kPrefix.size(); ++i) {
        const char c = name[i] == '_' ? '-' : ascii_lower(name[i]);
        if (c != kPrefix[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace sso
