"""The module's pages: each names the site, offers a way forward and shows the reference
($request_id) the error log line carries; 405 answers name their methods in Allow; the SP
metadata downloads under the host's name; an administrator's error_page replaces a page."""
import base64
import re
import socket
import unittest
import urllib.parse

from t.integration.harness import BROWSER, DEFAULT_LOCATIONS, StackTest, free_port, request, session_cookie
from t.integration.ldap_stack import FormLogin

JSON = {"Accept": "application/json"}
REF = re.compile(r'Reference: <code>([0-9a-f]{32})</code>')


def closed_port():
    return free_port()  # nothing listens there: the directory is unavailable


LOCATIONS = DEFAULT_LOCATIONS + """
        location /admin/ {
            sso on;
            sso_require user nobody-has-this-name;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /replaced/ {
            sso on;
            sso_require user nobody-has-this-name;
            error_page 403 /denied.html;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location = /denied.html {
            internal;
            return 403 "our own denied page, ref $request_id\\n";
        }
        location /basic/ {
            sso on;
            sso_ldap corp;
            sso_ldap_basic on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

LDAP = """
    sso_ldap_directory corp {
        url ldap://127.0.0.1:%d;
        base_dn "dc=example,dc=test";
        bind_dn "cn=svc,dc=example,dc=test";
        bind_password secret;
        user_filter "(uid=%%u)";
        connect_timeout 500ms;
    }
