// Structural checks on a decoded SAML Response before any signature is verified. They close
// the classes of attack where a correct signature covers a different element than the one the
// SP reads: XML signature wrapping, several or nested assertions, duplicate IDs, References
// that do not point at their parent, unexpected transforms, DOCTYPE/entity tricks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sso {

struct ResponseGuardLimits {
    std::size_t max_depth = 24;
    std::size_t max_elements = 4096;
    bool allow_sha1 = false;
    bool require_assertion_signature = false;  // WantAssertionsSigned: a Response signature is not enough
};

// nullopt when the document has the one shape we accept; otherwise the reason to refuse it.
std::optional<std::string> check_response_structure(std::string_view xml, const ResponseGuardLimits& limits);

}  // namespace sso
