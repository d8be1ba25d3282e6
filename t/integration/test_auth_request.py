"""`sso_auth_request`: the gate as an answer, for nginx's auth_request (in this server) and for
other servers that proxy their auth_request to it. Sessions from SAML and the LDAP form, and
Basic credentials, all count."""
import unittest

from t.integration.harness import BROWSER, request, upstream_headers
from t.integration.ldap_stack import FormLogin, LdapStackTest, basic, directory, ldap_stack, session_cookie

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location = /sso-auth { sso_auth_request; }
        location = /_auth { internal; sso_auth_request; }
        location = /_auth_admins { internal; sso_auth_request; sso_require group admins; }
        location /admins/ {
            auth_request /_auth_admins;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /guarded/ {
            auth_request /_auth;
            auth_request_set $who $sso_user;
            auth_request_set $groups $sso_groups;
            proxy_set_header X-Remote-User $who;
            proxy_set_header X-Remote-Groups $groups;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""


class AuthRequestTest(LdapStackTest):

    @classmethod
    def make_stack(cls):
        return ldap_stack(cls.slapd, directory(cls.slapd), locations=LOCATIONS, saml=True)

    def test_no_session_is_401_and_nothing_reaches_the_upstream(self):
        s = self.stack
        m = s.mark()
        r = s.get("/guarded/page", headers=BROWSER)
        self.assertEqual(r.status, 401)
        self.assertEqual(s.upstream_count(), m[1])
        r = s.get("/sso-auth")
        self.assertEqual(r.status, 401)
        self.assertRegex(r.header("WWW-Authenticate"), r'^Basic realm="corp"')
        self.assertRegex(s.sso_lines_since(m)[-1], r"auth_request: no session")

    def test_saml_session_passes_with_its_identity(self):
        s = self.stack
        cookie, _ = s.login("alice", path="/sso/login?return_to=%2F")
        r = s.get("/guarded/page?format=json", cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:300])
        h = upstream_headers(r)
        self.assertEqual(h["x-remote-user"], ["alice@example.org"])
        self.assertEqual(h["x-remote-groups"], ["staff,print-operators"])
        # the same answer directly, as another server would get it through proxy_pass
        r = s.get("/sso-auth", cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-SSO-User"), "alice@example.org")
        self.assertEqual(r.header("X-SSO-Auth-Method"), "saml")

    def test_access_rules_apply_to_the_answer(self):
        s = self.stack
        cookie, _ = s.login("alice", path="/sso/login?return_to=%2F")
        m = s.mark()
        r = s.get("/admins/", cookie=cookie)
        self.assertEqual(r.status, 403)
        self.assertEqual(s.upstream_count(), m[1])
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r'access denied for "alice@example.org" by sso_require: not in group "admins"')

    def test_ldap_form_session_and_basic_pass(self):
        s = self.stack
        cookie = session_cookie(FormLogin(s).post("bob", "bob-pw"))
        r = s.get("/guarded/?format=json", cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertEqual(upstream_headers(r)["x-remote-user"], ["bob"])
        r = s.get("/guarded/?format=json", headers=basic("alice", "alice-pw"))
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertEqual(upstream_headers(r)["x-remote-groups"][0].count(","), 1)
        r = s.get("/sso-auth", headers=basic("alice", "alice-pw"))
        self.assertEqual((r.status, r.header("X-SSO-User"), r.header("X-SSO-Auth-Method")), (200, "alice", "ldap"))

    def test_wrong_basic_credentials(self):
        s = self.stack
        m = s.mark()
        r = s.get("/guarded/", headers=basic("alice", "nope"))
        self.assertEqual(r.status, 401)
        self.assertEqual(s.upstream_count(), m[1])
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"LDAP sign-in refused for \"alice\"")

    def test_directory_down_is_not_a_pass(self):
        s = self.stack
        self.slapd.freeze()
        try:
            # auth_request turns anything but 2xx, 401 and 403 into 500: never a pass
            r = request(s.port, "GET", "/guarded/", basic("carol", "carol-pw"))
            self.assertEqual(r.status, 500)
        finally:
            self.slapd.thaw()


if __name__ == "__main__":
    unittest.main()
