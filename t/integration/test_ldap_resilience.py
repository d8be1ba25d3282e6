"""The directory's transport and its failures: TLS verification, failover between servers, and a
stalled directory that must not slow anything that does not wait for it."""
import socket
import threading
import time
import unittest

from t.integration.harness import upstream_headers, wait_until
from t.integration.ldap_stack import (FormLogin, LdapStackTest, basic, directory, ldap_stack, session_cookie,
                                      timed)


def locations(*names):
    out = "        location /sso/ { sso_endpoint; }\n"
    out += "        location /public/ { proxy_pass http://127.0.0.1:%(upstream)d; }\n"
    for n in names:
        out += ("        location /%s/ { sso on; sso_ldap %s; sso_identity_headers on;"
                " proxy_pass http://127.0.0.1:%%(upstream)d; }\n" % (n, n))
    return out


class LdapTlsTest(LdapStackTest):
    """The server's certificate is checked against ca_file unless verification is turned off."""

    @classmethod
    def make_stack(cls):
        s = cls.slapd
        http = (directory(s, name="starttls") + directory(s, name="ldaps", tls="ldaps") +
                directory(s, name="wrongstarttls", ca_file=s.wrong_ca_file) +
                directory(s, name="wrongldaps", tls="ldaps", ca_file=s.wrong_ca_file) +
                directory(s, name="noverify", tls="ldaps", ca_file=s.wrong_ca_file, extra="verify_certificate off;"))
        return ldap_stack(s, http, server_extra="",
                          locations=locations("starttls", "ldaps", "wrongstarttls", "wrongldaps", "noverify"))

    def test_right_ca(self):
        for loc in ("starttls", "ldaps"):
            r = self.stack.get("/%s/?format=json" % loc, headers=basic("alice", "alice-pw"))
            self.assertEqual(r.status, 200, (loc, r.text()[:300]))
            self.assertEqual(upstream_headers(r)["x-sso-user"], ["alice"])

    def test_wrong_ca_is_refused(self):
        s = self.stack
        for loc in ("wrongstarttls", "wrongldaps"):
            m = s.mark()
            r = s.get("/%s/" % loc, headers=basic("alice", "alice-pw"))
            self.assertRefused(r, 503, r"LDAP directory %s unavailable" % loc, m)

    def test_verification_off_accepts_any_certificate(self):
        r = self.stack.get("/noverify/", headers=basic("alice", "alice-pw"))
        self.assertEqual(r.status, 200, r.text()[:300])


class LdapFailoverTest(LdapStackTest):
    """Two directory servers with the same users: when the first stops, the second answers."""

    SLAPDS = 2

    @classmethod
    def make_stack(cls):
        cls.first, cls.second = cls.slapds
        http = directory(cls.first, urls=[cls.first.ldap_url, cls.second.ldap_url], tls="none", timeout="1s",
                         cache_ttl="0")
        return ldap_stack(cls.first, http, server_extra="", locations=locations("corp"))

    def sign_in(self, user="bob", password="bob-pw"):
        m = self.stack.mark()
        r = self.stack.get("/corp/", headers=basic(user, password))
        return r, self.stack.sso_lines_since(m)

    def test_failover_and_back(self):
        r, lines = self.sign_in()
        self.assertEqual(r.status, 200)
        self.assertIn(self.first.ldap_url, lines[-1])
        self.first.kill()
        try:
            r, lines = self.sign_in()
            self.assertEqual(r.status, 200, r.text()[:300])
            self.assertIn(self.second.ldap_url, lines[-1])
            # the server that answered is tried first from now on: no time lost on the dead one
            r, took = timed(lambda: self.sign_in("alice", "alice-pw"))
            self.assertEqual(r[0].status, 200)
            self.assertIn(self.second.ldap_url, r[1][-1])
        finally:
            self.first.start()

    def test_all_servers_down(self):
        self.first.kill()
        self.second.kill()
        try:
            m = self.stack.mark()
            r = self.stack.get("/corp/", headers=basic("bob", "bob-pw"))
            self.assertRefused(r, 503, r"LDAP directory corp unavailable", m)
            self.assertIn("unavailable", r.text().lower())
        finally:
            self.first.start()
            self.second.start()


