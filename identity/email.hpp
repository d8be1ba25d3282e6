// E-mail address normalisation into an identity key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sso {

constexpr std::size_t kMaxEmailLength = 254;      // RFC 5321 path limit minus "<>"
constexpr std::size_t kMaxEmailLocalLength = 64;  // RFC 5321 local-part limit

// Normalised identity key for an e-mail address, or nullopt if it is not a
// plain "local@domain" address.
//   - surrounding ASCII whitespace is trimmed;
//   - exactly one '@', non-empty local part (<= 64 bytes) and domain;
//   - total length (after trimming) <= 254 bytes;
//   - local part: RFC 5322 atext and '.', or UTF-8; no quoted local parts,
//     so control chars, spaces, '"', '\', '<', '>', '(', ')', ',', ':', ';',
//     '[', ']' are refused anywhere (dots are not further policed: some real
//     mailboxes have "a..b" local parts and the key stays unambiguous);
//   - domain: dot-separated non-empty labels (so no leading/trailing dot, no
//     "..") of letters, digits, '-' or UTF-8, each <= 63 bytes, not starting
//     or ending with '-'; no address literals ("[1.2.3.4]");
//   - non-ASCII bytes must form valid UTF-8.
// ASCII letters are lower-cased in the domain AND the local part: the result
// is a case-folded key for matching users, not a deliverable address (RFC
// 5321 lets a local part be case-sensitive; in practice no provider relies
// on that, and folding avoids duplicate identities). Non-ASCII is not folded.
// nullopt also on allocation failure.
std::optional<std::string> normalize_email(std::string_view address) noexcept;

}  // namespace sso
