#include "session/session_record.hpp"

#include <limits>
#include <new>

namespace sso {

namespace {

constexpr char kMagic[4] = {'S', 'S', 'O', 'R'};
constexpr std::size_t kHeaderBytes = sizeof(kMagic) + 1;

// Appends big-endian fields; the caller has already checked the caps, so the
// only failure left is bad_alloc, handled by encode_session().
class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }

    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v));
    }

    void u32(std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            u8(static_cast<std::uint8_t>(v >> shift));
        }
    }

    void i64(std::int64_t v) {
        const auto u = static_cast<std::uint64_t>(v);  // two's complement, well defined
        for (int shift = 56; shift >= 0; shift -= 8) {
            u8(static_cast<std::uint8_t>(u >> shift));
        }
    }

    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.append(s);
    }

private:
    std::string& out_;
};

// Consumes fields from untrusted bytes; every read checks what remains.
class Reader {
public:
    explicit Reader(std::string_view in) noexcept : in_(in) {}

    bool done() const noexcept { return pos_ == in_.size(); }
    std::size_t remaining() const noexcept { return in_.size() - pos_; }

    bool bytes(std::size_t n, std::string_view& out) noexcept {
        if (n > remaining()) {
            return false;
        }
        out = in_.substr(pos_, n);
        pos_ += n;
        return true;
    }

    bool u8(std::uint8_t& v) noexcept {
        if (remaining() < 1) {
            return false;
        }
        v = static_cast<std::uint8_t>(in_[pos_++]);
        return true;
    }

    bool u16(std::uint16_t& v) noexcept {
        std::uint64_t x = 0;
        if (!be(2, x)) {
            return false;
        }
        v = static_cast<std::uint16_t>(x);
        return true;
    }

    bool u32(std::uint32_t& v) noexcept {
        std::uint64_t x = 0;
        if (!be(4, x)) {
            return false;
        }
        v = static_cast<std::uint32_t>(x);
        return true;
    }

    bool i64(std::int64_t& v) noexcept {
        std::uint64_t x = 0;
        if (!be(8, x)) {
            return false;
        }
        v = static_cast<std::int64_t>(x);  // modular conversion (C++20)
        return true;
    }

    // Length is validated against the remaining input before allocating.
    bool str(std::string& out) {
        std::uint32_t len = 0;
        std::string_view view;
        if (!u32(len) || !bytes(len, view)) {
            return false;
        }
        out.assign(view);
        return true;
    }

    // A count followed by `count` entries of at least `min_entry_bytes` each:
    // refuse counts above `cap` or that cannot possibly fit in what remains.
    bool count(std::size_t cap, std::size_t min_entry_bytes, std::size_t& out) noexcept {
        std::uint16_t n = 0;
        if (!u16(n) || n > cap || std::size_t{n} * min_entry_bytes > remaining()) {
            return false;
        }
        out = n;
        return true;
    }

private:
    bool be(std::size_t n, std::uint64_t& v) noexcept {
        if (remaining() < n) {
            return false;
        }
        v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v = (v << 8) | static_cast<std::uint8_t>(in_[pos_ + i]);
        }
        pos_ += n;
        return true;
    }

    std::string_view in_;
    std::size_t pos_ = 0;
};

constexpr std::size_t kStrOverhead = 4;

std::size_t encoded_size(const SessionRecord& r) noexcept {
    // Each term is bounded by container sizes, which cannot overflow size_t
    // in any realistic sense; the caps are applied afterwards.
    std::size_t n = kHeaderBytes;
    for (const std::string* s : {&r.scope, &r.user, &r.email, &r.display_name, &r.auth_method, &r.idp, &r.name_id,
                                 &r.name_id_format, &r.session_index}) {
        n += kStrOverhead + s->size();
    }
    n += 2;
    for (const auto& g : r.groups) {
        n += kStrOverhead + g.size();
    }
    n += 2;
    for (const auto& a : r.attributes) {
        n += kStrOverhead + a.name.size() + 2;
        for (const auto& v : a.values) {
            n += kStrOverhead + v.size();
        }
    }
    n += 3 * 8;
    return n;
}