class LdapStallTest(LdapStackTest):
    """A frozen directory (SIGSTOP): the sign-ins that need it fail cleanly at the timeout while
    every other request keeps its normal speed."""

    @classmethod
    def make_stack(cls):
        s = cls.slapd
        return ldap_stack(s, directory(s, name="corp", timeout="1500ms", cache_ttl="0"),
                          server_extra="sso_ldap corp;", locations=locations("corp"))

    def test_stalled_directory_slows_nothing_else(self):
        s = self.stack
        cookie = session_cookie(FormLogin(s, "/corp/").post("alice", "alice-pw"))
        self.assertIsNotNone(cookie)
        self.slapd.freeze()
        try:
            results = {}

            def waiting_sign_in(key, fn):
                results[key] = timed(fn)

            waiting = [
                threading.Thread(target=waiting_sign_in,
                                 args=("basic", lambda: s.get("/corp/", headers=basic("bob", "bob-pw")))),
                threading.Thread(target=waiting_sign_in,
                                 args=("form", lambda: FormLogin(s, "/corp/").post("bob", "bob-pw"))),
            ]
            m = s.mark()
            for t in waiting:
                t.start()
            # While both wait on the directory: other requests, on both workers, answer at once.
            fast = []
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                r, took = timed(lambda: s.get("/public/"))
                self.assertEqual(r.status, 200)
                fast.append(took)
                r, took = timed(lambda: s.get("/corp/", cookie=cookie))
                self.assertEqual(r.status, 200)
                fast.append(took)
            self.assertTrue(all(t.is_alive() for t in waiting), "the sign-ins should still be waiting")
            for t in waiting:
                t.join(timeout=30)
            self.assertGreater(len(fast), 10)
            self.assertLess(max(fast), 0.5, fast)
            for key in ("basic", "form"):
                r, took = results[key]
                self.assertEqual(r.status, 504, (key, r.text()[:300]))
                self.assertGreater(took, 1.2)
                self.assertLess(took, 10)
                self.assertIn("did not answer", r.text())
            lines = [l for l in s.sso_lines_since(m) if "timed out" in l]
            self.assertEqual(len(lines), 2, s.sso_lines_since(m))
        finally:
            self.slapd.thaw()
        # and once it is back, sign-ins work again
        self.assertEqual(s.get("/corp/", headers=basic("bob", "bob-pw")).status, 200)

    def test_client_gone_while_the_directory_stalls(self):
        """The client hangs up while its sign-in waits in the thread pool: when the directory
        check ends, nginx finishes the request without a crash (the stack's stop() fails the
        test on a worker that died or a sanitizer report), and serves the next one."""
        s = self.stack
        self.slapd.freeze()
        try:
            m = s.mark()
            # The request and the hang-up travel together; the "timed out" line below shows
            # that nginx took the request and waited on the directory for it.
            sock = socket.create_connection(("127.0.0.1", s.port))
            head = "GET /corp/ HTTP/1.1\r\nHost: localhost\r\n"
            head += "".join("%s: %s\r\n" % kv for kv in basic("bob", "bob-pw").items()) + "\r\n"
            sock.sendall(head.encode())
            sock.close()
            # the check times out (1.5 s) and the request is finished
            wait_until(lambda: any("timed out" in l for l in s.sso_lines_since(m)), "the stalled check to end",
                       timeout=10)
        finally:
            self.slapd.thaw()
        self.assertEqual(s.get("/corp/", headers=basic("bob", "bob-pw")).status, 200)
        self.assertEqual(s.get("/public/").status, 200)


if __name__ == "__main__":
    unittest.main()
