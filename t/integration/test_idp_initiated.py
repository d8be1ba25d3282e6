"""IdP-initiated login (`sso_idp_initiated on`): an unsolicited Response signs the user in, once;
RelayState leads back only to this site. Off by default (test_saml_security refuses it)."""
import calendar
import os
import re
import time
import unittest

from t.integration.harness import BROWSER, StackTest, decode_response, session_cookie, upstream_headers, wait_until


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


class ReplayAcrossRestartTest(StackTest):
    """The embedded replay cache outlives a stop: the master saves it (sso_replay_state) and
    the next start loads it. After a crash there is no file: the new cache refuses what was
    issued before it started."""
    STACK_ARGS = {"server_extra": "sso_idp_initiated on;"}

    def replay_is_refused(self, a, reason):
        s = self.stack
        m = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, 403, reason, m)

    def test_clean_restart_keeps_the_replay_cache(self):
        s = self.stack
        a = s.unsolicited("alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)
        sp = s.idp_response(s.start_login("/app/"), "bob")
        self.assertEqual(s.post_acs(sp["SAMLResponse"], sp["RelayState"]).status, 303)
        before = len(s.error_log())
        s.restart_nginx()
        self.replay_is_refused(a, r"SAML response refused: assertion was already used \(replay\)")
        self.replay_is_refused(sp, r"SAML response refused: InResponseTo \S+ names no AuthnRequest this SP has "
                                   r"pending \(already answered\)")
        log = s.error_log()[before:]
        self.assertRegex(log, r"sso: replay cache saved to \"[^\"]*sso_replay.state\": [2-9]\d* entries")
        self.assertRegex(log, r"sso: replay cache restored from \"[^\"]*sso_replay.state\": [2-9]\d* entries")
        self.assertFalse(os.path.exists(s.path("sso_replay.state")), "the file is used once")
        # what the restored cache does not know is accepted
        b = s.unsolicited("bob")
        self.assertEqual(s.post_acs(b["SAMLResponse"], b["RelayState"]).status, 303)
        # and a reload keeps it all
        s.reload(wait_for_old_workers=True)
        self.replay_is_refused(b, r"SAML response refused: assertion was already used \(replay\)")

    def test_crash_refuses_what_was_issued_before_the_new_start(self):
        s = self.stack
        a = s.unsolicited("alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)
        issued = re.search(r'<(?:saml:)?Assertion[^>]* IssueInstant="([^"]+)"', decode_response(a["SAMLResponse"]))
        issued = calendar.timegm(time.strptime(issued.group(1)[:19], "%Y-%m-%dT%H:%M:%S"))
        # the new start must fall in a later second than the assertion (whole seconds)
        wait_until(lambda: time.time() >= issued + 1, "the next second")
        before = len(s.error_log())
        s.restart_nginx(crash=True)
        self.assertIn("no replay state", s.error_log()[before:])
        self.replay_is_refused(a, r"SAML response refused: assertion issued at \S+, before the replay cache started "
                                  r"empty at \S+ .*: it may have been used already")
        b = s.unsolicited("bob")
        self.assertEqual(s.post_acs(b["SAMLResponse"], b["RelayState"]).status, 303)


if __name__ == "__main__":
    unittest.main()
