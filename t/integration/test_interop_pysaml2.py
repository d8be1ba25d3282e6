"""Interop: an IdP we did not write (python3-pysaml2) issues the Response and answers our
LogoutRequests (matching NameIDs strictly, and, when asked, without signing its answer)."""
import base64
import html
import unittest
import urllib.parse

from t.integration.harness import StackTest, request, session_cookie, upstream_headers


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

    def test_login_with_a_pysaml2_encrypted_assertion(self):
        # pysaml2 encrypts to the certificate our metadata publishes with use="encryption"
        s = self.stack
        for alg in ("aes256-cbc", "aes128-gcm"):
            with self.subTest(alg=alg):
                answer = s.idp_response(s.start_login("/app/enc"), "alice", encrypt=alg)
                xml = base64.b64decode(answer["SAMLResponse"]).decode()
                self.assertIn("EncryptedAssertion", xml)
                self.assertNotIn("alice@example.org", xml)
                r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
                self.assertEqual(r.status, 303, (alg, r.text()[:300], s.sso_lines_since((0, 0))[-2:]))
                h = upstream_headers(s.get("/app/enc", {"Accept": "application/json"}, cookie=session_cookie(r)))
                self.assertEqual(h["x-sso-email"], ["alice@example.org"])
                self.assertEqual(h["x-sso-groups"], ["staff,print-operators"])

    def test_pysaml2_default_triple_des_is_refused(self):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice", encrypt="pysaml2-default")
        mark = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(r, 403, "SAML response refused: data encryption algorithm not allowed: "
                                   "http://www.w3.org/2001/04/xmlenc#tripledes-cbc", mark)

    def test_single_logout_round_trip_with_pysaml2(self):
        s = self.stack
        cookie, _ = s.login("alice", "/app/")
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie)
        self.assertEqual(r.status, 302, r.text())
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=cookie).status, 401)
        to_idp = urllib.parse.urlsplit(r.header("Location"))
        self.assertEqual(to_idp.netloc, "127.0.0.1:%d" % s.idp_port)
        # pysaml2 verifies our signed LogoutRequest and answers with a signed LogoutResponse
        answer = request(s.idp_port, "GET", to_idp.path + "?" + to_idp.query)
        self.assertEqual(answer.status, 302, answer.text())
        back = urllib.parse.urlsplit(answer.header("Location"))
        self.assertEqual(back.path, "/sso/slo")
        mark = s.mark()
        done = s.get(back.path + "?" + back.query)
        self.assertEqual((done.status, done.header("Location")), (303, "/public/bye"), done.text())
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("single logout finished", lines[0])

    def logout_at_pysaml2(self, cookie, **knobs):
        """SP-initiated logout: our LogoutRequest to pysaml2, its LogoutResponse back to us."""
        s = self.stack
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie)
        self.assertEqual(r.status, 302, r.text())
        to_idp = urllib.parse.urlsplit(r.header("Location"))
        query = to_idp.query + ("&" + urllib.parse.urlencode(knobs) if knobs else "")
        answer = request(s.idp_port, "GET", to_idp.path + "?" + query)
        self.assertEqual(answer.status, 302, answer.text())
        return urllib.parse.urlsplit(answer.header("Location"))

    def test_pysaml2_finds_its_session_by_the_qualified_nameid(self):
        # pysaml2 answers Success only for a NameID exactly as it issued it (SAML core 3.7.1)
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice", qualified="1")
        xml = base64.b64decode(answer["SAMLResponse"]).decode()
        self.assertIn('NameQualifier="%s"' % s.idp_entity_id, xml)
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 303, r.text())
        back = self.logout_at_pysaml2(session_cookie(r))
        mark = s.mark()
        done = s.get(back.path + "?" + back.query)
        self.assertEqual((done.status, done.header("Location")), (303, "/public/bye"), done.text())
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("single logout finished: the IdP ended its session", lines[0])

    def test_unsigned_pysaml2_logout_response_ends_at_the_signed_out_page(self):
        s = self.stack
        cookie, _ = s.login("alice", "/app/")
        back = self.logout_at_pysaml2(cookie, unsigned="1")
        self.assertEqual(back.path, "/sso/slo")
        self.assertNotIn("Signature=", back.query)
        mark = s.mark()
        done = s.get(back.path + "?" + back.query)
        self.assertEqual(done.status, 200, done.text())
        page = html.unescape(done.text())
        self.assertIn("signed out here; the identity provider's answer could not be verified", page)
        self.assertIn('<a href="/public/bye">', page)
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"LogoutResponse to \S+ was not accepted \(message is not signed\)")
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=cookie).status, 401)


if __name__ == "__main__":
    unittest.main()
