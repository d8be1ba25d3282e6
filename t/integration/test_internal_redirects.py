"""The identity decided for a request holds across its internal redirects (index, try_files to a
named location, error_page, rewrite ... last), whatever signed it in: a SAML session, an LDAP
form session, LDAP HTTP Basic, an internal account's HTTP Basic. nginx empties a request's
module contexts when it redirects it, and Basic credentials are removed from the request once
checked, so the redirected request must find the identity again by itself.

Real parts: nginx with the module, slapd, the mock IdP (a real SAML flow), the echo upstream.
"""
import os
import shutil
import tempfile
import unittest

from t.integration.harness import Stack, upstream_headers
from t.integration.ldap_stack import FormLogin, LdapStackTest, basic, directory
from t.integration.test_sources import pbkdf2_sha256, users_file

SIGN_IN = "sso_ldap corp; sso_internal_users internal; sso_non_browser 401;"

# %(www)s is the document root; %%(upstream)d the echo upstream, filled in by the harness.
LOCATIONS = """
        location /sso/ { sso_endpoint; %(sign_in)s }
        # index: /idx/ -> /idx/index.html, proxied
        location /idx/ { sso on; %(sign_in)s root %(www)s; index index.html; }
        location = /idx/index.html { sso on; %(app)s }
        # try_files to a named location
        location /tf/ { sso on; %(sign_in)s root %(www)s; try_files $uri @tf; }
        location @tf { sso on; %(app)s }
        # error_page: the static 404 goes to the application
        location /ep/ { sso on; %(sign_in)s root %(www)s; error_page 404 = /app-ep/; }
        location /app-ep/ { sso on; %(app)s }
        # index, then rewrite ... last in a location without sso of its own
        location /rw/ { sso on; %(sign_in)s root %(www)s; index index.html; }
        location = /rw/index.html { rewrite ^ /app-rw/ last; }
        location /app-rw/ { sso on; %(app)s }
        # the new location's own rules: only robot passes
        location /rq/ { sso on; %(sign_in)s root %(www)s; error_page 404 = /app-rq/; }
        location /app-rq/ { sso on; sso_require user robot; %(app)s }
"""
APP = ("%(sign_in)s sso_identity_headers on; proxy_set_header X-Test-User $sso_user; "
       "proxy_pass http://127.0.0.1:%%(upstream)d;")

# Each entry: the URL asked for, and the path the upstream must see.
REDIRECTS = [("/idx/", "/idx/index.html"), ("/tf/page", "/tf/page"), ("/ep/missing", "/app-ep/"),
             ("/rw/", "/app-rw/")]

JSON = {"Accept": "application/json"}


class InternalRedirectTest(LdapStackTest):

    @classmethod
    def make_stack(cls):
        cls.files = tempfile.mkdtemp(prefix="sso-redirect-")
        os.chmod(cls.files, 0o755)
        www = os.path.join(cls.files, "www")
        for d in ("idx", "tf", "ep", "rw"):
            os.makedirs(os.path.join(www, d))
            os.chmod(os.path.join(www, d), 0o755)
        os.chmod(www, 0o755)
        for d in ("idx", "rw"):
            with open(os.path.join(www, d, "index.html"), "w") as f:
                f.write("static index\n")
            os.chmod(os.path.join(www, d, "index.html"), 0o644)
        users = os.path.join(cls.files, "users.txt")
        users_file(users, ['robot@example.org user=robot name="Robot" groups=devices password=%s'
                           % pbkdf2_sha256("robot-pw")])
        http_extra = directory(cls.slapd) + (
            "\n    sso_sources {\n        corp ldap corp;\n        internal users %s;\n"
            "        mock saml @IDP_ENTITY@;\n    }\n" % users)
        app = APP % {"sign_in": SIGN_IN}
        locations = LOCATIONS % {"sign_in": SIGN_IN, "www": www, "app": app}
        return Stack(http_extra=http_extra, locations=locations, saml=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.files, ignore_errors=True)

    def assertSignedInEverywhere(self, user, method, headers=None, cookie=None):
        for url, upstream_path in REDIRECTS:
            with self.subTest(url=url):
                r = self.stack.get(url, headers=dict(JSON, **(headers or {})), cookie=cookie)
                self.assertEqual(r.status, 200, r.text()[:300])
                self.assertEqual(r.json()["path"], upstream_path)
                h = upstream_headers(r)
                self.assertEqual(h.get("x-sso-user"), [user])
                self.assertEqual(h.get("x-sso-auth-method"), [method])
                self.assertEqual(h.get("x-test-user"), [user])
                self.assertNotIn("authorization", h)

    def test_ldap_basic(self):
        self.assertSignedInEverywhere("alice", "ldap", headers=basic("alice", "alice-pw"))

    def test_internal_account_basic(self):
        self.assertSignedInEverywhere("robot", "internal", headers=basic("robot", "robot-pw"))

    def test_saml_session(self):
        cookie, _ = self.stack.login("alice", path="/idx/")
        self.assertSignedInEverywhere("alice@example.org", "saml", cookie=cookie)

    def test_ldap_form_session(self):
        r = FormLogin(self.stack, return_to="/idx/").post("alice", "alice-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        cookie = [c for c in r.all("Set-Cookie") if c.startswith("sso_session=")][0].split(";")[0]
        self.assertSignedInEverywhere("alice", "ldap", cookie=cookie)

    def test_the_new_location_applies_its_own_sso_require(self):
        mark = self.stack.mark()
        r = self.stack.get("/rq/missing", headers=dict(JSON, **basic("alice", "alice-pw")))
        self.assertEqual(r.status, 403, r.text()[:300])
        self.assertEqual(self.stack.upstream_count(), mark[1])
        self.assertTrue(any('access denied for "alice" by sso_require' in l for l in self.stack.sso_lines_since(mark)))
        r = self.stack.get("/rq/missing", headers=dict(JSON, **basic("robot", "robot-pw")))
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertEqual(upstream_headers(r).get("x-sso-user"), ["robot"])

    def test_no_identity_is_still_refused_after_the_redirect(self):
        for url, _ in REDIRECTS:
            for headers in ({}, basic("alice", "wrong-pw")):
                with self.subTest(url=url, headers=headers):
                    mark = self.stack.mark()
                    r = self.stack.get(url, headers=dict(JSON, **headers))
                    self.assertEqual(r.status, 401, r.text()[:300])
                    self.assertEqual(self.stack.upstream_count(), mark[1])


if __name__ == "__main__":
    unittest.main()
