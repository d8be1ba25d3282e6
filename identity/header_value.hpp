// Making identity values safe to pass upstream as HTTP request headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sso {

// Header-safe form of `raw`:
//   - if every byte is printable ASCII (0x20..0x7E) and none is '%', `raw`
//     is returned unchanged (the common case: plain ASCII names, e-mails);
//   - otherwise every byte outside 0x20..0x7E and every '%' becomes "%XX"
//     (uppercase hex), everything else is kept.
// So CR/LF/NUL can never split or truncate a header, and UTF-8 text survives
// losslessly: the upstream percent-decodes the value to get the exact bytes
// back ("Zoë" → "Zo%C3%AB"). Because '%' is always escaped, decoding is
// unambiguous. Returns an empty string only if `raw` is empty or allocation
// fails (no exception escapes).
std::string encode_header_value(std::string_view raw) noexcept;

// Exact number of bytes encode_header_value(raw) produces.
std::size_t encoded_header_value_length(std::string_view raw) noexcept;

// Writes exactly encoded_header_value_length(raw) bytes to `out` (no NUL
// terminator): for callers that allocate from an nginx pool.
void encode_header_value_into(std::string_view raw, char* out) noexcept;

// The inverse of encode_header_value: the exact bytes that were encoded. A '%' that is not
// followed by two hex digits (never written by the encoder) is kept as is.
std::string decode_header_value(std::string_view encoded);

// True when the header name `name` is `wanted`, compared ASCII case-insensitively with every
// '_' read as '-' (how a client may try to slip a header past a strip: "x_sso_jwt").
bool is_header_name(std::string_view name, std::string_view wanted) noexcept;

// True when `name`, ASCII-lowercased with every '_' read as '-', starts with
// "x-sso-". Used to strip client-supplied copies of our identity headers
// whatever their case or underscore spelling ("X-SSO-User", "x_sso_user").
bool is_identity_header_name(std::string_view name) noexcept;

}  // namespace sso
