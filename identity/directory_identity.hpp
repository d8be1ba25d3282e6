// The identity of a user found in an LDAP directory, in the same session record a SAML login
// makes, so that every variable and header works the same whichever way the user came in.
#pragma once

#include <string_view>

#include "identity/users_file.hpp"
#include "ldap/directory.hpp"
#include "session/session_record.hpp"

namespace sso {

// Values are stored header-safe (identity/header_value.hpp), as identity_from_assertion does.
// auth_method is "ldap", idp names the directory block; the entry's DN is the attribute "dn".
// Scope and times are the caller's.
SessionRecord identity_from_directory(const ldap::DirectoryUser& user, std::string_view directory);

// An internal account of a users file (sso_sources ... users): auth_method "internal", idp and
// source name the source; its attr.NAME fields become attributes.
SessionRecord identity_from_internal(const InternalUser& user, std::string_view source);

}  // namespace sso
