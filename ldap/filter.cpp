#include "ldap/filter.hpp"

#include <new>

namespace sso::ldap {

namespace {

constexpr char kHex[] = "0123456789abcdef";

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_keychar(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-';
}
constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool needs_escape(unsigned char c) noexcept {
    return c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f;
}

// Length of the well-formed UTF-8 sequence starting at s[0] (at least 2 bytes: the caller has
// seen a byte >= 0x80), or 0 when it is not one. Overlong forms and surrogates are refused.
std::size_t utf8_sequence_length(std::string_view s) noexcept {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
        return i < s.size() && b(i) >= lo && b(i) <= hi;
    };
    const unsigned char c = b(0);
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

// Recursive descent over the RFC 4515 grammar. The first error wins and stops the parse; the
// depth cap bounds the recursion. Error strings are only built on failure (may throw bad_alloc,
// caught by filter_syntax_error).
class FilterParser {
public:
    explicit FilterParser(std::string_view s) noexcept : s_(s) {}

    std::optional<std::string> run() {
        if (s_.empty()) return std::string("empty filter");
        if (s_.size() > kMaxFilterLength) {
            return "filter longer than " + std::to_string(kMaxFilterLength) + " bytes";
        }
        if (!filter(1)) return std::move(error_);
        if (pos_ != s_.size()) {
            fail(s_[pos_] == ')' ? "unbalanced parentheses" : "trailing characters after the filter");
            return std::move(error_);
        }
        return std::nullopt;
    }

private:
    bool eof() const noexcept { return pos_ >= s_.size(); }
    char peek() const noexcept { return eof() ? '\0' : s_[pos_]; }

    bool fail(std::string_view what) {
        error_.assign(what);
        error_ += " at ";
        error_ += std::to_string(pos_);
        return false;
    }

    bool expect(char c) {
        if (eof()) return fail("unbalanced parentheses");
        if (s_[pos_] != c) {
            const char what[] = {'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', c, '\''};
            return fail(std::string_view(what, sizeof what));
        }
        ++pos_;
        return true;
    }

    // filter = "(" filtercomp ")"
    bool filter(std::size_t depth) {
        if (depth > kMaxFilterDepth) {
            return fail("filter nested deeper than " + std::to_string(kMaxFilterDepth) + " levels");
        }
        if (eof()) return fail("unbalanced parentheses");
        if (peek() != '(') return fail("expected '('");
        ++pos_;
        switch (peek()) {
            case '&':
            case '|':
                // filterlist = 1*filter, relaxed to 0* for the absolute true/false of RFC 4526.
                ++pos_;
                while (peek() == '(') {
                    if (!filter(depth + 1)) return false;
                }
                break;
            case '!':
                ++pos_;
                if (!filter(depth + 1)) return false;
                break;
            case ')':
                return fail("empty filter component");
            case '\0':
                if (eof()) return fail("unbalanced parentheses");
                [[fallthrough]];
            default:
                if (!item()) return false;
        }
        return expect(')');
    }

    // item = simple / present / substring / extensible
    bool item() {
        if (peek() == ':') return extensible(false);
        if (!attribute_description()) return false;
        switch (peek()) {
            case '=':
                ++pos_;
                return value(true);
            case '~':
            case '>':
            case '<':
                ++pos_;
                if (peek() != '=') return fail("expected '='");
                ++pos_;
                return value(false);
            case ':':
                return extensible(true);
            default:
                if (eof()) return fail("unbalanced parentheses");
                return fail("expected a filter type ('=', '~=', '>=', '<=' or ':=')");
        }
    }

    // oid = descr / numericoid; descr = ALPHA *(ALPHA / DIGIT / "-");
    // numericoid = number 1*("." number), number without leading zeros.
    bool oid() noexcept {
        if (is_alpha(peek())) {
            while (is_keychar(peek())) ++pos_;
            return true;
        }
        if (!is_digit(peek())) return false;
        std::size_t parts = 0;
        for (;;) {
            if (!is_digit(peek())) return false;
            const bool leading_zero = peek() == '0';
            ++pos_;
            if (leading_zero && is_digit(peek())) return false;
            while (is_digit(peek())) ++pos_;
            ++parts;
            if (peek() != '.') break;
            ++pos_;
        }
        return parts >= 2;
    }

    // attributedescription = oid *(";" 1*keychar)
    bool attribute_description() {
        const std::size_t start = pos_;
        if (!oid()) {
            pos_ = start;
            return fail(peek() == '=' ? "missing attribute description" : "bad attribute description");
        }
        while (peek() == ';') {
            ++pos_;
            if (!is_keychar(peek())) return fail("bad attribute option");
            while (is_keychar(peek())) ++pos_;
        }
        return true;
    }

