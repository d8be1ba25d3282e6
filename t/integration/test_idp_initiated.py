"""IdP-initiated login (`sso_idp_initiated on`): an unsolicited Response signs the user in, once;
RelayState leads back only to this site. Off by default (test_saml_security refuses it)."""
import unittest

from t.integration.harness import BROWSER, StackTest, session_cookie, upstream_headers


class IdpInitiatedTest(StackTest):
    STACK_ARGS = {"server_extra": "sso_idp_initiated on;"}

    def test_unsolicited_response_signs_in_and_goes_to_relay_state(self):
        s = self.stack
        a = s.unsolicited("alice", relay_state="/app/reports?y=2")
        m = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertEqual(r.status, 303, r.text()[:300])
        self.assertEqual(r.header("Location"), "/app/reports?y=2")
        self.assertRegex(s.sso_lines_since(m)[-1], r'signed in "alice@example.org" via SAML \(IdP-initiated\)')
        page = s.get("/app/?format=json", cookie=session_cookie(r))
        self.assertEqual(upstream_headers(page)["x-sso-user"], ["alice@example.org"])

    def test_each_unsolicited_assertion_counts_once(self):
        s = self.stack
        a = s.unsolicited("alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)
        m = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: assertion was already used \(replay\)", m)

    def test_relay_state_to_another_site_goes_home(self):
        s = self.stack
        for relay in ("https://evil.example/", "//evil.example/", None):
            a = s.unsolicited("alice", **({"relay_state": relay} if relay else {}))
            r = s.post_acs(a["SAMLResponse"], a["RelayState"])
            self.assertEqual(r.status, 303, relay)
            self.assertEqual(r.header("Location"), "/", relay)

    def test_sp_initiated_checks_are_unchanged(self):
        s = self.stack
        cookie, r = s.login("bob")
        self.assertEqual(s.get("/app/", cookie=cookie).status, 200)
        # an answer to a request we never sent is still refused
        answer = s.idp_response(s.start_login("/app/"), "alice")
        m = s.mark()
        r = s.post_acs(answer["SAMLResponse"], "not-the-relay-state")
        self.assertRefused(r, 403, r"RelayState does not belong to the AuthnRequest", m)

    def test_browser_flow_still_starts_sp_initiated(self):
        self.assertTrue(self.stack.get("/app/", headers=BROWSER).header("Location").startswith(self.stack.idp_base))


if __name__ == "__main__":
    unittest.main()
