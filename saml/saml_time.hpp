// xs:dateTime as SAML uses it (always UTC): "2026-11-21T05:30:00Z", optional fraction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sso {

// Seconds since the epoch, or nullopt for anything that is not a UTC xs:dateTime.
std::optional<std::int64_t> parse_saml_time(std::string_view text) noexcept;

std::string format_saml_time(std::int64_t unix_seconds);

}  // namespace sso
