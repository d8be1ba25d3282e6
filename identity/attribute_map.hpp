// Which SAML attribute feeds which part of the identity, and the mapping itself.
#pragma once

#include <cstdint>
#include <string>

#include "saml/service_provider.hpp"
#include "session/session_record.hpp"

namespace sso {

// Each entry names an attribute by its Name or its FriendlyName. An empty user means NameID.
struct AttributeMap {
    std::string user;
    std::string email = "mail";
    std::string display_name = "displayName";
    std::string groups = "groups";
};

const SamlAttribute* find_saml_attribute(const ValidatedAssertion& a, std::string_view name) noexcept;

// The session record for a validated assertion; times and scope are the caller's. The values
// that reach headers and variables (user, e-mail, name, groups, attribute values) are stored
// header-safe (identity/header_value.hpp): encoded once here, at sign-in, so that a request
// only points at them. NameID and SessionIndex stay as the IdP sent them.
SessionRecord identity_from_assertion(const ValidatedAssertion& assertion, const AttributeMap& map);

// Whether a stored session is a SAML session of this server block (`scope`) that IdP `idp`
// (its entityID as the IdP names itself) signed in for NameID `name_id`: what a LogoutRequest
// naming that NameID may end. The stored IdP is header-safe, so it is compared encoded.
bool session_is_of(const SessionView& session, std::string_view scope, std::string_view idp,
                   std::string_view name_id) noexcept;

}  // namespace sso
