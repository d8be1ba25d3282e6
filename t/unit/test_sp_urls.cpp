#include <gtest/gtest.h>

#include <string>

#include "saml/sp_urls.hpp"

namespace sso {
namespace {

TEST(SpUrls, AcceptsAbsoluteHttpAcsUrls) {
    for (const char* good :
         {"https://app.example.org/sso/acs", "http://127.0.0.1:8080/sso/acs", "HTTPS://App.Example.org/sso/acs",
          "https://[::1]:8443/sso/acs", "https://app.example.org/sso/acs?tenant=1"}) {
        EXPECT_EQ(acs_url_problem(good), "") << good;
    }
}

TEST(SpUrls, RefusesAcsUrlsAnIdpCannotPostTo) {
    EXPECT_EQ(acs_url_problem(""), "is empty");
    EXPECT_EQ(acs_url_problem("/sso/acs"), "is a path, not an absolute URL");
    EXPECT_EQ(acs_url_problem("app.example.org/sso/acs"), "is not an absolute URL (no scheme)");
    EXPECT_EQ(acs_url_problem("//app.example.org/sso/acs"), "is a path, not an absolute URL");
    EXPECT_EQ(acs_url_problem("ftp://app.example.org/sso/acs"), "has the scheme \"ftp\", not http or https");
    EXPECT_EQ(acs_url_problem("urn:example:acs"), "has the scheme \"urn\", not http or https");
    EXPECT_EQ(acs_url_problem("https:///sso/acs"), "has no host");
    EXPECT_EQ(acs_url_problem("https://:443/sso/acs"), "has no host");
    EXPECT_EQ(acs_url_problem("https:/sso/acs"), "has no host");
    EXPECT_EQ(acs_url_problem("https://app.example.org/sso/acs#x"), "has a fragment, which a browser never sends");
    EXPECT_EQ(acs_url_problem("https://app.example.org/sso/ acs"), "contains whitespace or control characters");
    EXPECT_EQ(acs_url_problem("https://app.example.org/sso/acs\n"), "contains whitespace or control characters");
}

TEST(SpUrls, SplitsOriginAndPath) {
    auto u = split_http_url("https://app.example.org:8443/sso/acs?x=1#f");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->origin, "https://app.example.org:8443");
    EXPECT_EQ(u->path, "/sso/acs");
    u = split_http_url("http://app.example.org");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->origin, "http://app.example.org");
    EXPECT_EQ(u->path, "/");
    u = split_http_url("http://app.example.org?x");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->path, "/");
    EXPECT_FALSE(split_http_url("/sso/acs"));
    EXPECT_FALSE(split_http_url("ftp://host/x"));
    EXPECT_FALSE(split_http_url("https:///x"));
}

TEST(SpUrls, AcceptsAbsoluteUrisAsEntityIds) {
    for (const char* good : {"https://app.example.org/sso/metadata", "urn:example:sp",
                             "http://127.0.0.1:1/sso/metadata", "spn:1d2c3b4a", "urn:amazon:webservices"}) {
        EXPECT_EQ(entity_id_problem(good), "") << good;
    }
    EXPECT_EQ(entity_id_problem("urn:" + std::string(kMaxEntityIdLength - 4, 'x')), "");
}

TEST(SpUrls, RefusesEntityIdsThatAreNotAbsoluteUris) {
    EXPECT_EQ(entity_id_problem(""), "is empty");
    EXPECT_EQ(entity_id_problem("myapp"), "is not an absolute URI (no scheme such as https: or urn:)");
    EXPECT_EQ(entity_id_problem("/sso/metadata"), "is not an absolute URI (no scheme such as https: or urn:)");
    EXPECT_EQ(entity_id_problem("app.example.org/sso/metadata"),
              "is not an absolute URI (no scheme such as https: or urn:)");
    EXPECT_EQ(entity_id_problem("1urn:x"), "is not an absolute URI (no scheme such as https: or urn:)");
    EXPECT_EQ(entity_id_problem("urn:"), "has nothing after its scheme");
    EXPECT_EQ(entity_id_problem("urn:my app"), "contains whitespace or control characters");
    EXPECT_EQ(entity_id_problem("urn:" + std::string(kMaxEntityIdLength, 'x')),
              "is 1028 characters long (SAML allows 1024)");
}

TEST(SpUrls, LastPathSegment) {
    EXPECT_EQ(last_path_segment("/sso/acs"), "acs");
    EXPECT_EQ(last_path_segment("/sso/"), "");
    EXPECT_EQ(last_path_segment("acs"), "acs");
}

}  // namespace
}  // namespace sso