"""


class PagesTest(StackTest):
    STACK_ARGS = dict(locations=LOCATIONS, http_extra=LDAP % closed_port())

    def reference_logged(self, response, mark, reason):
        """The page's reference, which must be the one the (single) sso log line carries."""
        m = REF.search(response.text())
        self.assertIsNotNone(m, response.text())
        lines = [l for l in self.stack.sso_lines_since(mark) if re.search(reason, l)]
        self.assertEqual(len(lines), 1, self.stack.sso_lines_since(mark))
        self.assertIn("ref " + m.group(1), lines[0])
        return m.group(1)

    def assertNamesSite(self, response):
        self.assertIn('<p class="site">localhost</p>', response.text())
        self.assertRegex(response.text(), r"<title>[^<]* - localhost</title>")

    def test_access_denied_shows_who_and_switches_account(self):
        s = self.stack
        cookie, _ = s.login("alice")
        mark = s.mark()
        r = s.get("/admin/report?x=1", headers=BROWSER, cookie=cookie)
        self.assertEqual(r.status, 403)
        self.assertNamesSite(r)
        self.reference_logged(r, mark, "access denied")
        self.assertIn("Signed in as <b>alice@example.org</b>", r.text())
        form = re.search(r'<form class="forward" method="post" action="([^"]+)">', r.text())
        self.assertIsNotNone(form, r.text())
        action = form.group(1).replace("&amp;", "&")
        back = "/sso/login?return_to=" + urllib.parse.quote("/admin/report?x=1", safe="")
        self.assertEqual(action, "/sso/logout?return_to=" + urllib.parse.quote(back, safe=""))
        self.assertNotIn('href="/sso/logout', r.text())  # signing out is never a plain link
        # The form signs out and goes on to sign in again, coming back to the page.
        out = request(s.port, "POST", action, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                      body="")
        self.assertEqual(out.status, 303, out.text())
        self.assertEqual(out.header("Location"), back)
        self.assertIn("Max-Age=0", out.header("Set-Cookie"))
        self.assertEqual(s.get("/app/", headers=JSON, cookie=cookie).status, 401)

    def test_access_denied_json_keeps_its_shape_with_a_reference(self):
        s = self.stack
        cookie, _ = s.login("alice")
        mark = s.mark()
        r = s.get("/admin/", headers=JSON, cookie=cookie)
        self.assertEqual(r.status, 403)
        body = r.json()
        self.assertEqual(set(body), {"status", "error", "message", "reference"})
        self.assertRegex(body["reference"], r"^[0-9a-f]{32}$")
        lines = [l for l in s.sso_lines_since(mark) if "access denied" in l]
        self.assertIn("ref " + body["reference"], lines[0])

    def test_signed_out_page_offers_to_sign_in_again(self):
        s = self.stack
        cookie, _ = s.login("alice")
        r = s.get("/sso/logout", headers=BROWSER, cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertNamesSite(r)
        self.assertIn('<a href="/sso/login?return_to=%2F">Sign in again</a>', r.text())
        self.assertIn('<a href="/">Go to the home page</a>', r.text())

    def test_sign_in_refused_offers_to_sign_in_again(self):
        s = self.stack
        mark = s.mark()
        r = s.post_acs("bm90IGEgU0FNTCByZXNwb25zZQ==")
        self.assertIn(r.status, (400, 403))
        self.assertNamesSite(r)
        self.reference_logged(r, mark, "SAML response refused")
        self.assertIn('<a href="/sso/login?return_to=%2F">Sign in again</a>', r.text())

    def test_login_refusals_offer_to_sign_in_again(self):
        s = self.stack
        r = s.get("/sso/login?return_to=" + urllib.parse.quote("//evil.example/", safe=""), headers=BROWSER)
        self.assertEqual(r.status, 400, r.text())
        self.assertNamesSite(r)
        self.assertIn('<a href="/sso/login?return_to=%2F">Sign in again</a>', r.text())
        r = s.get("/sso/login?idp=urn%3Anobody&return_to=%2Fapp%2F", headers=BROWSER)
        self.assertEqual(r.status, 400, r.text())
        self.assertIn('<a href="/sso/login?return_to=%2Fapp%2F">Sign in again</a>', r.text())

    def test_405_names_the_methods(self):
        s = self.stack
        for method, path, allow in (("PUT", "/sso/metadata", "GET, HEAD"), ("DELETE", "/sso/login", "GET, HEAD"),
                                    ("GET", "/sso/acs", "POST"), ("PUT", "/sso/logout", "GET, HEAD, POST"),
                                    ("PUT", "/sso/slo", "GET, HEAD, POST")):
            r = request(s.port, method, path, BROWSER)
            self.assertEqual(r.status, 405, (method, path))
            self.assertEqual(r.header("Allow"), allow, (method, path))

    def test_metadata_downloads_under_the_host_name(self):
        s = self.stack
        r = s.get("/sso/metadata")  # Host: 127.0.0.1:<port>
        self.assertEqual(r.status, 200, r.text())
        self.assertEqual(r.header("Content-Type"), "application/samlmetadata+xml")
        self.assertEqual(r.header("Content-Disposition"),
                         'attachment; filename="127.0.0.1_%d-sp-metadata.xml"' % s.port)

    def test_basic_401_does_not_ask_for_a_browser(self):
        s = self.stack
        r = s.get("/basic/", headers=JSON)
        self.assertEqual(r.status, 401)
        self.assertIsNotNone(r.header("WWW-Authenticate"))
        self.assertNotIn("through a browser first", r.json()["message"])
        self.assertIn("HTTP Basic", r.json()["message"])
        # Without Basic on offer the message stays.
        r = s.get("/app/", headers=JSON)
        self.assertEqual(r.status, 401)
        self.assertIn("through a browser first", r.json()["message"])

    def test_directory_unavailable_leads_back_to_the_page(self):
        s = self.stack
        mark = s.mark()
        auth = "Basic " + base64.b64encode(b"alice:secret").decode()
        r = s.get("/basic/x?y=1", headers=dict(BROWSER, Authorization=auth))
        self.assertIn(r.status, (503, 504), r.text())
        self.assertNamesSite(r)
        self.reference_logged(r, mark, "LDAP directory")
        self.assertIn('<a href="/basic/x?y=1">Try again</a>', r.text())

    def test_error_page_replaces_the_modules_page(self):
        s = self.stack
        cookie, _ = s.login("alice")
        mark = s.mark()
        r = s.get("/replaced/", headers=BROWSER, cookie=cookie)
        self.assertEqual(r.status, 403)
        m = re.fullmatch(r"our own denied page, ref ([0-9a-f]{32})\n", r.text())
        self.assertIsNotNone(m, r.text())
        lines = [l for l in s.sso_lines_since(mark) if "access denied" in l]
        self.assertEqual(len(lines), 1)
        self.assertIn("ref " + m.group(1), lines[0])

    def test_mock_idp_picker_reads_as_a_demo_idp(self):
        s = self.stack
        u = urllib.parse.urlsplit(s.start_login("/app/"))
        r = request(s.idp_port, "GET", u.path + "?" + u.query, BROWSER)
        self.assertEqual(r.status, 200, r.text())
        self.assertIn("Demo IdP", r.text())
        self.assertIn(s.idp_entity_id, r.text())
        self.assertIn("A real IdP would ask for your user name and password", r.text())


FORM_LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ { sso on; proxy_pass http://127.0.0.1:%(upstream)d; }
        location /staff/ {
            sso on;
            sso_login ldap;
            sso_require user nobody-has-this-name;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class FormPagesTest(StackTest):
    """The directory's sign-in form beside SAML: its refusals lead back to the form, and pages
    of a location that signs in with the form offer the form."""
    STACK_ARGS = dict(locations=FORM_LOCATIONS, http_extra=LDAP % closed_port(), server_extra="sso_ldap corp;")

    def assertBackToForm(self, r, return_to):
        self.assertIn('<p class="site">localhost</p>', r.text())
        self.assertIn('<a href="/sso/ldap?return_to=%s">Sign in again</a>' % urllib.parse.quote(return_to, safe=""),
                      r.text())

    def test_oversize_form_leads_back_to_the_form(self):
        s = self.stack
        mark = s.mark()
        r = request(s.port, "POST", "/sso/ldap", dict(BROWSER, **FORM), body="username=" + "a" * 17000)
        self.assertEqual(r.status, 413, r.text())
        self.assertBackToForm(r, "/")
        PagesTest.reference_logged(self, r, mark, "POST body larger than 16k")

    def test_malformed_form_leads_back_to_the_form_and_the_page_wanted(self):
        s = self.stack
        mark = s.mark()
        body = "username=a&username=b&password=x&return_to=" + urllib.parse.quote("/staff/x?y=1", safe="")
        r = request(s.port, "POST", "/sso/ldap", dict(BROWSER, **FORM), body=body)
        self.assertEqual(r.status, 400, r.text())
        self.assertBackToForm(r, "/staff/x?y=1")
        PagesTest.reference_logged(self, r, mark, "malformed or repeated form field")

    def test_foreign_return_address_leads_back_to_the_form(self):
        s = self.stack
        r = s.get("/sso/ldap?return_to=" + urllib.parse.quote("//evil.example/", safe=""), headers=BROWSER)
        self.assertEqual(r.status, 400, r.text())
        self.assertBackToForm(r, "/")
        self.assertIsNotNone(REF.search(r.text()))

    def test_directory_unavailable_after_the_form_leads_back_to_the_page_wanted(self):
        s = self.stack
        mark = s.mark()
        r = FormLogin(s, return_to="/staff/x?y=1").post("alice", "secret")
        self.assertIn(r.status, (503, 504), r.text())
        PagesTest.reference_logged(self, r, mark, "LDAP directory")
        self.assertIn('<a href="/staff/x?y=1">Try again</a>', r.text())

    def test_switching_account_where_the_form_signs_in_uses_the_form(self):
        s = self.stack
        cookie, _ = s.login("alice")  # a SAML session; this location signs in with the form
        r = s.get("/staff/x", headers=BROWSER, cookie=cookie)
        self.assertEqual(r.status, 403, r.text())
        action = re.search(r'<form class="forward" method="post" action="([^"]+)">', r.text()).group(1)
        back = "/sso/ldap?return_to=" + urllib.parse.quote("/staff/x", safe="")
        self.assertEqual(action.replace("&amp;", "&"), "/sso/logout?return_to=" + urllib.parse.quote(back, safe=""))


class SamlOffPagesTest(StackTest):
    """No IdP metadata and no directory: no sign-in works, so no page offers one."""
    STACK_ARGS = dict(saml=False)

    def test_signed_out_page_offers_no_dead_sign_in(self):
        r = self.stack.get("/sso/logout", headers=BROWSER)
        self.assertEqual(r.status, 200, r.text())
        self.assertNotIn("Sign in again", r.text())
        self.assertIn('<a href="/">Go to the home page</a>', r.text())

    def test_saml_is_off_page_leads_home(self):
        r = self.stack.get("/sso/login", headers=BROWSER)
        self.assertEqual(r.status, 404, r.text())
        self.assertNotIn("Sign in again", r.text())
        self.assertIn('<a href="/">Go to the home page</a>', r.text())


class SamlOffFormPagesTest(StackTest):
    """No IdP metadata, a directory: "Sign in again" is the directory's form."""
    STACK_ARGS = dict(saml=False, http_extra=LDAP % closed_port(), server_extra="sso_ldap corp;")

    def test_signed_out_page_offers_the_form(self):
        r = self.stack.get("/sso/logout", headers=BROWSER)
        self.assertEqual(r.status, 200, r.text())
        self.assertIn('<a href="/sso/ldap?return_to=%2F">Sign in again</a>', r.text())


if __name__ == "__main__":
    unittest.main()
