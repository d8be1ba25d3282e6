"""SAML Single Logout with the mock IdP (python3-lasso): SP-initiated over HTTP-Redirect and
HTTP-POST, IdP-initiated over both (with a SessionIndex, or without: every session of the
NameID), and every refusal (unsigned, rogue signature, unknown session, unknown InResponseTo,
replay) with a 4xx, no session change and one sso log line; an unverifiable LogoutRequest is
still answered (signed, Requester/RequestDenied) and an unverifiable LogoutResponse still ends
at the signed-out page with the way on."""
import base64
import html
import re
import unittest
import urllib.parse

from t.integration.harness import BROWSER, DEFAULT_LOCATIONS, Stack, StackTest, request, session_cookie, wait_until
from t.integration.redis_server import RedisServer

JSON = {"Accept": "application/json"}
USERS_NAMEID = {"alice": "alice@example.org", "bob": "bob@example.org"}
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


def form_fields(page):
    """The action and hidden fields of the first form of an HTML page."""
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page).group(1))
    fields = {html.unescape(n): html.unescape(v)
              for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)}
    return action, fields


class SloMixin:
    def sign_in(self, user, **knobs):
        """A login; returns (cookie, SessionIndex the IdP put in the assertion)."""
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), user, **knobs)
        xml = base64.b64decode(answer["SAMLResponse"]).decode()
        session_index = re.search(r'SessionIndex="([^"]+)"', xml).group(1)
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 303, r.text())
        return session_cookie(r), session_index

    def signed_in(self, cookie):
        return self.stack.get("/app/", JSON, cookie=cookie).status == 200

    def idp_get(self, url, **params):
        s = self.stack
        u = urllib.parse.urlsplit(url)
        self.assertEqual(u.netloc, "127.0.0.1:%d" % s.idp_port, url)
        query = u.query + ("&" + urllib.parse.urlencode(params) if params else "")
        return request(s.idp_port, "GET", u.path + "?" + query)

    def idp_post(self, url, fields):
        s = self.stack
        return request(s.idp_port, "POST", urllib.parse.urlsplit(url).path,
                       {"Content-Type": "application/x-www-form-urlencoded"},
                       body=urllib.parse.urlencode(fields))

    def sp_get(self, url, cookie=None):
        s = self.stack
        u = urllib.parse.urlsplit(url)
        self.assertEqual(u.netloc, "127.0.0.1:%d" % s.port, url)
        return s.get(u.path + "?" + u.query, cookie=cookie)

    def sp_post(self, url, fields):
        s = self.stack
        u = urllib.parse.urlsplit(url)
        self.assertEqual(u.netloc, "127.0.0.1:%d" % s.port, url)
        return request(s.port, "POST", u.path, {"Content-Type": "application/x-www-form-urlencoded"},
                       body=urllib.parse.urlencode(fields))

    def slo_log(self):
        return request(self.stack.idp_port, "GET", "/slo-log").json()

    def initiate(self, user, **knobs):
        s = self.stack
        r = request(s.idp_port, "GET", "/initiate-logout?" + urllib.parse.urlencode(dict(user=user, **knobs)))
        self.assertEqual(r.status, 200, r.text())
        return r.json()

    def deliver(self, message):
        """Carries an IdP-initiated LogoutRequest to the SP as the browser would."""
        if message["SAMLRequest"]:
            fields = {"SAMLRequest": message["SAMLRequest"]}
            if message["RelayState"]:
                fields["RelayState"] = message["RelayState"]
            return self.sp_post(message["url"], fields)
        return self.sp_get(message["url"])

    def carried_answer(self, page):
        """Delivers the LogoutResponse a page carries on to the IdP (meta refresh or form) and
        returns the IdP's log entry of it."""
        s = self.stack
        refresh = re.search(r'url=([^"]+)"', page.text())
        if refresh:
            target = html.unescape(refresh.group(1))
            self.assertTrue(target.startswith(s.idp_base + "/slo?SAMLResponse="), target)
            self.assertEqual(self.idp_get(target).status, 200)
        else:
            action, fields = form_fields(page.text())
            self.assertEqual(action, s.idp_base + "/slo")
            self.assertEqual(self.idp_post(action, fields).status, 200)
        entry = self.slo_log()[-1]
        self.assertEqual(entry["kind"], "response")
        return entry

    def assert_request_denied(self, entry, message):
        """The IdP got our signed LogoutResponse to `message` saying it was refused."""
        self.assertTrue(entry["signed"], entry)
        # lasso reports the refusal as an error; it would name the signature first if that failed
        self.assertNotIn("signature", (entry["error"] or "").lower(), entry)
        self.assertEqual(entry["in_response_to"], message["ID"])
        self.assertEqual((entry["status"], entry["second_status"]), (STATUS + "Requester", STATUS + "RequestDenied"))

    def assert_cleared_cookie(self, response):
        self.assertTrue(any(v.startswith("sso_session=;") and "Max-Age=0" in v for v in response.all("Set-Cookie")),
                        response.all("Set-Cookie"))


