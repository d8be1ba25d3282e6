"""LDAP sign-in against a real slapd: the form for browsers, HTTP Basic for API clients, the
credential cache, OpenLDAP- and AD-style entries, and every bad-input case of the issue.

Each refusal asserts the status, no session, the upstream not reached and one log line.
"""
import unittest
import urllib.parse

from t.integration.harness import upstream_headers, wait_until
from t.integration.ldap_stack import (AD_DIRECTORY, BROWSER, FormLogin, LdapStackTest, basic, directory,
                                      ldap_stack, session_cookie, timed)

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ {
            sso on;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /short/ {
            sso on;
            sso_ldap short;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /grp/ {
            sso on;
            sso_ldap groups;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /editors/ {
            sso on;
            sso_require group editors;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /both/ {
            sso on;
            sso_require group editors;
            sso_require attribute dn "uid=bob,ou=people,dc=example,dc=test";
            proxy_pass http://127.0.0.1:%(upstream)d;
            location /both/either/ {
                sso_require_match any;
                proxy_pass http://127.0.0.1:%(upstream)d;
            }
        }
        location /nobasic/ {
            sso on;
            sso_ldap_basic off;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public/ {
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""


class LdapOpenLdapTest(LdapStackTest):
    """OpenLDAP-style entries (inetOrgPerson, groupOfNames) over StartTLS with the test CA."""

    @classmethod
    def make_stack(cls):
        http = (directory(cls.slapd) +
                directory(cls.slapd, name="short", cache_ttl="2s", extra="failure_cache_ttl 0;") +
                directory(cls.slapd, name="groups", extra='group_attribute none; group_base "ou=groups,dc=example,dc=test";'
                                                          ' group_filter "(&(objectClass=groupOfNames)(member=%D))";'))
        return ldap_stack(cls.slapd, http, locations=LOCATIONS)

    def setUp(self):
        self.slapd.thaw()

    # --- the form -----------------------------------------------------------------------

    def test_browser_is_sent_to_the_form_and_back(self):
        s = self.stack
        r = s.get("/app/page?x=1", headers=BROWSER)
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/sso/ldap?return_to=" + urllib.parse.quote("/app/page?x=1", safe=""))
        form = FormLogin(s, "/app/page?x=1")
        self.assertEqual(form.fields["return_to"], "/app/page?x=1")
        self.assertIn("SameSite=Strict", " ".join(form.page.all("Set-Cookie")))
        self.assertEqual(form.page.header("Cache-Control"), "no-store")
        self.assertIn("frame-ancestors 'none'", form.page.header("Content-Security-Policy"))
        r = form.post("alice", "alice-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        self.assertEqual(r.header("Location"), "/app/page?x=1")
        cookie = session_cookie(r)
        self.assertIsNotNone(cookie)
        attrs = [c for c in r.all("Set-Cookie") if c.startswith("sso_session=")][0]
        self.assertIn("HttpOnly", attrs)
        page = s.get("/app/page?format=json", cookie=cookie)
        self.assertEqual(page.status, 200)
        h = upstream_headers(page)
        self.assertEqual(h["x-sso-user"], ["alice"])
        self.assertEqual(h["x-sso-email"], ["alice@example.test"])
        self.assertEqual(h["x-sso-name"], ["Alice Liddell"])
        self.assertEqual(sorted(h["x-sso-groups"][0].split(",")), ["editors", "printers"])
        self.assertEqual(h["x-sso-auth-method"], ["ldap"])
        self.assertEqual(h["x-sso-idp"], ["corp"])

    def test_logout_ends_an_ldap_session(self):
        s = self.stack
        cookie = session_cookie(FormLogin(s).post("bob", "bob-pw"))
        self.assertEqual(s.get("/app/", cookie=cookie).status, 200)
        s.get("/sso/logout", cookie=cookie)
        self.assertEqual(s.get("/app/", cookie=cookie, headers=BROWSER).status, 302)

    def test_non_ascii_name_and_missing_mail(self):
        s = self.stack
        h = upstream_headers(s.get("/app/?format=json", cookie=session_cookie(FormLogin(s).post("zoe", "zoe-pw"))))
        self.assertEqual(urllib.parse.unquote(h["x-sso-name"][0]), "Zoë Ünicode")
        h = upstream_headers(s.get("/app/?format=json", cookie=session_cookie(FormLogin(s).post("carol", "carol-pw"))))
        self.assertEqual(h["x-sso-user"], ["carol"])
        self.assertNotIn("x-sso-email", h)

    def assertFormRefused(self, r, mark, reason, status=401):
        self.assertRefused(r, status, reason, mark)
        self.assertIn("The user name or password is not correct.", r.text())
        self.assertIn('name="csrf"', r.text(), "the form is shown again")

    def test_wrong_password_and_unknown_user_look_the_same(self):
        s = self.stack
        form = FormLogin(s)
        m = s.mark()
        wrong = form.post("alice", "nope")
        self.assertFormRefused(wrong, m, r"LDAP sign-in refused for \\?\"alice\\?\".*(password|credentials)")
        m = s.mark()
        unknown = form.post("nobody", "nope")
        self.assertFormRefused(unknown, m, r"LDAP sign-in refused for \\?\"nobody\\?\"")
        self.assertEqual(wrong.status, unknown.status)
        self.assertEqual(wrong.text().replace("alice", "X"), unknown.text().replace("nobody", "X"))

    def test_user_found_twice_is_refused(self):
        s = self.stack
        m = s.mark()
        self.assertFormRefused(FormLogin(s).post("twin", "twin-pw"), m, r"twin.*(more than one|ambiguous|2 entries)")

    def test_empty_password_never_reaches_the_directory(self):
        # With the directory frozen, any bind would hang until the timeout: an instant
        # refusal shows that none was attempted.
        s = self.stack
        form = FormLogin(s)
        self.slapd.freeze()
        m = s.mark()
        r, took = timed(lambda: form.post("alice", ""))
        self.assertFormRefused(r, m, r"empty password")
        self.assertLess(took, 1.0)
        m = s.mark()
        r, took = timed(lambda: s.get("/app/", headers=basic("alice", "")))
        self.assertRefused(r, 401, r"empty password", m)
        self.assertLess(took, 1.0)

    def test_filter_injection_is_inert(self):
        s = self.stack
        for user in ("*", "al*", "*)(uid=*", "alice)(|(uid=*"):
            m = s.mark()
            self.assertFormRefused(FormLogin(s).post(user, "alice-pw"), m, r"LDAP sign-in refused")
        # Names with filter characters are found as themselves.
        for user, password in (("star*man", "star-pw"), ("paren(thesis)", "paren-pw"), ("back\\slash", "back-pw")):
            r = FormLogin(s).post(user, password)
            self.assertEqual(r.status, 303, (user, r.text()[:200]))
            h = upstream_headers(s.get("/app/?format=json", cookie=session_cookie(r)))
            self.assertEqual(h["x-sso-user"], [user])

    def test_csrf_token_must_match_its_cookie(self):
        s = self.stack
        form = FormLogin(s)
        m = s.mark()
        self.assertRefused(form.post("alice", "alice-pw", cookie=""), 403, r"CSRF", m)
        m = s.mark()
        other = FormLogin(s).csrf_cookie
        self.assertRefused(form.post("alice", "alice-pw", cookie=other), 403, r"CSRF", m)
        m = s.mark()
        self.assertRefused(form.post("alice", "alice-pw", fields={"csrf": ""}), 403, r"CSRF", m)

    def test_hostile_return_to(self):
        s = self.stack
        m = s.mark()
        r = s.get("/sso/ldap?return_to=" + urllib.parse.quote("//evil.example/", safe=""), headers=BROWSER)
        self.assertRefused(r, 400, r"return_to", m)
        r = FormLogin(s).post("alice", "alice-pw", fields={"return_to": "https://evil.example/"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/")

    def test_a_fresh_session_id_at_every_sign_in(self):
        s = self.stack
        first = session_cookie(FormLogin(s).post("alice", "alice-pw"))
        form = FormLogin(s)
        r = form.post("bob", "bob-pw", cookie=form.csrf_cookie + "; " + first)
        second = session_cookie(r)
        self.assertNotEqual(first, second)
        self.assertEqual(s.get("/app/", cookie=first, headers=BROWSER).status, 302, "the old session ended")

    def test_no_password_ever_reaches_the_log(self):
        s = self.stack
        FormLogin(s).post("alice", "alice-pw")
        FormLogin(s).post("alice", "typo-pw")
        s.get("/app/", headers=basic("bob", "bob-pw"))
        s.get("/app/", headers=basic("bob", "wrong-pw"))
        log = s.error_log()
        self.assertIn('signed in "alice" via LDAP form', log)
        for secret in ("service-pw", "alice-pw", "typo-pw", "bob-pw", "wrong-pw"):
            self.assertNotIn(secret, log)

    # --- HTTP Basic -----------------------------------------------------------------------

    def test_basic_sign_in(self):
        s = self.stack
        m = s.mark()
        r = s.get("/app/api?format=json", headers=basic("bob", "bob-pw"),
                  raw_headers=[("X-SSO-User", "admin"), ("x_sso_groups", "root")])
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertIsNone(session_cookie(r), "Basic makes no session")
        h = upstream_headers(r)
        self.assertEqual(h["x-sso-user"], ["bob"])
        self.assertEqual(h["x-sso-groups"], ["printers"])
        self.assertNotIn("x_sso_groups", h)
        self.assertNotIn("authorization", h, "the password is not passed upstream")
        self.assertEqual(s.upstream_count(), m[1] + 1)

    def test_basic_refusals(self):
        s = self.stack
        m = s.mark()
        r = s.get("/app/api", headers=basic("bob", "wrong"))
        self.assertRefused(r, 401, r"LDAP sign-in refused for \\?\"bob\\?\"", m)
        self.assertRegex(r.header("WWW-Authenticate"), r'^Basic realm="corp"')
        m = s.mark()
        r = s.get("/app/api")
        self.assertRefused(r, 401, r"no session", m)
        self.assertRegex(r.header("WWW-Authenticate"), r'^Basic realm="corp"')
        m = s.mark()
        r = s.get("/app/api", headers={"Authorization": "Basic !!notbase64"})
        self.assertRefused(r, 401, r"malformed Basic", m)
        m = s.mark()
        r = s.get("/app/api", headers=basic("twin", "twin-pw"))
        self.assertRefused(r, 401, r"twin", m)

    def test_groups_from_a_group_search(self):
        r = self.stack.get("/grp/?format=json", headers=basic("alice", "alice-pw"))
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertEqual(sorted(upstream_headers(r)["x-sso-groups"][0].split(",")), ["editors", "printers"])

    def test_access_rules(self):
        s = self.stack
        self.assertEqual(s.get("/editors/", headers=basic("alice", "alice-pw")).status, 200)
        s.get("/app/", headers=basic("bob", "bob-pw"))  # the directory check (its own log line) first
        m = s.mark()
        r = s.get("/editors/", headers=basic("bob", "bob-pw"))
        self.assertRefused(r, 403, r'access denied for \\?"bob\\?" by sso_require: not in group \\?"editors', m)
        self.assertIn("not open to your account", r.text())
        # all: alice is an editor but not bob's DN, bob the reverse
        for user in ("alice", "bob"):
            self.assertEqual(s.get("/both/", headers=basic(user, user + "-pw")).status, 403, user)
            self.assertEqual(s.get("/both/either/", headers=basic(user, user + "-pw")).status, 200, user)
        self.assertEqual(s.get("/both/either/", headers=basic("carol", "carol-pw")).status, 403)
        # a browser with a session gets the same answer
        cookie = session_cookie(FormLogin(s, "/editors/").post("bob", "bob-pw"))
        self.assertEqual(s.get("/editors/", cookie=cookie, headers=BROWSER).status, 403)

    def test_basic_off_for_a_location(self):
        s = self.stack
        m = s.mark()
        r = s.get("/nobasic/", headers=basic("bob", "bob-pw"))
        self.assertRefused(r, 401, r"no session", m)
        self.assertIsNone(r.header("WWW-Authenticate"))

    def test_cached_basic_check_needs_no_directory(self):
        s = self.stack
        self.assertEqual(s.get("/app/", headers=basic("alice", "alice-pw")).status, 200)
        self.slapd.freeze()
        r, took = timed(lambda: s.get("/app/?format=json", headers=basic("alice", "alice-pw")))
        self.assertEqual(r.status, 200)
        self.assertLess(took, 1.0)
        self.assertEqual(upstream_headers(r)["x-sso-user"], ["alice"])

    def test_changed_password_takes_effect_within_the_ttl(self):
        s = self.stack
        dn = "uid=bob,ou=people,dc=example,dc=test"
        self.assertEqual(s.get("/short/", headers=basic("bob", "bob-pw")).status, 200)
        try:
            self.slapd.set_password(dn, "bob-new")
            # the new password works at once: it is a different cache key
            self.assertEqual(s.get("/short/", headers=basic("bob", "bob-new")).status, 200)
            # the old one is gone once its cache entry (2s) expires
            wait_until(lambda: s.get("/short/", headers=basic("bob", "bob-pw")).status == 401,
                       "the old password to stop working", timeout=6)
        finally:
            self.slapd.set_password(dn, "bob-pw")


class LdapActiveDirectoryTest(LdapStackTest):
    """AD-style entries (sAMAccountName, userPrincipalName, memberOf) over ldaps://."""

    @classmethod
    def make_stack(cls):
        return ldap_stack(cls.slapd, directory(cls.slapd, template=AD_DIRECTORY, tls="ldaps"))

    def test_sam_account_name(self):
        s = self.stack
        r = FormLogin(s).post("dscully", "dana-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        h = upstream_headers(s.get("/app/?format=json", cookie=session_cookie(r)))
        self.assertEqual(h["x-sso-user"], ["dscully"])
        self.assertEqual(h["x-sso-email"], ["dana.scully@example.test"])
        self.assertEqual(h["x-sso-name"], ["Dana Scully"])
        self.assertEqual(sorted(h["x-sso-groups"][0].split(",")), ["Agents", "Scanners"])

    def test_user_principal_name_over_basic(self):
        s = self.stack
        r = s.get("/app/?format=json", headers=basic("fmulder@corp.example.test", "fox-pw"))
        self.assertEqual(r.status, 200, r.text()[:300])
        h = upstream_headers(r)
        self.assertEqual(h["x-sso-user"], ["fmulder"])
        self.assertEqual(h["x-sso-groups"], ["Agents"])

    def test_wrong_password(self):
        s = self.stack
        m = s.mark()
        self.assertRefused(FormLogin(s).post("dscully", "x"), 401, r"dscully", m)


class LdapBesideSamlTest(LdapStackTest):
    """A server with IdP metadata and a directory: browsers go to the IdP unless the location
    says `sso_login ldap`; API clients use Basic either way."""

    @classmethod
    def make_stack(cls):
        locations = """
    location /sso/ { sso_endpoint; }
    location /app/ { sso on; proxy_pass http://127.0.0.1:%(upstream)d; }
    location /staff/ { sso on; sso_login ldap; proxy_pass http://127.0.0.1:%(upstream)d; }
"""
        return ldap_stack(cls.slapd, directory(cls.slapd), locations=locations, saml=True)

    def test_browsers_go_to_the_idp_by_default(self):
        self.assertTrue(self.stack.start_login("/app/").startswith(self.stack.idp_base))

    def test_sso_login_ldap_sends_browsers_to_the_form(self):
        r = self.stack.get("/staff/x", headers=BROWSER)
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").startswith("/sso/ldap?return_to="))

    def test_basic_works_beside_saml(self):
        self.assertEqual(self.stack.get("/app/", headers=basic("alice", "alice-pw")).status, 200)

    def test_saml_and_ldap_sessions_both_open_the_gate(self):
        s = self.stack
        saml_cookie, _ = s.login("alice")
        ldap_cookie = session_cookie(FormLogin(s, "/staff/").post("bob", "bob-pw"))
        for cookie in (saml_cookie, ldap_cookie):
            for path in ("/app/", "/staff/"):
                self.assertEqual(s.get(path, cookie=cookie).status, 200, (cookie, path))


if __name__ == "__main__":
    unittest.main()
