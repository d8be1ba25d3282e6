// Several IdPs: which ones a location accepts (`sso_idp`), and the page on which the browser
// picks one when more than one is allowed.
#pragma once

#include "module/ngx_includes.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saml/service_provider.hpp"

namespace sso::ngx {

// Every value of a query argument, decoded; an undecodable one makes the result nullopt.
std::optional<std::vector<std::string>> query_values(ngx_http_request_t* r, std::string_view name);

// The IdPs a location accepts: its `sso_idp` list (an array of ngx_str_t), or null for all.
bool idp_allowed(const ngx_array_t* allowed, std::string_view entity_id) noexcept;

// A 200 page with one link per IdP, each to this same login URL with `idp` and `return_to`.
ngx_int_t send_idp_chooser(ngx_http_request_t* r, std::string_view return_to, const std::vector<IdpSummary>& idps);

}  // namespace sso::ngx
