// What this build is: the module's version (one source, `project(VERSION)` in CMakeLists.txt)
// and the versions of the libraries the SAML side runs on, for the line logged at load, the
// `version` of sso_status and the sso_build_info metric.
#pragma once

#include <string>
#include <string_view>

namespace sso {

struct BuildInfo {
    std::string version;  // the module's, e.g. "0.9.0"
    std::string lasso;    // built against: Lasso has no run-time version query
    std::string xmlsec;   // built against: xmlsec1 has none either (only a check)
    std::string libxml2;  // as loaded (xmlParserVersion)
    std::string openssl;  // as loaded (OpenSSL_version)
};

// Read once; the same for the whole process.
const BuildInfo& build_info();

// "ngx_http_sso_module 0.9.0 (Lasso 2.8.1, xmlsec1 1.2.37, libxml2 2.9.14, OpenSSL 3.0.19)"
std::string describe_build(const BuildInfo& b);

// libxml2's xmlParserVersion ("20914") as a dotted version ("2.9.14"); anything else as it is.
std::string libxml2_dotted(std::string_view parser_version);

}  // namespace sso
