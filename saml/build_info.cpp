#include "saml/build_info.hpp"

#include <libxml/parser.h>
#include <openssl/crypto.h>
#include <xmlsec/version.h>

#ifndef SSO_VERSION
#error "SSO_VERSION comes from project(VERSION) in CMakeLists.txt"
#endif
#ifndef SSO_LASSO_VERSION
#error "SSO_LASSO_VERSION comes from pkg-config (lasso.pc) in CMakeLists.txt"
#endif

namespace sso {

std::string libxml2_dotted(std::string_view v) {
    if (v.empty() || v.size() > 9) return std::string(v);
    unsigned long n = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return std::string(v);
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    return std::to_string(n / 10000) + "." + std::to_string(n / 100 % 100) + "." + std::to_string(n % 100);
}

const BuildInfo& build_info() {
    static const BuildInfo info{SSO_VERSION, SSO_LASSO_VERSION, XMLSEC_VERSION,
                                libxml2_dotted(xmlParserVersion ? xmlParserVersion : ""),
                                OpenSSL_version(OPENSSL_VERSION_STRING)};
    return info;
}

std::string describe_build(const BuildInfo& b) {
    return "ngx_http_sso_module " + b.version + " (Lasso " + b.lasso + ", xmlsec1 " + b.xmlsec + ", libxml2 " +
           b.libxml2 + ", OpenSSL " + b.openssl + ")";
}

}  // namespace sso
