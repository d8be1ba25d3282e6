// A worker's memory of sessions it recently read from a networked store (Redis).
//
// fresh(): an entry read less than `ttl` seconds ago stands in for a store round trip
// (`sso_session_cache`); so a logout made through another node is seen here within `ttl`.
// stale(): any remembered entry still inside its own absolute expiry, used only while the
// store cannot answer and `sso_store_failure cached` lets known sessions through.
// Bounded: when full, expired entries go first, then the oldest reads.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sso {

class SessionCache {
public:
    explicit SessionCache(std::size_t capacity = 4096) noexcept : capacity_(capacity) {}

    // Remembers `value`, read from the store at `now`, valid until `expires`. Never throws:
    // an entry that cannot be stored is simply not cached.
    void remember(std::string_view key, std::string_view value, std::int64_t now, std::int64_t expires) noexcept;

    std::optional<std::string_view> fresh(std::string_view key, std::int64_t now, std::int64_t ttl) noexcept;
    std::optional<std::string_view> stale(std::string_view key, std::int64_t now) noexcept;

    void forget(std::string_view key) noexcept;
    std::size_t size() const noexcept { return map_.size(); }

private:
    struct Entry {
        std::string value;
        std::int64_t read_at;
        std::int64_t expires;
        std::list<std::string>::iterator age;  // position in order_ (oldest read first)
    };
    Entry* find(std::string_view key, std::int64_t now) noexcept;
    void erase(std::unordered_map<std::string, Entry>::iterator it) noexcept;

    std::size_t capacity_;
    std::unordered_map<std::string, Entry> map_;
    std::list<std::string> order_;
};

}  // namespace sso
