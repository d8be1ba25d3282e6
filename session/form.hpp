// application/x-www-form-urlencoded bodies, as the IdP's auto-submitted form posts them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sso {

enum class FormFieldStatus { found, absent, malformed, duplicate };

struct FormField {
    FormFieldStatus status;
    std::string value;  // decoded ('+' is a space, %XX a byte)
};

// True when a Content-Type header value names application/x-www-form-urlencoded (any case,
// parameters such as charset allowed). An absent header (empty) is not a form.
bool is_form_urlencoded(std::string_view content_type) noexcept;

// A field given twice is refused as ambiguous; a bad %-escape is malformed.
FormField form_field(std::string_view body, std::string_view name);

// Percent-decoding of one component; nullopt on a bad escape.
std::optional<std::string> url_decode(std::string_view in, bool plus_is_space);

// Percent-encoding for a query component (RFC 3986 unreserved characters stay as they are).
std::string url_encode(std::string_view in);

}  // namespace sso
