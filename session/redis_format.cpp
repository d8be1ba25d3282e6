#include "session/redis_format.hpp"

#include <algorithm>
#include <limits>

namespace sso {
namespace {

constexpr std::string_view kMagic{"SSO\x01", 4};

void put_u64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint64_t get_u64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::string table_name(Table t) {
    switch (t) {
        case Table::sessions:
            return "sessions";
        case Table::pending_requests:
            return "pending_requests";
        case Table::seen_assertions:
            return "seen_assertions";
        case Table::credentials:
            return "credentials";
        case Table::slo_index:
            return "slo_index";
        case Table::slo_subjects:
            return "slo_subjects";
    }
    return "table" + std::to_string(static_cast<unsigned>(t));
}

std::string redis_key(std::string_view prefix, Table t, std::string_view key) {
    std::string out(prefix);
    out += table_name(t);
    out += ':';
    out += key;
    return out;
}

std::string wrap_value(Table t, Lifetime life, std::string_view payload) {
    if (payload.size() > std::numeric_limits<std::uint32_t>::max()) return {};
    std::string out;
    out.reserve(kRedisEnvelopeHeader + payload.size());
    out += kMagic;
    out.push_back(static_cast<char>(t));
    put_u64(out, static_cast<std::uint64_t>(life.expires));
    put_u64(out, static_cast<std::uint64_t>(life.idle_timeout));
    const auto n = static_cast<std::uint32_t>(payload.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
    out += payload;
    return out;
}

std::optional<StoredValue> unwrap_value(Table t, std::string_view bytes) noexcept {
    if (bytes.size() < kRedisEnvelopeHeader || bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (p[4] != static_cast<unsigned char>(t)) return std::nullopt;
    StoredValue v;
    v.life.expires = static_cast<std::int64_t>(get_u64(p + 5));
    v.life.idle_timeout = static_cast<std::int64_t>(get_u64(p + 13));
    const std::uint32_t n = (std::uint32_t{p[21]} << 24) | (std::uint32_t{p[22]} << 16) | (std::uint32_t{p[23]} << 8) |
                            std::uint32_t{p[24]};
    if (bytes.size() - kRedisEnvelopeHeader != n || v.life.idle_timeout < 0) return std::nullopt;
    v.payload = bytes.substr(kRedisEnvelopeHeader);
    return v;
}

std::int64_t ttl_ms(Lifetime life, std::int64_t now) noexcept {
    std::int64_t end = life.expires;
    if (life.idle_timeout > 0 && life.idle_timeout < end - now) end = now + life.idle_timeout;
    const std::int64_t seconds = std::max<std::int64_t>(1, end - now);
    return seconds > std::numeric_limits<std::int64_t>::max() / 1000 ? std::numeric_limits<std::int64_t>::max() / 1000
                                                                     : seconds * 1000;
}

std::optional<std::int64_t> refreshed_expiry_ms(Lifetime life, std::int64_t now) noexcept {
    if (life.idle_timeout <= 0) return std::nullopt;
    const std::int64_t end = life.idle_timeout < life.expires - now ? now + life.idle_timeout : life.expires;
    return end * 1000;
}

}  // namespace sso
