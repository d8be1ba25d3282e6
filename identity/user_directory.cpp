#include "identity/user_directory.hpp"

#include <algorithm>
#include <cstdint>
#include <new>

#include "identity/email.hpp"
#include "identity/header_value.hpp"

namespace sso {
namespace {

constexpr char kMagic[4] = {'S', 'S', 'O', 'D'};
constexpr std::size_t kHeader = 8;

void put_u32(std::string& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

std::uint32_t get_u32(std::string_view b, std::size_t at) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(b.data() + at);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}

// The entry at `offset`: its e-mail and record, bounds-checked.
struct Entry {
    std::string_view email, record;
};
std::optional<Entry> entry_at(std::string_view b, std::size_t offset) noexcept {
    if (offset > b.size() || b.size() - offset < 4) return std::nullopt;
    const std::size_t email_len = get_u32(b, offset);
    if (b.size() - offset - 4 < email_len) return std::nullopt;
    const std::size_t record_at = offset + 4 + email_len;
    if (b.size() - record_at < 4) return std::nullopt;
    const std::size_t record_len = get_u32(b, record_at);
    if (b.size() - record_at - 4 < record_len) return std::nullopt;
    return Entry{b.substr(offset + 4, email_len), b.substr(record_at + 4, record_len)};
}

}  // namespace

std::size_t snapshot_size(std::string_view b) noexcept {
    if (b.size() < kHeader || b.substr(0, 4) != std::string_view(kMagic, 4)) return 0;
    const std::size_t count = get_u32(b, 4);
    return count <= (b.size() - kHeader) / 4 ? count : 0;
}

std::optional<UserSnapshot> make_user_snapshot(std::vector<SessionRecord> records) noexcept {
    try {
        UserSnapshot snap;
        std::vector<SessionRecord> usable;
        usable.reserve(records.size());
        for (auto& r : records) {
            auto email = normalize_email(decode_header_value(r.email));
            if (!email) {
                ++snap.stats.no_email;
                continue;
            }
            r.email = std::move(*email);
            usable.push_back(std::move(r));
        }
        std::sort(usable.begin(), usable.end(),
                  [](const SessionRecord& a, const SessionRecord& b) { return a.email < b.email; });
        std::vector<const SessionRecord*> kept;
        kept.reserve(usable.size());
        for (std::size_t i = 0; i < usable.size();) {
            std::size_t j = i + 1;
            while (j < usable.size() && usable[j].email == usable[i].email) ++j;
            if (j - i == 1)
                kept.push_back(&usable[i]);
            else
                snap.stats.duplicates += j - i;
            i = j;
        }
        std::vector<std::string> encoded;
        encoded.reserve(kept.size());
        std::size_t total = kHeader + 4 * kept.size();
        for (const SessionRecord* r : kept) {
            // The key is the plain address; the record, like every identity value, header-safe.
            SessionRecord stored = *r;
            stored.email = encode_header_value(r->email);
            encoded.push_back(encode_session(stored));
            if (encoded.back().empty()) return std::nullopt;
            total += 8 + r->email.size() + encoded.back().size();
        }
        if (total > UINT32_MAX) return std::nullopt;  // offsets are 32-bit
        std::string& out = snap.bytes;
        out.reserve(total);
        out.append(kMagic, 4);
        put_u32(out, static_cast<std::uint32_t>(kept.size()));
        std::size_t offset = kHeader + 4 * kept.size();
        for (std::size_t i = 0; i < kept.size(); ++i) {
            put_u32(out, static_cast<std::uint32_t>(offset));
            offset += 8 + kept[i]->email.size() + encoded[i].size();
        }
        for (std::size_t i = 0; i < kept.size(); ++i) {
            put_u32(out, static_cast<std::uint32_t>(kept[i]->email.size()));
            out += kept[i]->email;
            put_u32(out, static_cast<std::uint32_t>(encoded[i].size()));
            out += encoded[i];
        }
        snap.stats.users = kept.size();
        return snap;
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

std::optional<std::string_view> find_in_snapshot(std::string_view b, std::string_view email) noexcept {
    std::size_t lo = 0, hi = snapshot_size(b);
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        auto e = entry_at(b, get_u32(b, kHeader + 4 * mid));
        if (!e) return std::nullopt;
        if (e->email == email) return e->record;
        if (e->email < email)
            lo = mid + 1;
        else
            hi = mid;
    }
    return std::nullopt;
}

}  // namespace sso