class RedirectSloTest(SloMixin, StackTest):
    STACK_ARGS = {"idp_slo": "redirect"}

    def test_sp_metadata_publishes_the_slo_endpoint(self):
        md = self.stack.get("/sso/metadata").text()
        for binding in ("HTTP-Redirect", "HTTP-POST"):
            self.assertRegex(md, r'SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:%s" '
                                 r'Location="%s/sso/slo"' % (binding, re.escape(self.stack.base)))

    def test_sp_initiated_logout_over_redirect(self):
        s = self.stack
        cookie, session_index = self.sign_in("alice")
        mark = s.mark()
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie)
        self.assertEqual(r.status, 302, r.text())
        self.assert_cleared_cookie(r)
        location = r.header("Location")
        self.assertTrue(location.startswith(s.idp_base + "/slo?SAMLRequest="), location)
        self.assertIn("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256", location)
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], "session ended by logout; LogoutRequest _\\S+ sent to the IdP")
        # the local session is gone before the IdP is even reached
        self.assertFalse(self.signed_in(cookie))
        answer = self.idp_get(location)
        self.assertEqual(answer.status, 302, answer.text())
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["binding"], entry["signed"]), ("request", "redirect", True))
        self.assertEqual(entry["name_id"], USERS_NAMEID["alice"])
        self.assertEqual(entry["session_index"], session_index)
        self.assertEqual(entry["destination"], s.idp_base + "/slo")
        self.assertEqual(entry["issuer"], s.entity_id)
        back = answer.header("Location")
        self.assertTrue(back.startswith(s.base + "/sso/slo?SAMLResponse="), back)
        mark = s.mark()
        done = self.sp_get(back)
        self.assertEqual((done.status, done.header("Location")), (303, "/public/bye"))
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("single logout finished", lines[0])
        # the same LogoutResponse again: its request is no longer pending
        mark = s.mark()
        self.assertRefused(self.sp_get(back), 403, "LogoutResponse refused: InResponseTo .* names no LogoutRequest",
                           mark)

    def test_sp_initiated_without_return_to_shows_the_signed_out_page(self):
        s = self.stack
        cookie, _ = self.sign_in("bob")
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(r.status, 302)
        done = self.sp_get(self.idp_get(r.header("Location")).header("Location"))
        self.assertEqual(done.status, 200)
        self.assertIn("Signed out", done.text())

    def test_idp_failure_status_still_ends_the_local_session(self):
        s = self.stack
        cookie, _ = self.sign_in("alice")
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie)
        answer = self.idp_get(r.header("Location"), status="urn:oasis:names:tc:SAML:2.0:status:Responder")
        mark = s.mark()
        done = self.sp_get(answer.header("Location"))
        self.assertEqual(done.status, 200)
        self.assertIn("could not end its own session", done.text())
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("the IdP answered urn:oasis:names:tc:SAML:2.0:status:Responder", lines[0])
        self.assertFalse(self.signed_in(cookie))

    def test_logout_response_with_unknown_in_response_to_is_refused(self):
        s = self.stack
        cookie, _ = self.sign_in("alice")
        r = s.get("/sso/logout", cookie=cookie)
        answer = self.idp_get(r.header("Location"), in_response_to="_not_ours")
        other, _ = self.sign_in("bob")
        mark = s.mark()
        self.assertRefused(self.sp_get(answer.header("Location")), 403,
                           "LogoutResponse refused: InResponseTo _not_ours names no LogoutRequest", mark)
        self.assertTrue(self.signed_in(other))

    def test_idp_initiated_over_redirect_ends_only_that_session(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        bob, _ = self.sign_in("bob")
        message = self.initiate("alice", binding="redirect", relay_state="rs-1")
        mark = s.mark()
        r = self.deliver(message)
        self.assertEqual(r.status, 302, r.text())
        self.assert_cleared_cookie(r)
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], 'session of NameID "alice@example.org" ended by the IdP')
        self.assertFalse(self.signed_in(alice))
        self.assertTrue(self.signed_in(bob))
        location = r.header("Location")
        self.assertTrue(location.startswith(s.idp_base + "/slo?SAMLResponse="), location)
        self.assertIn("RelayState=rs-1", location)
        self.assertEqual(self.idp_get(location).status, 200)
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["signed"], entry["error"]), ("response", True, None))
        self.assertEqual(entry["in_response_to"], message["ID"])
        self.assertEqual(entry["status"], "urn:oasis:names:tc:SAML:2.0:status:Success")

    def test_idp_initiated_over_post(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        message = self.initiate("alice", binding="post")
        self.assertTrue(message["SAMLRequest"])
        r = self.deliver(message)
        self.assertEqual(r.status, 302, r.text())  # the IdP takes answers over HTTP-Redirect
        self.assertFalse(self.signed_in(alice))
        self.assertEqual(self.idp_get(r.header("Location")).status, 200)
        self.assertEqual(self.slo_log()[-1]["status"], "urn:oasis:names:tc:SAML:2.0:status:Success")

    def refused_logout_request(self, status, reason, **knobs):
        """An unverifiable LogoutRequest: refused, the session stays, and the refusal page still
        carries a signed Requester/RequestDenied LogoutResponse on to the IdP."""
        s = self.stack
        alice, _ = self.sign_in("alice")
        message = self.initiate("alice", relay_state="rs-denied", **knobs)
        mark = s.mark()
        r = self.deliver(message)
        self.assertRefused(r, status, reason + "; answered " + STATUS + "RequestDenied, no session ended", mark)
        self.assertTrue(self.signed_in(alice), "a refused LogoutRequest must not end the session")
        self.assertIn("RelayState=rs-denied", html.unescape(r.text()))
        self.assert_request_denied(self.carried_answer(r), message)
        self.assertTrue(self.signed_in(alice))

    def test_unsigned_logout_request_is_refused(self):
        self.refused_logout_request(403, "LogoutRequest refused: message is not signed", sign="none")

    def test_unsigned_post_logout_request_is_refused(self):
        self.refused_logout_request(403, "LogoutRequest refused: message is not signed", sign="none", binding="post")

    def test_rogue_signature_is_refused(self):
        self.refused_logout_request(403, "LogoutRequest refused: signature does not verify with the IdP metadata "
                                         "certificate", key="rogue")

    def test_rogue_post_signature_is_refused(self):
        self.refused_logout_request(403, "LogoutRequest refused: signature does not verify with the IdP metadata "
                                         "certificate", key="rogue", binding="post")

    def test_unsigned_logout_response_still_ends_at_the_signed_out_page_with_the_way_on(self):
        s = self.stack
        cookie, _ = self.sign_in("alice")
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie)
        self.assertEqual(r.status, 302, r.text())
        answer = self.idp_get(r.header("Location"), sign="none")
        back = answer.header("Location")
        self.assertTrue(back.startswith(s.base + "/sso/slo?SAMLResponse="), back)
        self.assertNotIn("Signature=", back)
        mark = s.mark()
        done = self.sp_get(back)
        self.assertEqual(done.status, 200, done.text())
        self.assertIsNone(session_cookie(done))
        page = html.unescape(done.text())
        self.assertIn("signed out here; the identity provider's answer could not be verified", page)
        self.assertIn('<a href="/public/bye">', page)
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"single logout finished without the IdP's word: its LogoutResponse to _\S+ was "
                                   r"not accepted \(message is not signed\); the local session had already ended")
        self.assertFalse(self.signed_in(cookie))
        # its LogoutRequest is answered now: the same message again names nothing pending
        mark = s.mark()
        self.assertRefused(self.sp_get(back), 403, "LogoutResponse refused: message is not signed; and its "
                                                   "InResponseTo _\\S+ names no LogoutRequest", mark)

    def test_unsigned_logout_response_without_return_to_shows_the_signed_out_page(self):
        s = self.stack
        cookie, _ = self.sign_in("bob")
        r = s.get("/sso/logout", cookie=cookie)
        done = self.sp_get(self.idp_get(r.header("Location"), sign="none").header("Location"))
        self.assertEqual(done.status, 200, done.text())
        self.assertIn("could not be verified", html.unescape(done.text()))
        # no link on to a return address: only the way forward every signed-out page has
        self.assertEqual(set(re.findall(r'<a href="([^"]*)"', done.text())), {"/sso/login?return_to=%2F", "/"})

    def test_our_logout_request_names_the_nameid_exactly_as_the_assertion_had_it(self):
        s = self.stack
        cookie, session_index = self.sign_in("alice", nameid_qualifier="https://idp.example/qualifier",
                                             sp_nameid_qualifier="https://sp.example/affiliation")
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(self.idp_get(r.header("Location")).status, 302)
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["signed"]), ("request", True))
        self.assertEqual((entry["name_id"], entry["name_id_format"], entry["name_qualifier"],
                          entry["sp_name_qualifier"], entry["session_index"]),
                         (USERS_NAMEID["alice"], EMAIL_FORMAT, "https://idp.example/qualifier",
                          "https://sp.example/affiliation", session_index))
        # and none made up when the assertion had none
        cookie, _ = self.sign_in("bob")
        self.idp_get(s.get("/sso/logout", cookie=cookie).header("Location"))
        entry = self.slo_log()[-1]
        self.assertEqual((entry["name_id"], entry["name_qualifier"], entry["sp_name_qualifier"]),
                         (USERS_NAMEID["bob"], None, None))

    def test_unknown_session_is_refused_and_the_idp_still_answered(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        message = self.initiate("alice", session_index="_no_such_session")
        mark = s.mark()
        r = self.deliver(message)
        self.assertRefused(r, 404, "LogoutRequest _\\S+ for NameID \"alice@example.org\" names no session of this SP "
                                   "\\(unknown session\\)", mark)
        self.assertTrue(self.signed_in(alice))
        # the page carries a signed non-success LogoutResponse on to the IdP
        target = html.unescape(re.search(r'url=([^"]+)"', r.text()).group(1))
        self.assertEqual(self.idp_get(target).status, 200)
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["signed"]), ("response", True))
        self.assertEqual(entry["status"], "urn:oasis:names:tc:SAML:2.0:status:Responder")

    def test_logout_request_without_session_index_ends_every_session_of_the_nameid(self):
        s = self.stack
        first, _ = self.sign_in("alice")
        second, _ = self.sign_in("alice")
        bob, _ = self.sign_in("bob")
        message = self.initiate("alice", no_session_index="1")
        mark = s.mark()
        r = self.deliver(message)
        self.assertEqual(r.status, 302, r.text())
        self.assert_cleared_cookie(r)
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], '2 session\\(s\\) of NameID "alice@example.org" ended by the IdP\'s LogoutRequest '
                                   '_\\S+ \\(no SessionIndex')
        self.assertFalse(self.signed_in(first))
        self.assertFalse(self.signed_in(second))
        self.assertTrue(self.signed_in(bob), "another user's session must stay")
        self.assertEqual(self.idp_get(r.header("Location")).status, 200)
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["signed"], entry["error"]), ("response", True, None))
        self.assertEqual((entry["in_response_to"], entry["status"]), (message["ID"], STATUS + "Success"))
        # nothing of alice's is left to end now
        third = self.initiate("alice", no_session_index="1")
        mark = s.mark()
        self.assertRefused(self.deliver(third), 404, "names no session of this SP", mark)
        self.assertTrue(self.signed_in(bob))

    def test_replayed_logout_request_is_refused(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        message = self.initiate("alice")
        self.assertEqual(self.deliver(message).status, 302)
        again, _ = self.sign_in("alice")
        mark = s.mark()
        self.assertRefused(self.deliver(message), 403, "LogoutRequest refused: _\\S+ was already processed \\(replay\\)",
                           mark)
        self.assertTrue(self.signed_in(again))

    def test_query_without_a_message_is_refused(self):
        s = self.stack
        mark = s.mark()
        self.assertRefused(s.get("/sso/slo?foo=1"), 400, "the query must carry one SAMLRequest or SAMLResponse", mark)


class AnonymousTrafficTest(SloMixin, StackTest):
    """Anonymous requests to a protected location store nothing, so they cannot push the SLO
    index out of a small zone: the IdP can still end every session."""
    STACK_ARGS = {"idp_slo": "redirect", "http_extra": "sso_zone small:64k;",
                  "locations": DEFAULT_LOCATIONS + "location = /sso-status { sso_status; }\n"}

    def entries(self):
        return self.stack.get("/sso-status").json()["zones"]["sessions"]["entries"]

    def test_a_flood_of_redirects_keeps_the_logout_index(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        before = self.entries()
        self.assertGreaterEqual(before["slo_index"], 1)
        for _ in range(600):  # far more than a 64k zone holds of pending requests
            self.assertEqual(s.get("/app/", BROWSER).status, 302)
        self.assertEqual(self.entries(), before)
        mark = s.mark()
        r = self.deliver(self.initiate("alice", binding="redirect"))
        self.assertEqual(r.status, 302, r.text())
        self.assertRegex(s.sso_lines_since(mark)[0], 'session of NameID "alice@example.org" ended by the IdP')
        self.assertFalse(self.signed_in(alice))


class PostSloTest(SloMixin, StackTest):
    STACK_ARGS = {"idp_slo": "post"}

    def test_sp_initiated_logout_over_post(self):
        s = self.stack
        cookie, session_index = self.sign_in("alice")
        r = s.get("/sso/logout?return_to=%2Fpublic%2Fbye", cookie=cookie, headers=BROWSER)
        self.assertEqual(r.status, 200, r.text())
        self.assert_cleared_cookie(r)
        self.assertFalse(self.signed_in(cookie))
        action, fields = form_fields(r.text())
        self.assertEqual(action, s.idp_base + "/slo")
        answer = self.idp_post(action, dict(fields, format="json"))
        self.assertEqual(answer.status, 200, answer.text())
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["binding"], entry["signed"]), ("request", "post", True))
        self.assertEqual((entry["name_id"], entry["session_index"]), (USERS_NAMEID["alice"], session_index))
        reply = answer.json()
        fields = {"SAMLResponse": reply["SAMLResponse"]}
        if reply["RelayState"]:
            fields["RelayState"] = reply["RelayState"]
        done = self.sp_post(reply["url"], fields)
        self.assertEqual((done.status, done.header("Location")), (303, "/public/bye"))

    def test_idp_initiated_over_post_is_answered_over_post(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        bob, _ = self.sign_in("bob")
        r = self.deliver(self.initiate("alice", binding="post"))
        self.assertEqual(r.status, 200, r.text())
        self.assertFalse(self.signed_in(alice))
        self.assertTrue(self.signed_in(bob))
        action, fields = form_fields(r.text())
        self.assertEqual(action, s.idp_base + "/slo")
        self.assertEqual(self.idp_post(action, fields).status, 200)
        entry = self.slo_log()[-1]
        self.assertEqual((entry["kind"], entry["binding"], entry["signed"], entry["error"]),
                         ("response", "post", True, None))
        self.assertEqual(entry["status"], "urn:oasis:names:tc:SAML:2.0:status:Success")


    def test_unsigned_logout_request_is_answered_request_denied_over_post(self):
        s = self.stack
        alice, _ = self.sign_in("alice")
        message = self.initiate("alice", binding="post", sign="none")
        mark = s.mark()
        r = self.deliver(message)
        self.assertRefused(r, 403, "LogoutRequest refused: message is not signed; answered " + STATUS +
                           "RequestDenied, no session ended", mark)
        self.assertIn("document.forms[0].submit()", r.text())
        self.assert_request_denied(self.carried_answer(r), message)
        self.assertEqual(self.slo_log()[-1]["binding"], "post")
        self.assertTrue(self.signed_in(alice))


class RedisSloTest(SloMixin, StackTest):
    """The same index and sets in Redis (sorted sets changed by Lua scripts)."""

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        try:
            cls.stack = Stack(idp_slo="redirect", http_extra="sso_redis 127.0.0.1:%d;" % cls.redis.port)
        except BaseException:
            cls.redis.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop()
        finally:
            cls.redis.cleanup()

    def test_logout_request_without_session_index_ends_every_session_of_the_nameid(self):
        s = self.stack
        first, _ = self.sign_in("alice")
        second, _ = self.sign_in("alice")
        bob, _ = self.sign_in("bob")
        # the sets are written after the sign-in's answer, not waited on: poll
        def members():
            return sorted(self.redis.command("ZCARD", k) for k in self.redis.keys("sso:slo_subjects:*"))
        wait_until(lambda: members() == [1, 2], "one set per NameID: alice's two sessions, bob's one")
        r = self.deliver(self.initiate("alice", no_session_index="1"))
        self.assertEqual(r.status, 302, r.text())
        self.assertFalse(self.signed_in(first))
        self.assertFalse(self.signed_in(second))
        self.assertTrue(self.signed_in(bob))
        self.assertEqual(len(self.redis.keys("sso:slo_subjects:*")), 1)
        self.assertEqual(self.idp_get(r.header("Location")).status, 200)
        self.assertEqual(self.slo_log()[-1]["status"], STATUS + "Success")

    def test_our_logout_request_keeps_the_qualifiers_through_redis(self):
        s = self.stack
        cookie, _ = self.sign_in("alice", nameid_qualifier="q-idp", sp_nameid_qualifier="q-sp")
        self.idp_get(s.get("/sso/logout", cookie=cookie).header("Location"))
        entry = self.slo_log()[-1]
        self.assertEqual((entry["name_qualifier"], entry["sp_name_qualifier"]), ("q-idp", "q-sp"))


if __name__ == "__main__":
    unittest.main()
