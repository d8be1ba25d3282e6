#include "session/replay_state.hpp"

namespace sso {
namespace {

constexpr std::string_view kMagic = "nginx-sso replay state 1\n";
constexpr std::string_view kTrailer = "end";
constexpr std::size_t kMaxKey = 1024;
constexpr std::size_t kMaxValue = 1024;

void put(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

bool get(std::string_view& in, int bytes, std::uint64_t& v) noexcept {
    if (in.size() < static_cast<std::size_t>(bytes)) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
    in.remove_prefix(bytes);
    return true;
}

}  // namespace

std::string encode_replay_state(std::int64_t horizon, const std::vector<ReplayEntry>& entries) {
    std::string out(kMagic);
    put(out, static_cast<std::uint64_t>(horizon), 8);
    std::uint64_t count = 0;
    for (const ReplayEntry& e : entries) {
        if (e.key.empty() || e.key.size() > kMaxKey || e.value.size() > kMaxValue) continue;
        put(out, static_cast<std::uint64_t>(e.expires), 8);
        put(out, e.key.size(), 2);
        put(out, e.value.size(), 2);
        out += e.key;
        out += e.value;
        ++count;
    }
    put(out, 0, 8);  // an entry that expired in 1970 ends the list
    out += kTrailer;
    put(out, count, 8);
    return out;
}

DecodedReplayState decode_replay_state(std::string_view in, std::int64_t now) {
    DecodedReplayState out;
    if (in.substr(0, kMagic.size()) != kMagic) return out;
    in.remove_prefix(kMagic.size());
    std::uint64_t horizon = 0;
    if (!get(in, 8, horizon)) return out;
    out.horizon = static_cast<std::int64_t>(horizon);
    std::uint64_t count = 0;
    for (;;) {
        std::uint64_t expires = 0, key_len = 0, value_len = 0;
        if (!get(in, 8, expires)) return out;
        if (expires == 0) break;
        if (!get(in, 2, key_len) || !get(in, 2, value_len)) return out;
        if (key_len == 0 || key_len > kMaxKey || value_len > kMaxValue || in.size() < key_len + value_len) return out;
        ++count;
        const auto when = static_cast<std::int64_t>(expires);
        if (when > now)
            out.entries.push_back(
                {std::string(in.substr(0, key_len)), std::string(in.substr(key_len, value_len)), when});
        in.remove_prefix(key_len + value_len);
    }
    std::uint64_t written = 0;
    if (in.substr(0, kTrailer.size()) != kTrailer) return out;
    in.remove_prefix(kTrailer.size());
    out.complete = get(in, 8, written) && written == count && in.empty();
    return out;
}

}  // namespace sso
