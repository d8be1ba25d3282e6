#include "identity/directory_identity.hpp"

#include "identity/email.hpp"
#include "identity/header_value.hpp"

namespace sso {

SessionRecord identity_from_directory(const ldap::DirectoryUser& user, std::string_view directory) {
    SessionRecord r;
    r.user = encode_header_value(user.user);
    // As for SAML: an address that does not normalise is not an identity key.
    if (auto email = normalize_email(user.email)) r.email = encode_header_value(*email);
    r.display_name = encode_header_value(user.display_name);
    r.groups.reserve(user.groups.size());
    for (const auto& group : user.groups) r.groups.push_back(encode_header_value(group));
    r.attributes.push_back({"dn", {encode_header_value(user.dn)}});
    r.auth_method = "ldap";
    r.idp = encode_header_value(directory);
    return r;
}

SessionRecord identity_from_internal(const InternalUser& user, std::string_view source) {
    SessionRecord r;
    r.user = encode_header_value(user.user);
    r.email = encode_header_value(user.email);
    r.display_name = encode_header_value(user.display_name);
    r.groups.reserve(user.groups.size());
    for (const auto& group : user.groups) r.groups.push_back(encode_header_value(group));
    for (const auto& a : user.attributes) {
        Attribute& out = r.attributes.emplace_back();
        out.name = a.name;
        for (const auto& v : a.values) out.values.push_back(encode_header_value(v));
    }
    r.auth_method = "internal";
    r.idp = encode_header_value(source);
    r.source = std::string(source);
    return r;
}

}  // namespace sso
