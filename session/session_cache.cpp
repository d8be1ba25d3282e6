#include "session/session_cache.hpp"

namespace sso {

void SessionCache::erase(std::unordered_map<std::string, Entry>::iterator it) noexcept {
    order_.erase(it->second.age);
    map_.erase(it);
}

SessionCache::Entry* SessionCache::find(std::string_view key, std::int64_t now) noexcept {
    try {
        auto it = map_.find(std::string(key));
        if (it == map_.end()) return nullptr;
        if (now >= it->second.expires) {
            erase(it);
            return nullptr;
        }
        return &it->second;
    } catch (...) {
        return nullptr;
    }
}

void SessionCache::remember(std::string_view key, std::string_view value, std::int64_t now,
                            std::int64_t expires) noexcept {
    if (capacity_ == 0 || now >= expires) return;
    try {
        forget(key);
        while (map_.size() >= capacity_) {
            // The oldest read goes; an expired one would have gone first, but finding it
            // would cost a scan: the oldest read is the most likely to be expired anyway.
            erase(map_.find(order_.front()));
        }
        order_.emplace_back(key);
        auto age = std::prev(order_.end());
        try {
            map_.emplace(std::string(key), Entry{std::string(value), now, expires, age});
        } catch (...) {
            order_.erase(age);
        }
    } catch (...) {
        // not cached: the next request asks the store
    }
}

std::optional<std::string_view> SessionCache::fresh(std::string_view key, std::int64_t now, std::int64_t ttl) noexcept {
    Entry* e = find(key, now);
    if (!e || now - e->read_at >= ttl) return std::nullopt;
    return std::string_view(e->value);
}

std::optional<std::string_view> SessionCache::stale(std::string_view key, std::int64_t now) noexcept {
    Entry* e = find(key, now);
    if (!e) return std::nullopt;
    return std::string_view(e->value);
}

void SessionCache::forget(std::string_view key) noexcept {
    try {
        auto it = map_.find(std::string(key));
        if (it != map_.end()) erase(it);
    } catch (...) {
    }
}

}  // namespace sso
