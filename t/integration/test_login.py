"""SP-initiated login end to end: redirect, IdP, ACS, session, identity to the upstream."""
import re
import unittest
import urllib.parse

from t.integration.harness import BROWSER, StackTest, session_cookie, upstream_headers


class LoginTest(StackTest):

    def test_browser_is_redirected_with_a_signed_authn_request(self):
        location = self.stack.start_login("/app/page?x=1")
        u = urllib.parse.urlsplit(location)
        q = urllib.parse.parse_qs(u.query)
        self.assertEqual(u.path, "/sso")
        self.assertIn("SAMLRequest", q)
        self.assertIn("RelayState", q)
        self.assertEqual(q["SigAlg"], ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"])
        self.assertIn("Signature", q)

    def test_full_login_reaches_the_original_url_with_identity_headers(self):
        s = self.stack
        cookie, acs = s.login("alice", "/app/page?x=1")
        self.assertEqual(acs.header("Location"), "/app/page?x=1")
        set_cookie = [v for v in acs.all("Set-Cookie") if v.startswith("sso_session=")][0]
        self.assertIn("HttpOnly", set_cookie)
        self.assertIn("SameSite=Lax", set_cookie)
        self.assertRegex(cookie, r"^sso_session=[A-Za-z0-9_-]{43}$")
        r = s.get("/app/page?x=1", {"Accept": "application/json"}, cookie=cookie)
        self.assertEqual(r.status, 200)
        h = upstream_headers(r)
        self.assertEqual(h["x-sso-user"], ["alice@example.org"])
        self.assertEqual(h["x-sso-email"], ["alice@example.org"])
        self.assertEqual(h["x-sso-name"], ["Alice Liddell"])
        self.assertEqual(h["x-sso-groups"], ["staff,print-operators"])
        self.assertEqual(h["x-sso-auth-method"], ["saml"])
        self.assertEqual(h["x-sso-idp"], [s.idp_entity_id])

    def test_non_ascii_values_are_percent_encoded_not_mangled(self):
        s = self.stack
        cookie, _ = s.login("zoe")
        h = upstream_headers(s.get("/app/", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(urllib.parse.unquote(h["x-sso-name"][0]), "Zoë Ærøskøbing")
        self.assertNotIn("ë", h["x-sso-name"][0])

    def test_each_login_gets_a_fresh_session_id(self):
        s = self.stack
        first, _ = s.login("alice")
        answer = s.idp_response(s.start_login("/app/"), "alice")
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"], cookie=first)
        second = session_cookie(r)
        self.assertIsNotNone(second)
        self.assertNotEqual(first, second)
        # the session the browser had before is ended: no fixation
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=first).status, 401)
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=second).status, 200)

    def test_logout_destroys_the_session(self):
        s = self.stack
        cookie, _ = s.login("bob")
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertTrue(any(v.startswith("sso_session=;") and "Max-Age=0" in v for v in r.all("Set-Cookie")))
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=cookie).status, 401)

    def test_logout_with_a_cookie_that_names_no_session_ends_nothing(self):
        s = self.stack
        mark = s.mark()
        r = s.get("/sso/logout", cookie="sso_session=" + "A" * 43)  # well-formed, never issued
        self.assertEqual(r.status, 200)
        self.assertTrue(any(v.startswith("sso_session=;") and "Max-Age=0" in v for v in r.all("Set-Cookie")))
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("logout: the session cookie names no session", lines[0])
        # a session that exists is still reported as ended
        cookie, _ = s.login("bob")
        mark = s.mark()
        s.get("/sso/logout", cookie=cookie)
        self.assertTrue(any("session ended by logout" in line for line in s.sso_lines_since(mark)))

    def test_logout_redirects_only_to_same_origin(self):
        s = self.stack
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye")
        self.assertEqual((r.status, r.header("Location")), (303, "/public/bye"))
        r = s.get("/sso/logout?return_to=https%3A%2F%2Fevil.example%2F")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Location"))

    def test_login_endpoint_starts_a_login_to_a_same_origin_target(self):
        s = self.stack
        r = s.get("/sso/login?return_to=%2Fapp%2Fdocs")
        self.assertEqual(r.status, 302)
        answer = s.idp_response(r.header("Location"), "alice")
        acs = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(acs.header("Location"), "/app/docs")

    def test_non_browser_requests_get_401_not_a_redirect(self):
        s = self.stack
        for headers in ({"Accept": "application/json"}, {},
                        dict(BROWSER, **{"X-Requested-With": "XMLHttpRequest"})):
            mark = s.mark()
            r = s.get("/app/", headers)
            self.assertEqual(r.status, 401, headers)
            self.assertIsNone(r.header("Location"))
            self.assertEqual(s.upstream_count(), mark[1])
        r = s.get("/app/", {"Accept": "application/json"})
        self.assertEqual(r.json()["status"], 401)

    def test_sp_metadata_names_issuer_return_url_and_certificate(self):
        s = self.stack
        r = s.get("/sso/metadata")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/samlmetadata+xml")
        xml = r.text()
        self.assertIn('entityID="%s"' % s.entity_id, xml)
        self.assertIn('Location="%s"' % s.acs_url, xml)
        with open(s.path("sp.crt")) as f:
            pem = "".join(l.strip() for l in f if "CERTIFICATE" not in l)
        self.assertIn(pem, re.sub(r"\s", "", xml))

    def test_unprotected_location_is_not_gated(self):
        r = self.stack.get("/public/x", {"Accept": "application/json"})
        self.assertEqual(r.status, 200)


class MetadataValidityTest(StackTest):

    def test_sp_metadata_is_loadable_by_lasso(self):
        # An independent SAML stack must accept our metadata as an SP's.
        import subprocess
        from t.integration.harness import PYTHON
        xml = self.stack.get("/sso/metadata").text()
        code = ("import lasso,sys; s=lasso.Server(); "
                "s.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, sys.stdin.read()); "
                "print(list(s.providerIds)[0])")
        out = subprocess.run([PYTHON, "-c", code], input=xml, capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout.strip(), self.stack.entity_id)


if __name__ == "__main__":
    unittest.main()
