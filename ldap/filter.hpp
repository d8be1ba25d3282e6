// LDAP search filters (RFC 4515): escaping user input, validating configured filters, and
// expanding the %u / %D templates of user_filter and group_filter.
//
// The user name comes straight from a login form or an Authorization header, so it is hostile:
// it only ever enters a filter through escape_filter_value(), which makes every filter
// metacharacter inert. Configured filters are validated at `nginx -t` so that a typo is a
// configuration error rather than a failed login at request time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sso::ldap {

// Limits of filter_syntax_error(): a filter longer or deeper than this is refused (the parser
// is recursive, and nothing legitimate comes close).
constexpr std::size_t kMaxFilterLength = 16 * 1024;
constexpr std::size_t kMaxFilterDepth = 32;

// RFC 4515 value escaping: '*', '(', ')', '\\', NUL and every byte < 0x20, 0x7f or >= 0x80
// become \xx (lower-case hex); everything else is copied. The result is pure ASCII and is a
// valid assertion value whatever the input. Throws std::bad_alloc only.
std::string escape_filter_value(std::string_view raw);

// nullopt when `filter` is a valid RFC 4515 filter; otherwise a short reason with the byte
// offset of the problem ("unbalanced parentheses at 12"). Accepts and/or/not, equality,
// substring, >=, <=, ~=, presence and extensible match; attribute descriptions with options
// or numeric OIDs; values with \HH escapes and UTF-8. The absolute true/false filters "(&)"
// and "(|)" of RFC 4526 are accepted. No whitespace between tokens (RFC 4515 has none).
std::optional<std::string> filter_syntax_error(std::string_view filter) noexcept;

// Template expansion: %u = escaped user name, %D = escaped user DN, %% = '%'. Any other %x, or
// a trailing '%', is an error. nullopt on a bad % sequence or allocation failure. The result is
// not re-validated here (template_error() does that once, at configuration time).
std::optional<std::string> expand_filter(std::string_view tmpl, std::string_view user, std::string_view dn) noexcept;

// nullopt when `tmpl` is a usable template: only %u, %D and %% sequences, the placeholders
// only inside assertion values (never as an attribute or matching rule, which would let the
// user choose what is compared), and a valid filter once they are replaced by a sample value.
std::optional<std::string> template_error(std::string_view tmpl) noexcept;

}  // namespace sso::ldap
