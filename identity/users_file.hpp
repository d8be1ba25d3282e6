// The users file: "internal" accounts kept next to the nginx configuration (docs/sources.md,
// "The users file"). Parsed once at configuration time; a bad file fails nginx -t with the line.
//
// One account per line; blank lines and lines whose first non-blank character is '#' are
// ignored. The first token is the e-mail address (the identity key, normalize_email), then
// space- or tab-separated key=value fields. A value is bare (no blanks, no '"') or
// "double-quoted" with \" and \\ as the only escapes. Keys:
//   user=      login name for form/Basic (default: the normalised e-mail); no ':' (Basic)
//   name=      display name
//   groups=    comma-separated group names
//   password=  an encoded hash that PasswordHash::parse accepts; absent: no password login
//   attr.NAME= an attribute value; repeatable: each occurrence adds a value
// Every field but attr.NAME at most once, no empty values, no control characters (tab only as
// a separator), lines up to kMaxUsersFileLine bytes, values up to kMaxUsersFileValue bytes.
// E-mails are unique after normalisation, user= names are unique, and no user= names the
// e-mail of another account (a typed login must find one account).
// Values are kept as written: whoever puts them into HTTP headers encodes them.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "identity/password_hash.hpp"
#include "session/session_record.hpp"  // Attribute

namespace sso {

constexpr std::size_t kMaxUsersFileBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxUsersFileLine = 16 * 1024;
constexpr std::size_t kMaxUsersFileValue = 4 * 1024;
// So that an internal account always fits a session record (session/session_record.hpp).
constexpr std::size_t kMaxUsersFileGroups = kMaxSessionGroups;
constexpr std::size_t kMaxUsersFileAttributes = kMaxSessionAttributes;
constexpr std::size_t kMaxUsersFileAttributeValues = kMaxAttributeValues;

struct InternalUser {
    std::size_t line = 0;
    std::string email;                     // normalised (normalize_email): the identity key
    std::string user;                      // login name (user=; default: the normalised e-mail)
    std::string display_name;              // name=
    std::vector<std::string> groups;       // groups=a,b,c (in file order)
    std::vector<Attribute> attributes;     // attr.NAME=value (in order of first appearance)
    std::optional<PasswordHash> password;  // password=<encoded hash>; absent: no form/Basic login
};

struct UsersFileError {
    std::size_t line;  // 1-based; 0: the file itself (cannot open, too large, ...)
    std::string message;
};

class UsersFile {
public:
    // Never throws: out of memory is a UsersFileError on line 0.
    static std::variant<UsersFile, UsersFileError> parse(std::string_view text) noexcept;
    // Reads a regular file of at most kMaxUsersFileBytes, then parse().
    static std::variant<UsersFile, UsersFileError> load(const std::string& path) noexcept;

    const std::vector<InternalUser>& users() const noexcept { return users_; }
    // The account whose normalised e-mail is `normalised` (O(log n)), or null.
    const InternalUser* by_email(std::string_view normalised) const noexcept;
    // A login name typed in the form/Basic: matches user= exactly, or else the e-mail after
    // normalising. The file's uniqueness rules make at most one account match.
    const InternalUser* by_login(std::string_view login) const noexcept;

private:
    std::vector<InternalUser> users_;
    std::map<std::string, std::size_t, std::less<>> by_email_, by_user_;  // -> index in users_
};

}  // namespace sso
