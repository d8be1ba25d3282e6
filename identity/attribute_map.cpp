#include "identity/attribute_map.hpp"

#include "identity/email.hpp"
#include "identity/header_value.hpp"
#include "saml/text.hpp"

namespace sso {
namespace {

std::string first_value(const ValidatedAssertion& a, std::string_view name) {
    const SamlAttribute* attr = find_saml_attribute(a, name);
    return attr && !attr->values.empty() ? attr->values.front() : std::string();
}

}  // namespace

const SamlAttribute* find_saml_attribute(const ValidatedAssertion& a, std::string_view name) noexcept {
    if (name.empty()) return nullptr;
    for (const auto& attr : a.attributes)
        if (attr.name == name || attr.friendly_name == name) return &attr;
    return nullptr;
}

SessionRecord identity_from_assertion(const ValidatedAssertion& a, const AttributeMap& map) {
    SessionRecord r;
    // A user name of white space names nobody: left empty, the sign-in is refused.
    const std::string user = map.user.empty() ? a.name_id : first_value(a, map.user);
    if (!is_blank(user)) r.user = encode_header_value(user);
    // An e-mail that does not normalise is not an identity key; the raw value stays readable
    // through its attribute variable.
    if (auto email = normalize_email(first_value(a, map.email))) r.email = encode_header_value(*email);
    r.display_name = encode_header_value(first_value(a, map.display_name));
    if (const SamlAttribute* g = find_saml_attribute(a, map.groups))
        for (const auto& group : g->values) r.groups.push_back(encode_header_value(group));
    auto encoded = [](const std::vector<std::string>& values) {
        std::vector<std::string> out;
        out.reserve(values.size());
        for (const auto& v : values) out.push_back(encode_header_value(v));
        return out;
    };
    for (const auto& attr : a.attributes) {
        r.attributes.push_back({attr.name, encoded(attr.values)});
        if (!attr.friendly_name.empty() && attr.friendly_name != attr.name)
            r.attributes.push_back({attr.friendly_name, encoded(attr.values)});
    }
    r.auth_method = "saml";
    r.idp = encode_header_value(a.idp);
    r.name_id = a.name_id;
    r.name_id_format = a.name_id_format;
    r.session_index = a.session_index;
    r.name_qualifier = a.name_qualifier;
    r.sp_name_qualifier = a.sp_name_qualifier;
    return r;
}

bool session_is_of(const SessionView& session, std::string_view scope, std::string_view idp,
                   std::string_view name_id) noexcept {
    return session.scope == scope && session.auth_method == "saml" && session.name_id == name_id &&
           session.idp == encode_header_value(idp);
}

}  // namespace sso
