"""Interop: an IdP we did not write (python3-pysaml2) issues the Response."""
import unittest

from t.integration.harness import StackTest, upstream_headers


class Pysaml2InteropTest(StackTest):
    STACK_ARGS = {"idp": "pysaml2"}

    def test_login_with_a_pysaml2_response(self):
        s = self.stack
        cookie, acs = s.login("alice", "/app/from-pysaml2")
        self.assertEqual(acs.header("Location"), "/app/from-pysaml2")
        h = upstream_headers(s.get("/app/from-pysaml2", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-sso-email"], ["alice@example.org"])
        self.assertEqual(h["x-sso-name"], ["Alice Liddell"])
        self.assertEqual(h["x-sso-groups"], ["staff,print-operators"])
        self.assertEqual(h["x-sso-idp"], [s.idp_entity_id])

    def test_pysaml2_response_cannot_be_replayed(self):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "bob")
        first = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(first.status, 303)
        mark = s.mark()
        again = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(again, 403, "InResponseTo .* names no AuthnRequest", mark)


if __name__ == "__main__":
    unittest.main()
