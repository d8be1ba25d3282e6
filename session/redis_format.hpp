// How the store's tables look in Redis: key names, the value envelope and TTLs. Plain C++,
// no hiredis, no nginx: the Redis store (module/redis_store.cpp) only moves these bytes.
//
// Key: PREFIX + table name + ':' + key bytes (binary-safe; Redis keys are byte strings).
// Every table gets its name from table_name(), so a table added to session/store.hpp gets
// keys of its own without touching the store.
//
// Value envelope (all integers big-endian):
//   magic "SSO\x01" (4 bytes), u8 table, i64 expires, i64 idle_timeout, u32 payload length,
//   payload bytes (end of input: nothing may follow)
// The envelope carries the absolute expiry, so an idle refresh never extends an entry past it,
// and lets a reader tell our values from foreign or truncated ones under the same prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "session/store.hpp"

namespace sso {

inline constexpr std::size_t kRedisEnvelopeHeader = 4 + 1 + 8 + 8 + 4;

// "sessions", "pending_requests", "seen_assertions", "credentials"; "table<N>" for a table
// this list does not name yet.
std::string table_name(Table t);

std::string redis_key(std::string_view prefix, Table t, std::string_view key);

// The envelope around `payload`; empty when the payload is larger than a u32 can say.
std::string wrap_value(Table t, Lifetime life, std::string_view payload);

struct StoredValue {
    Lifetime life;
    std::string_view payload;  // points into the unwrapped input
};

// nullopt when `bytes` is not exactly one envelope of table `t` (foreign, truncated, padded).
std::optional<StoredValue> unwrap_value(Table t, std::string_view bytes) noexcept;

// Milliseconds an entry written at `now` (unix seconds) lives in Redis: up to its absolute
// expiry, or to the end of its idle period when that comes first. At least one second, so
// that an entry written in the last second of its life still guards against replays.
std::int64_t ttl_ms(Lifetime life, std::int64_t now) noexcept;

// When an entry read at `now` expires in Redis after the read refreshed its idle clock (unix
// milliseconds, for PEXPIREAT); nullopt when it has no idle timeout (the TTL stays).
std::optional<std::int64_t> refreshed_expiry_ms(Lifetime life, std::int64_t now) noexcept;

}  // namespace sso
