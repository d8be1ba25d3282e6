#include <gtest/gtest.h>

#include <libxml/xmlversion.h>
#include <openssl/crypto.h>

#include <regex>
#include <string>

#include "saml/build_info.hpp"

namespace sso {
namespace {

TEST(BuildInfo, Libxml2ParserVersionIsDotted) {
    EXPECT_EQ(libxml2_dotted("20914"), "2.9.14");
    EXPECT_EQ(libxml2_dotted("21203"), "2.12.3");
    EXPECT_EQ(libxml2_dotted("20900"), "2.9.0");
    // not a number: kept as it is rather than invented
    EXPECT_EQ(libxml2_dotted("2.9.14"), "2.9.14");
    EXPECT_EQ(libxml2_dotted(""), "");
    EXPECT_EQ(libxml2_dotted("20914-GITv2.9.14"), "20914-GITv2.9.14");
}

TEST(BuildInfo, NamesTheLibrariesItRunsOn) {
    const BuildInfo& b = build_info();
    EXPECT_TRUE(std::regex_match(b.version, std::regex(R"(\d+\.\d+\.\d+)"))) << b.version;
    EXPECT_EQ(b.openssl, OpenSSL_version(OPENSSL_VERSION_STRING));
    EXPECT_EQ(b.libxml2, LIBXML_DOTTED_VERSION);  // the test links the libxml2 it was built with
    EXPECT_TRUE(std::regex_match(b.lasso, std::regex(R"(\d+\.\d+\.\d+)"))) << b.lasso;
    EXPECT_TRUE(std::regex_match(b.xmlsec, std::regex(R"(\d+\.\d+\.\d+)"))) << b.xmlsec;
    EXPECT_EQ(&b, &build_info());
}

TEST(BuildInfo, OneLineForTheLog) {
    const BuildInfo b{"0.9.0", "2.8.1", "1.2.37", "2.9.14", "3.0.19"};
    EXPECT_EQ(describe_build(b),
              "ngx_http_sso_module 0.9.0 (Lasso 2.8.1, xmlsec1 1.2.37, libxml2 2.9.14, OpenSSL 3.0.19)");
}

}  // namespace
}  // namespace sso
