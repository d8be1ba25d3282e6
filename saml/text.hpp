// Small text rules shared by the SAML core and the identity mapping.
#pragma once

#include <string_view>

namespace sso {

// True when `s` is empty or holds only white space (space, tab, CR, LF, VT, FF): such a value
// names nobody, though it is not empty.
constexpr bool is_blank(std::string_view s) noexcept {
    return s.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos;
}

}  // namespace sso