bool within_caps(const SessionRecord& r) noexcept {
    if (r.groups.size() > kMaxSessionGroups || r.attributes.size() > kMaxSessionAttributes) {
        return false;
    }
    for (const auto& a : r.attributes) {
        if (a.values.size() > kMaxAttributeValues) {
            return false;
        }
    }
    // The total cap also bounds every single string below 2^32.
    return encoded_size(r) <= kMaxSessionBytes;
}

}  // namespace

std::string encode_session(const SessionRecord& r) noexcept {
    if (!within_caps(r)) {
        return {};
    }
    try {
        std::string out;
        out.reserve(encoded_size(r));
        Writer w(out);
        out.append(kMagic, sizeof(kMagic));
        w.u8(kSessionFormatVersion);
        w.str(r.scope);
        w.str(r.user);
        w.str(r.email);
        w.str(r.display_name);
        w.u16(static_cast<std::uint16_t>(r.groups.size()));
        for (const auto& g : r.groups) {
            w.str(g);
        }
        w.u16(static_cast<std::uint16_t>(r.attributes.size()));
        for (const auto& a : r.attributes) {
            w.str(a.name);
            w.u16(static_cast<std::uint16_t>(a.values.size()));
            for (const auto& v : a.values) {
                w.str(v);
            }
        }
        w.str(r.auth_method);
        w.str(r.idp);
        w.str(r.name_id);
        w.str(r.name_id_format);
        w.str(r.session_index);
        w.i64(r.created);
        w.i64(r.last_seen);
        w.i64(r.expires);
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

std::optional<SessionRecord> decode_session(std::string_view bytes) noexcept {
    if (bytes.size() > kMaxSessionBytes) {
        return std::nullopt;
    }
    try {
        Reader in(bytes);
        std::string_view magic;
        std::uint8_t version = 0;
        if (!in.bytes(sizeof(kMagic), magic) || magic != std::string_view(kMagic, sizeof(kMagic)) || !in.u8(version) ||
            version != kSessionFormatVersion) {
            return std::nullopt;
        }

        SessionRecord r;
        if (!in.str(r.scope) || !in.str(r.user) || !in.str(r.email) || !in.str(r.display_name)) {
            return std::nullopt;
        }

        std::size_t groups = 0;
        if (!in.count(kMaxSessionGroups, kStrOverhead, groups)) {
            return std::nullopt;
        }
        r.groups.resize(groups);
        for (auto& g : r.groups) {
            if (!in.str(g)) {
                return std::nullopt;
            }
        }

        std::size_t attributes = 0;
        if (!in.count(kMaxSessionAttributes, kStrOverhead + 2, attributes)) {
            return std::nullopt;
        }
        r.attributes.resize(attributes);
        for (auto& a : r.attributes) {
            std::size_t values = 0;
            if (!in.str(a.name) || !in.count(kMaxAttributeValues, kStrOverhead, values)) {
                return std::nullopt;
            }
            a.values.resize(values);
            for (auto& v : a.values) {
                if (!in.str(v)) {
                    return std::nullopt;
                }
            }
        }

        if (!in.str(r.auth_method) || !in.str(r.idp) || !in.str(r.name_id) || !in.str(r.name_id_format) ||
            !in.str(r.session_index) || !in.i64(r.created) || !in.i64(r.last_seen) || !in.i64(r.expires)) {
            return std::nullopt;
        }
        if (!in.done()) {
            return std::nullopt;  // trailing bytes: not something we wrote
        }
        return r;
    } catch (const std::bad_alloc&) {
        return std::nullopt;
    }
}

const Attribute* find_attribute(const SessionRecord& record, std::string_view name) noexcept {
    for (const auto& a : record.attributes) {
        if (a.name == name) {
            return &a;
        }
    }
    return nullptr;
}

}  // namespace sso
