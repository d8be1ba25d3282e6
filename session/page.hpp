// The pages the module answers with: a title, a message, the site they belong to, a short
// reference the error log line carries too, and a way forward (sign in again, back to the
// page that was wanted, or sign out and switch account). Everything given is escaped here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sso {

enum class PageForward {
    none,
    retry,           // "Try again": back to the page that was wanted (return_to)
    sign_in,         // "Sign in again" (login with return_to), and back to the site's home
    switch_account,  // who is signed in, a POST form that signs out and signs in again, home
};

struct Page {
    unsigned status = 200;
    std::string_view title;
    std::string_view message;
    std::string_view site;       // server_name or the Host the client used; empty: not named
    std::string_view reference;  // $request_id; empty: no reference line
    PageForward forward = PageForward::none;
    std::string_view return_to;    // the page that was wanted (same-origin, already checked); "/" when empty
    std::string_view login_uri;    // the sign-in endpoint ("/sso/login" or "/sso/ldap"); empty: no sign-in link
    std::string_view logout_uri;   // "/sso/logout"; empty: no switch form
    std::string_view user;         // who is signed in (switch_account)
    std::string_view continue_to;  // a "Continue" link first (a sign-out's return_to); empty: none
};

// Which sign-in a page's "Sign in again" link leads to: the one the location uses. `sso_login`
// chooses (automatic: SAML when the server has IdP metadata); SAML without metadata falls
// back to the directory's form when the location has one; nothing works: no link.
enum class LoginChoice { automatic, saml, directory };
enum class SignInLink { none, saml, form };
SignInLink page_sign_in(LoginChoice choice, bool saml_ready, bool directory) noexcept;

// One IdP on the chooser page: its name and the link that signs in with it.
struct ChooserEntry {
    std::string_view name;
    std::string_view href;
};
// The page on which the browser picks an IdP: the site, one link per IdP, what to do when
// the organisation is not listed (the directory's form when `p.login_uri` names one, or the
// help desk), a way back to the page wanted (`p.return_to`) and the reference.
std::string idp_chooser_html(const Page& p, const std::vector<ChooserEntry>& idps);

// Text for an HTML page or attribute value: & < > " ' become entities.
std::string html_escape(std::string_view s);
// A JSON string's contents: " \ and control characters escaped.
std::string json_escape(std::string_view s);

// The sign-in URL that comes back to `return_to` afterwards.
std::string sign_in_url(std::string_view login_uri, std::string_view return_to);

// The name a page gives the site: the server_name, or the Host the client used when the
// server has none that names it ("", "_", a wildcard or a regular expression).
std::string_view page_site(std::string_view server_name, std::string_view host) noexcept;

std::string page_html(const Page& p);
// {"status":..,"error":title,"message":..,"reference":..} (reference only when there is one).
std::string page_json(const Page& p);

// The file name the SP metadata downloads as: "<host>-sp-metadata.xml", the host reduced to
// letters, digits, '.', '-' and '_' (a port's ':' becomes '_'); "sp-metadata.xml" without one.
std::string metadata_filename(std::string_view host);

}  // namespace sso
