#include "session/page.hpp"

#include <gtest/gtest.h>

namespace sso {
namespace {

Page base() {
    Page p;
    p.status = 403;
    p.title = "Access denied";
    p.message = "Not for you.";
    p.site = "app.example";
    p.reference = "0123456789abcdef0123456789abcdef";
    p.login_uri = "/sso/login";
    p.logout_uri = "/sso/logout";
    return p;
}

TEST(PageTest, NamesTheSiteAndShowsTheReference) {
    const std::string html = page_html(base());
    EXPECT_NE(html.find("<title>Access denied - app.example</title>"), std::string::npos);
    EXPECT_NE(html.find("<p class=\"site\">app.example</p>"), std::string::npos);
    EXPECT_NE(html.find("Reference: <code>0123456789abcdef0123456789abcdef</code>"), std::string::npos);
}

TEST(PageTest, NoSiteNoReferenceNoForwardMeansNoLines) {
    Page p;
    p.title = "Not found";
    p.message = "Nothing here.";
    const std::string html = page_html(p);
    EXPECT_EQ(html.find("class=\"site\""), std::string::npos);
    EXPECT_EQ(html.find("Reference"), std::string::npos);
    EXPECT_EQ(html.find("<a "), std::string::npos);
    EXPECT_EQ(html.find("<form"), std::string::npos);
}

TEST(PageTest, EscapesEverythingGiven) {
    Page p = base();
    p.title = "<t>";
    p.message = "a&b";
    p.site = "\"evil\"";
    p.user = "<script>";
    p.forward = PageForward::switch_account;
    p.return_to = "/x?a=1&b=\"2\"";
    const std::string html = page_html(p);
    EXPECT_EQ(html.find("<t>"), std::string::npos);
    EXPECT_EQ(html.find("<script>"), std::string::npos);
    EXPECT_EQ(html.find("\"evil\""), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
    EXPECT_NE(html.find("a&amp;b"), std::string::npos);
}

TEST(PageTest, RetryLeadsBackToThePageWanted) {
    Page p = base();
    p.forward = PageForward::retry;
    p.return_to = "/app/x?y=1&z=2";
    EXPECT_NE(page_html(p).find("<a href=\"/app/x?y=1&amp;z=2\">Try again</a>"), std::string::npos);
    p.return_to = "";
    EXPECT_NE(page_html(p).find("<a href=\"/\">Try again</a>"), std::string::npos);
}

TEST(PageTest, SignInAgainComesBackToThePageWanted) {
    Page p = base();
    p.forward = PageForward::sign_in;
    p.return_to = "/app/?a=b";
    const std::string html = page_html(p);
    EXPECT_NE(html.find("<a href=\"/sso/login?return_to=%2Fapp%2F%3Fa%3Db\">Sign in again</a>"), std::string::npos);
    EXPECT_NE(html.find("<a href=\"/\">Go to the home page</a>"), std::string::npos);
    p.login_uri = "";
    EXPECT_EQ(page_html(p).find("Sign in again"), std::string::npos);
}

TEST(PageTest, ContinueComesBeforeTheWayForward) {
    Page p = base();
    p.forward = PageForward::sign_in;
    p.continue_to = "/bye?a=1&b=2";
    const std::string html = page_html(p);
    const auto cont = html.find("<a href=\"/bye?a=1&amp;b=2\">Continue</a>");
    ASSERT_NE(cont, std::string::npos);
    EXPECT_LT(cont, html.find("Sign in again"));
}

TEST(PageTest, SwitchAccountIsAPostFormWithWhoIsSignedIn) {
    Page p = base();
    p.forward = PageForward::switch_account;
    p.user = "alice";
    p.return_to = "/admin/";
    const std::string html = page_html(p);
    EXPECT_NE(html.find("Signed in as <b>alice</b>"), std::string::npos);
    EXPECT_NE(html.find("<form class=\"forward\" method=\"post\" "
                        "action=\"/sso/logout?return_to=%2Fsso%2Flogin%3Freturn_to%3D%252Fadmin%252F\">"),
              std::string::npos);
    EXPECT_EQ(html.find("href=\"/sso/logout"), std::string::npos);  // never a GET link
}

TEST(PageTest, JsonKeepsItsShapeAndAddsTheReference) {
    Page p = base();
    p.message = "say \"no\"";
    EXPECT_EQ(page_json(p),
              "{\"status\":403,\"error\":\"Access denied\",\"message\":\"say \\\"no\\\"\","
              "\"reference\":\"0123456789abcdef0123456789abcdef\"}\n");
    p.reference = "";
    EXPECT_EQ(page_json(p), "{\"status\":403,\"error\":\"Access denied\",\"message\":\"say \\\"no\\\"\"}\n");
}

TEST(PageTest, SiteIsTheServerNameElseTheHost) {
    EXPECT_EQ(page_site("app.example", "10.0.0.1"), "app.example");
    EXPECT_EQ(page_site("", "app.example"), "app.example");
    EXPECT_EQ(page_site("_", "app.example"), "app.example");
    EXPECT_EQ(page_site("*.example", "a.example"), "a.example");
    EXPECT_EQ(page_site("~^(?<h>.+)$", "a.example"), "a.example");
}

TEST(PageTest, MetadataFileNameFromTheHost) {
    EXPECT_EQ(metadata_filename("sp.example.org"), "sp.example.org-sp-metadata.xml");
    EXPECT_EQ(metadata_filename("127.0.0.1:8080"), "127.0.0.1_8080-sp-metadata.xml");
    EXPECT_EQ(metadata_filename("a\"b/..\\c; x"), "ab..cx-sp-metadata.xml");
    EXPECT_EQ(metadata_filename("..."), "sp-metadata.xml");
    EXPECT_EQ(metadata_filename(""), "sp-metadata.xml");
}

TEST(PageTest, SignInAgainLeadsToTheSignInTheLocationUses) {
    using enum LoginChoice;
    EXPECT_EQ(page_sign_in(automatic, true, false), SignInLink::saml);
    EXPECT_EQ(page_sign_in(automatic, true, true), SignInLink::saml);
    EXPECT_EQ(page_sign_in(saml, true, true), SignInLink::saml);
    // sso_login ldap: the directory's form, IdP metadata or not.
    EXPECT_EQ(page_sign_in(directory, true, true), SignInLink::form);
    EXPECT_EQ(page_sign_in(directory, false, true), SignInLink::form);
    // SAML off (no IdP metadata): the form when there is a directory, else no link.
    EXPECT_EQ(page_sign_in(automatic, false, true), SignInLink::form);
    EXPECT_EQ(page_sign_in(saml, false, true), SignInLink::form);
    EXPECT_EQ(page_sign_in(automatic, false, false), SignInLink::none);
    EXPECT_EQ(page_sign_in(saml, false, false), SignInLink::none);
    EXPECT_EQ(page_sign_in(directory, true, false), SignInLink::none);
}

TEST(PageTest, ChooserNamesTheSiteAndOffersAWayOut) {
    Page p = base();
    p.title = "Choose how to sign in";
    p.return_to = "/app/x?y=1";
    p.login_uri = "";
    const std::vector<ChooserEntry> idps = {{"Partner <IdP>", "?idp=a&return_to=%2F"}, {"Other", "?idp=b"}};
    std::string html = page_html(p);  // (the ordinary page, for contrast: no IdP list)
    EXPECT_EQ(html.find("<li>"), std::string::npos);
    html = idp_chooser_html(p, idps);
    EXPECT_NE(html.find("<title>Choose how to sign in - app.example</title>"), std::string::npos);
    EXPECT_NE(html.find("<li><a href=\"?idp=a&amp;return_to=%2F\">Partner &lt;IdP&gt;</a></li>"), std::string::npos);
    EXPECT_NE(html.find("<li><a href=\"?idp=b\">Other</a></li>"), std::string::npos);
    EXPECT_NE(html.find("<a href=\"/app/x?y=1\">Cancel and go back</a>"), std::string::npos);
    EXPECT_NE(html.find("not listed? Contact the help desk"), std::string::npos);
    EXPECT_NE(html.find("Reference: <code>0123456789abcdef0123456789abcdef</code>"), std::string::npos);
    // With a directory's form: the way in for those without an IdP.
    p.login_uri = "/sso/ldap";
    html = idp_chooser_html(p, idps);
    EXPECT_NE(html.find("<a href=\"/sso/ldap?return_to=%2Fapp%2Fx%3Fy%3D1\">Sign in with a user name and password</a>"),
              std::string::npos);
}

}  // namespace
}  // namespace sso
