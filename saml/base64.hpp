// Strict base64 for SAML messages: whitespace (line wrapping) is skipped, anything else that
// is not the standard alphabet, or bad padding, is an error rather than silently dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sso {

std::optional<std::string> base64_decode_strict(std::string_view in, std::size_t max_out);
std::string base64_encode(std::string_view in);

}  // namespace sso
