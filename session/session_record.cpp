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
    for (const std::string* s :
         {&r.scope, &r.user, &r.email, &r.display_name, &r.auth_method, &r.idp, &r.name_id, &r.name_id_format,
          &r.session_index, &r.source, &r.name_qualifier, &r.sp_name_qualifier}) {
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
        w.str(r.source);
        w.str(r.name_qualifier);
        w.str(r.sp_name_qualifier);
        w.i64(r.created);
        w.i64(r.last_seen);
        w.i64(r.expires);
        return out;
    } catch (const std::bad_alloc&) {
        return {};
    }
}

namespace detail {
std::uint32_t read_u32(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}
std::uint16_t read_u16(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::uint16_t>((u[0] << 8) | u[1]);
}
}  // namespace detail

namespace {

bool view_str(Reader& in, std::string_view& out) noexcept {
    std::uint32_t len = 0;
    return in.u32(len) && in.bytes(len, out);
}

// A count and that many strings; `out.encoded` covers exactly those bytes.
bool view_list(Reader& in, std::string_view bytes, std::size_t cap, StringList& out) noexcept {
    const std::size_t start = bytes.size() - in.remaining();
    if (!in.count(cap, kStrOverhead, out.count)) return false;
    std::string_view skip;
    for (std::size_t i = 0; i < out.count; ++i)
        if (!view_str(in, skip)) return false;
    out.encoded = bytes.substr(start, bytes.size() - in.remaining() - start);
    return true;
}

}  // namespace

std::optional<SessionView> view_session(std::string_view bytes) noexcept {
    if (bytes.size() > kMaxSessionBytes) return std::nullopt;
    Reader in(bytes);
    std::string_view magic;
    std::uint8_t version = 0;
    if (!in.bytes(sizeof(kMagic), magic) || magic != std::string_view(kMagic, sizeof(kMagic)) || !in.u8(version) ||
        version < kOldestSessionFormatVersion || version > kSessionFormatVersion)
        return std::nullopt;
    SessionView v;
    if (!view_str(in, v.scope) || !view_str(in, v.user) || !view_str(in, v.email) || !view_str(in, v.display_name) ||
        !view_list(in, bytes, kMaxSessionGroups, v.groups))
        return std::nullopt;
    const std::size_t attributes_start = bytes.size() - in.remaining();
    if (!in.count(kMaxSessionAttributes, kStrOverhead + 2, v.attribute_count)) return std::nullopt;
    for (std::size_t i = 0; i < v.attribute_count; ++i) {
        std::string_view name;
        StringList values;
        if (!view_str(in, name) || !view_list(in, bytes, kMaxAttributeValues, values)) return std::nullopt;
    }
    v.attributes = bytes.substr(attributes_start, bytes.size() - in.remaining() - attributes_start);
    if (!view_str(in, v.auth_method) || !view_str(in, v.idp) || !view_str(in, v.name_id) ||
        !view_str(in, v.name_id_format) || !view_str(in, v.session_index) ||
        (version >= 2 && !view_str(in, v.source)) ||
        (version >= 3 && (!view_str(in, v.name_qualifier) || !view_str(in, v.sp_name_qualifier))) ||
        !in.i64(v.created) || !in.i64(v.last_seen) || !in.i64(v.expires))
        return std::nullopt;
    if (!in.done()) return std::nullopt;  // trailing bytes: not something we wrote
    return v;
}

std::optional<StringList> SessionView::attribute(std::string_view name) const noexcept {
    std::optional<StringList> found;
    for_each_attribute([&](std::string_view n, const StringList& values) {
        if (!found && n == name) found = values;
    });
    return found;
}

std::optional<SessionRecord> decode_session(std::string_view bytes) noexcept {
    auto v = view_session(bytes);
    if (!v) return std::nullopt;
    try {
        SessionRecord r;
        r.scope = v->scope;
        r.user = v->user;
        r.email = v->email;
        r.display_name = v->display_name;
        v->groups.for_each([&](std::string_view g) { r.groups.emplace_back(g); });
        v->for_each_attribute([&](std::string_view name, const StringList& values) {
            Attribute a;
            a.name = name;
            values.for_each([&](std::string_view value) { a.values.emplace_back(value); });
            r.attributes.push_back(std::move(a));
        });
        r.auth_method = v->auth_method;
        r.idp = v->idp;
        r.name_id = v->name_id;
        r.name_id_format = v->name_id_format;
        r.session_index = v->session_index;
        r.source = v->source;
        r.name_qualifier = v->name_qualifier;
        r.sp_name_qualifier = v->sp_name_qualifier;
        r.created = v->created;
        r.last_seen = v->last_seen;
        r.expires = v->expires;
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
