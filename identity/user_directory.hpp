// A snapshot of one imported source's users, keyed by normalised e-mail, as one contiguous block
// of bytes: built once per import (in a pool thread), copied into shared memory in one piece,
// and searched in place by every worker (binary search, no allocation).
//
// Layout (integers big-endian):
//   magic "SSOD", u32 count, count * u32 offset (of each entry, sorted by e-mail)
//   entries: u32 email_length, email, u32 record_length, record (session/session_record.hpp)
// The record holds the identity exactly as a sign-in from this source would make it
// (header-safe values, `source` set); scope, times and SAML fields are empty.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session/session_record.hpp"

namespace sso {

struct SnapshotStats {
    std::size_t users = 0;       // entries in the snapshot
    std::size_t no_email = 0;    // input users without a usable e-mail (not normalisable)
    std::size_t duplicates = 0;  // input users sharing an e-mail with another: all of them left out
};

struct UserSnapshot {
    std::string bytes;  // the layout above
    SnapshotStats stats;
};

// The snapshot of `records`, whose values are header-safe as a sign-in stores them: each is keyed
// by its e-mail, decoded and normalised (a user whose address does not normalise is left out). Two entries with the
// same e-mail are ambiguous: both are left out (and counted), so an import never picks one person's groups at random.
// nullopt when memory runs out or a record cannot be encoded.
std::optional<UserSnapshot> make_user_snapshot(std::vector<SessionRecord> records) noexcept;

// The encoded record of `email` (already normalised), or nullopt. Views into `snapshot`.
// Expects bytes that make_user_snapshot wrote (it lives in our own shared memory); it still
// checks every offset and length against the size, so a damaged block reads as "not found".
std::optional<std::string_view> find_in_snapshot(std::string_view snapshot, std::string_view email) noexcept;

// How many entries the snapshot has (0 for anything that is not one).
std::size_t snapshot_size(std::string_view snapshot) noexcept;

}  // namespace sso
