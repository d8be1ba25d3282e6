// The IdPs a metadata document describes: one EntityDescriptor, or an aggregate
// (EntitiesDescriptor, nested ones too) as federations publish. Each IdP is returned as a
// standalone document, the form in which Lasso loads a provider.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "saml/result.hpp"

namespace sso {

struct IdpEntity {
    std::string entity_id;
    std::string display_name;  // mdui:DisplayName (English first), else OrganizationDisplayName, else entityID
    std::string xml;           // the EntityDescriptor alone, namespaces included
};

// Entities without an IDPSSODescriptor (SPs, attribute authorities) are skipped. At least one
// IdP, at most max_idps, entityIDs unique: otherwise a config error naming the problem.
Result<std::vector<IdpEntity>> idp_entities_of(const std::string& metadata_xml, std::size_t max_idps = 1000);

}  // namespace sso