    // extensible = attr [":dn"] [":" matchingrule] ":=" value
    //            / [":dn"] ":" matchingrule ":=" value
    bool extensible(bool has_attr) {
        ++pos_;  // ':'
        bool dn_seen = false;
        for (;;) {
            if (peek() == '=') {
                if (!has_attr) return fail("matching rule required without an attribute");
                ++pos_;
                return value(false);
            }
            const std::size_t start = pos_;
            if (!oid()) {
                pos_ = start;
                return fail("bad matching rule");
            }
            const std::string_view token = s_.substr(start, pos_ - start);
            const bool is_dn = !dn_seen && token.size() == 2 && (token[0] | 0x20) == 'd' && (token[1] | 0x20) == 'n';
            if (!expect(':')) return false;
            if (!is_dn) {
                // A matching rule: only ":=" may follow.
                if (peek() != '=') return fail("expected '='");
                ++pos_;
                return value(false);
            }
            dn_seen = true;
        }
    }

    // assertionvalue = *(normal / "\" HEX HEX), with "*" separating substrings when allowed.
    bool value(bool stars_allowed) {
        bool previous_star = false;
        while (!eof() && peek() != ')') {
            const unsigned char c = static_cast<unsigned char>(peek());
            if (c == '*') {
                if (!stars_allowed) return fail("unescaped '*' in value");
                // The grammar allows "a**b", but libldap refuses it ("Bad search filter").
                if (previous_star) return fail("empty substring between '*'");
                previous_star = true;
                ++pos_;
                continue;
            }
            previous_star = false;
            if (c == '\\') {
                if (pos_ + 2 >= s_.size() || !is_hex(s_[pos_ + 1]) || !is_hex(s_[pos_ + 2])) {
                    return fail("bad escape (expected \\HH)");
                }
                pos_ += 3;
            } else if (c == '(') {
                return fail("unescaped '(' in value");
            } else if (c == 0) {
                return fail("NUL byte in value");
            } else if (c >= 0x80) {
                const std::size_t n = utf8_sequence_length(s_.substr(pos_));
                if (n == 0) return fail("invalid UTF-8 in value");
                pos_ += n;
            } else {
                ++pos_;
            }
        }
        return true;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::string error_;
};

// The template with each placeholder replaced by `sample` (same length as "%u") and "%%" kept
// as two '%' characters, so that offsets in error messages match the template.
std::string with_sample(std::string_view tmpl, std::string_view sample) {
    std::string out;
    out.reserve(tmpl.size());
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] == '%' && i + 1 < tmpl.size()) {
            out += tmpl[i + 1] == '%' ? std::string_view("%%") : sample;
            ++i;
        } else {
            out += tmpl[i];
        }
    }
    return out;
}

}  // namespace

std::string escape_filter_value(std::string_view raw) {
    std::string out;
    out.reserve(raw.size() + 8);
    for (const char ch : raw) {
        const auto c = static_cast<unsigned char>(ch);
        if (needs_escape(c)) {
            out += '\\';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        } else {
            out += ch;
        }
    }
    return out;
}

std::optional<std::string> filter_syntax_error(std::string_view filter) noexcept {
    try {
        return FilterParser(filter).run();
    } catch (const std::bad_alloc&) {
        // Fail closed: never report "valid" because the error text could not be built. The
        // literal fits the small-string buffer, so building it does not allocate.
        return std::string("out of memory");
    }
}

std::optional<std::string> expand_filter(std::string_view tmpl, std::string_view user, std::string_view dn) noexcept {
    try {
        std::string out;
        out.reserve(tmpl.size() + user.size() * 3 + 8);
        for (std::size_t i = 0; i < tmpl.size(); ++i) {
            if (tmpl[i] != '%') {
                out += tmpl[i];
                continue;
            }
            if (++i == tmpl.size()) return std::nullopt;
            switch (tmpl[i]) {
                case 'u':
                    out += escape_filter_value(user);
                    break;
                case 'D':
                    out += escape_filter_value(dn);
                    break;
                case '%':
                    out += '%';
                    break;
                default:
                    return std::nullopt;
            }
        }
        return out;
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

std::optional<std::string> template_error(std::string_view tmpl) noexcept {
    try {
        for (std::size_t i = 0; i < tmpl.size(); ++i) {
            if (tmpl[i] != '%') continue;
            if (i + 1 == tmpl.size()) return "lone '%' at " + std::to_string(i) + " (write %% for a '%')";
            const char next = tmpl[i + 1];
            if (next != 'u' && next != 'D' && next != '%') {
                std::string reason = "unknown placeholder \"%";
                if (static_cast<unsigned char>(next) >= 0x20 && static_cast<unsigned char>(next) < 0x7f) {
                    reason += next;
                } else {
                    reason += '?';
                }
                return reason + "\" at " + std::to_string(i) + " (only %u, %D and %% are allowed)";
            }
            ++i;
        }
        // "x " is valid inside a value but not in an attribute description or matching rule, so
        // a placeholder anywhere else makes the sample filter invalid.
        auto error = filter_syntax_error(with_sample(tmpl, "x "));
        if (error && !filter_syntax_error(with_sample(tmpl, "xx"))) {
            return std::string("%u and %D may only appear inside an assertion value");
        }
        return error;
    } catch (const std::bad_alloc&) {
        return std::string("out of memory");
    }
}

}  // namespace sso::ldap
