"""`sso_want_assertions_signed on`: the Assertion must carry its own signature (a signed
Response around it is not enough), and SP metadata says WantAssertionsSigned="true"."""
import unittest

from t.integration.harness import StackTest, session_cookie


class WantAssertionsSignedTest(StackTest):
    STACK_ARGS = {"server_extra": "sso_want_assertions_signed on;"}

    def test_metadata_says_so(self):
        md = self.stack.get("/sso/metadata").text()
        self.assertIn('WantAssertionsSigned="true"', md)

    def test_signed_assertion_is_accepted(self):
        s = self.stack
        for sign in ("assertion", "both"):
            answer = s.idp_response(s.start_login("/app/"), "alice", sign=sign)
            r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
            self.assertEqual(r.status, 303, (sign, r.text()[:300]))
            self.assertIsNotNone(session_cookie(r))

    def test_only_the_response_signed_is_refused(self):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice", sign="response")
        m = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: the Assertion is not signed "
                                   r"\(sso_want_assertions_signed is on\)", m)


class DefaultAcceptsAResponseSignatureTest(StackTest):

    def test_metadata_and_response_signature(self):
        s = self.stack
        self.assertIn('WantAssertionsSigned="false"', s.get("/sso/metadata").text())
        answer = s.idp_response(s.start_login("/app/"), "alice", sign="response")
        self.assertEqual(s.post_acs(answer["SAMLResponse"], answer["RelayState"]).status, 303)


if __name__ == "__main__":
    unittest.main()
