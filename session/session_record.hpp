// The session record and its binary codec.
//
// Records are stored outside the worker (shared memory now, Redis later),
// so decode_session() treats its input as hostile: every length is checked
// against what remains before anything is allocated, and any deviation from
// the exact format is refused.
//
// Wire format (all integers big-endian):
//   magic "SSOR" (4 bytes), version (1 byte: 3 is written; 1, without `source`, and 2, without
//   the NameID qualifiers, are still read so that sessions kept in Redis or shared memory
//   outlive an upgrade)
//   str scope, str user, str email, str display_name
//   u16 group_count, group_count * str
//   u16 attribute_count, attribute_count * (str name, u16 value_count, value_count * str)
//   str auth_method, str idp, str name_id, str name_id_format, str session_index
//   str source (version 2 on)
//   str name_qualifier, str sp_name_qualifier (version 3 on)
//   i64 created, i64 last_seen, i64 expires
//   (end of input: trailing bytes are refused)
// where str = u32 byte length followed by the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sso {

struct Attribute {
    std::string name;
    std::vector<std::string> values;

    friend bool operator==(const Attribute&, const Attribute&) = default;
};

struct SessionRecord {
    std::string scope;  // which server block (SP entityID) issued it; checked on every use
    std::string user, email, display_name;
    std::vector<std::string> groups;
    std::vector<Attribute> attributes;  // all SAML attributes, keyed by Name and FriendlyName as received
    std::string auth_method;            // "saml"
    std::string idp;                    // IdP entityID
    std::string name_id, name_id_format, session_index;  // for logout
    // The NameID's NameQualifier and SPNameQualifier exactly as the assertion had them (empty:
    // absent): our LogoutRequest names the NameID with them (SAML core 3.7.1).
    std::string name_qualifier, sp_name_qualifier;
    std::string source;  // the identity source (sso_sources) whose attributes these are; empty: none named
    std::int64_t created = 0, last_seen = 0, expires = 0;  // unix seconds; expires = absolute lifetime end

    friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

constexpr std::uint8_t kSessionFormatVersion = 3;
constexpr std::uint8_t kOldestSessionFormatVersion = 1;
constexpr std::size_t kMaxSessionBytes = 64 * 1024;  // whole encoding
constexpr std::size_t kMaxSessionGroups = 256;
constexpr std::size_t kMaxSessionAttributes = 256;
constexpr std::size_t kMaxAttributeValues = 256;  // per attribute

// Serialises `record` in the format above.
// Returns an EMPTY string (never a valid encoding, since a valid one is at
// least the 5-byte header) when:
//   - the record exceeds a cap that decode_session() enforces (so a record
//     that encodes always decodes), or
//   - memory allocation fails (std::bad_alloc is caught: this is called from
//     nginx C code and must not throw).
// Callers must treat an empty result as "cannot store this session".
std::string encode_session(const SessionRecord& record) noexcept;

// Strict inverse of encode_session(). nullopt on wrong magic/version,
// truncation, trailing bytes, counts/lengths beyond the caps, input larger
// than kMaxSessionBytes, or allocation failure. Never reads out of bounds.
// It does not judge the contents (scope, expiry): that is the caller's job.
std::optional<SessionRecord> decode_session(std::string_view bytes) noexcept;

// The same record read in place: views into `bytes`, no allocation. This is what a request
// with a session cookie pays for, so lists stay encoded and are walked on demand.
struct StringList {
    std::string_view encoded;  // validated: a u16 count and that many length-prefixed strings
    std::size_t count = 0;
    template <class F>
    void for_each(F&& f) const;  // f(std::string_view); noexcept when f is
};

struct SessionView {
    std::string_view scope, user, email, display_name;
    StringList groups;
    std::string_view attributes;  // validated: u16 count, then name + StringList each
    std::size_t attribute_count = 0;
    std::string_view auth_method, idp, name_id, name_id_format, session_index, source;
    std::string_view name_qualifier, sp_name_qualifier;
    std::int64_t created = 0, last_seen = 0, expires = 0;

    // The values of the attribute with exactly this name, or nullopt.
    std::optional<StringList> attribute(std::string_view name) const noexcept;
    // f(std::string_view name, const StringList& values) for every attribute.
    template <class F>
    void for_each_attribute(F&& f) const;
};

// Strict like decode_session: anything it did not write is nullopt.
std::optional<SessionView> view_session(std::string_view bytes) noexcept;

namespace detail {
std::uint32_t read_u32(const char* p) noexcept;
std::uint16_t read_u16(const char* p) noexcept;
}  // namespace detail

template <class F>
void StringList::for_each(F&& f) const {
    const char* p = encoded.data() + 2;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t len = detail::read_u32(p);
        f(std::string_view(p + 4, len));
        p += 4 + len;
    }
}

template <class F>
void SessionView::for_each_attribute(F&& f) const {
    const char* p = attributes.data() + 2;
    for (std::size_t i = 0; i < attribute_count; ++i) {
        const std::uint32_t name_len = detail::read_u32(p);
        const std::string_view name(p + 4, name_len);
        p += 4 + name_len;
        StringList values;
        values.count = detail::read_u16(p);
        const char* start = p;
        p += 2;
        for (std::size_t v = 0; v < values.count; ++v) p += 4 + detail::read_u32(p);
        values.encoded = std::string_view(start, static_cast<std::size_t>(p - start));
        f(name, values);
    }
}

// First attribute whose name equals `name` exactly (SAML attribute names and
// FriendlyNames are case-sensitive), or nullptr. The pointer is valid while
// the record is alive and its attributes vector is unmodified.
const Attribute* find_attribute(const SessionRecord& record, std::string_view name) noexcept;

}  // namespace sso
