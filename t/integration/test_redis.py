"""Sessions, pending AuthnRequests and the replay cache in Redis, shared by two nginx nodes:
one login for both, logout seen by both, each assertion admitted once across them; and what
happens when Redis is stopped, restarted, frozen, or holds values that are not ours."""
import socket
import struct
import threading
import time
import unittest

from t.integration.harness import BROWSER, Stack, session_cookie, upstream_headers, wait_until
from t.integration.redis_nodes import TwoNodesTest
from t.integration.redis_server import RedisServer

JSON = {"Accept": "application/json"}


def user_of(response):
    return upstream_headers(response)["x-sso-user"]


class SharedSessionsTest(TwoNodesTest):
    SERVER_EXTRA = "sso_idp_initiated on;"

    def test_login_on_a_is_recognised_on_b(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        r = b.get("/app/", JSON, cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:300])
        self.assertEqual(user_of(r), ["alice@example.org"])
        self.assertEqual(user_of(s.get("/app/", JSON, cookie=cookie)), ["alice@example.org"])
        # auth_request (a subrequest waiting on Redis) answers with the same identity
        r = b.get("/guarded/x", JSON, cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(upstream_headers(r)["x-remote-user"], ["alice@example.org"])

    def test_logout_on_b_ends_the_session_on_a(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("bob")
        self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 200)
        self.assertEqual(b.get("/sso/logout", cookie=cookie).status, 200)
        for _ in range(6):  # every worker of A
            self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 401)
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 401)

    def test_answer_to_a_login_started_on_a_is_accepted_on_b_once(self):
        s, b = self.stack, self.b
        answer = s.idp_response(s.start_login("/app/"), "alice")
        r = b.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 303, r.text()[:300])
        self.assertEqual(b.get("/app/", JSON, cookie=session_cookie(r)).status, 200)
        m = s.mark()
        again = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(again.status, 403)
        self.assertIsNone(session_cookie(again))
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"names no AuthnRequest this SP has pending")

    def test_login_endpoint_started_on_b_finishes_on_a(self):
        s, b = self.stack, self.b
        r = b.get("/sso/login?return_to=%2Fapp%2Fdocs")
        self.assertEqual(r.status, 302, r.text()[:300])
        answer = s.idp_response(r.header("Location"), "bob")
        done = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(done.status, 303)
        self.assertEqual(done.header("Location"), "/app/docs")
        self.assertEqual(user_of(b.get("/app/", JSON, cookie=session_cookie(done))), ["bob@example.org"])

    def test_same_response_on_a_then_b_is_a_replay(self):
        s, b = self.stack, self.b
        a = s.unsolicited("alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)
        m = b.mark()
        r = b.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertEqual(r.status, 403)
        self.assertIsNone(session_cookie(r))
        self.assertEqual(s.upstream_count(), m[1])
        lines = b.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"assertion was already used \(replay\)")

    def test_entries_live_under_the_prefix_with_ttls(self):
        s = self.stack
        cookie, _ = s.login("alice")
        sid = cookie.split("=", 1)[1]
        key = "sso:sessions:" + sid
        self.assertIn(key, self.redis.keys("sso:sessions:*"))
        ttl = self.redis.command("PTTL", key)
        # the idle timeout (1h by default) comes before the lifetime (8h)
        self.assertTrue(0 < ttl <= 3600 * 1000, ttl)
        seen = self.redis.keys("sso:seen_assertions:*")
        self.assertTrue(seen)
        self.assertTrue(all(self.redis.command("PTTL", k.encode()) > 0 for k in seen))
        # a login started stores nothing: the AuthnRequest ID carries its own state
        keys_before = self.redis.keys()
        s.start_login("/app/")
        self.assertEqual(self.redis.keys(), keys_before)
        self.assertEqual(self.redis.keys("sso:pending_requests:*"), [])

    def test_reload_keeps_sessions_and_old_workers_leave_cleanly(self):
        s = self.stack
        cookie, _ = s.login("alice")
        before = len(s.error_log())
        s.reload()
        wait_until(lambda: s.error_log()[before:].count("exited with code 0") >= 2, "the old workers to exit")
        self.assertEqual(user_of(s.get("/app/", JSON, cookie=cookie)), ["alice@example.org"])
        self.assertNotIn("open socket", s.error_log()[before:])

    def test_status_reports_the_redis_store(self):
        cookie, _ = self.stack.login("alice")
        self.assertEqual(self.b.get("/app/", JSON, cookie=cookie).status, 200)
        st = self.b.get("/sso-status").json()["store"]
        self.assertEqual(st["kind"], "redis")
        self.assertEqual(st["address"], "127.0.0.1:%d" % self.redis.port)
        self.assertEqual(st["state"], "connected")

    def corrupt_and_check(self, cookie, value):
        s, b = self.stack, self.b
        key = "sso:sessions:" + cookie.split("=", 1)[1]
        self.redis.command("SET", key, value)
        m = b.mark()
        r = b.get("/app/", JSON, cookie=cookie)
        self.assertEqual(r.status, 401)
        self.assertEqual(s.upstream_count(), m[1])
        # the next request with it is a plain "no session": the bad value went
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 401)
        self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 401)
        self.assertIsNone(self.redis.command("GET", key))
        return b.error_log()[m[0]:] + s.error_log()

    def test_foreign_value_under_our_prefix_is_no_session_logged_once(self):
        cookie, _ = self.stack.login("alice")
        log = self.corrupt_and_check(cookie, "not a session, put here by someone else")
        self.assertEqual(log.count("not a value of ours"), 1, log)

    def test_truncated_value_is_no_session_logged_once(self):
        cookie, _ = self.stack.login("alice")
        key = "sso:sessions:" + cookie.split("=", 1)[1]
        value = self.redis.command("GET", key)
        self.assertTrue(value.startswith(b"SSO\x01"))
        log = self.corrupt_and_check(cookie, value[:-7])
        self.assertEqual(log.count("not a value of ours"), 1, log)

    def test_corrupt_session_in_a_valid_envelope_is_no_session_logged_once(self):
        cookie, _ = self.stack.login("alice")
        payload = b"SSOR\x01 garbage"
        envelope = b"SSO\x01" + bytes([0]) + struct.pack(">qqI", int(time.time()) + 3600, 0, len(payload)) + payload
        log = self.corrupt_and_check(cookie, envelope)
        self.assertEqual(log.count("stored session is corrupt"), 1, log)


class FaultsTest(TwoNodesTest):

    def test_redis_stopped_then_restarted(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        answer = s.idp_response(s.start_login("/app/"), "bob")
        self.redis.stop()
        try:
            m = b.mark()
            r = b.get("/app/", JSON, cookie=cookie)
            self.assertEqual(r.status, 503, r.text()[:300])
            self.assertIn("session store", r.text())
            self.assertIsNone(session_cookie(r))
            self.assertEqual(s.upstream_count(), m[1], "the upstream must not be reached")
            lines = b.sso_lines_since(m)
            self.assertEqual(len(lines), 1, lines)
            self.assertRegex(lines[0], r"session store unavailable: redis 127\.0\.0\.1:%d: " % self.redis.port)
            # a login still starts (the AuthnRequest carries its own state), and unprotected
            # locations do not care
            m = b.mark()
            r = b.get("/app/", BROWSER)
            self.assertEqual(r.status, 302)
            self.assertEqual(b.sso_lines_since(m), [])
            self.assertEqual(b.get("/public/x").status, 200)
            self.assertEqual(s.get("/public/x").status, 200)
            # a logout that cannot be recorded says so (and still clears this browser's cookie)
            m = b.mark()
            r = b.get("/sso/logout", cookie=cookie)
            self.assertEqual(r.status, 503)
            self.assertTrue([c for c in r.all("Set-Cookie") if c.startswith("sso_session=;")], r.headers)
            self.assertRegex(b.sso_lines_since(m)[0], r"logout not recorded: session store unavailable")
            # nor can the answer to a sign-in started before the outage be taken
            m = b.mark()
            r = b.post_acs(answer["SAMLResponse"], answer["RelayState"])
            self.assertEqual(r.status, 503)
            self.assertIsNone(session_cookie(r))
            self.assertRegex(b.sso_lines_since(m)[0], r"replay cache full or unavailable; login refused")
        finally:
            self.redis.start()
        # back without touching nginx: Redis kept nothing, so the old session is gone and a
        # new login works on both nodes (after the reconnect backoff)
        wait_until(lambda: b.get("/app/", JSON, cookie=cookie).status == 401, "node B reconnecting")
        wait_until(lambda: s.get("/app/", BROWSER).status == 302, "node A reconnecting")
        cookie, _ = s.login("bob")
        self.assertEqual(user_of(b.get("/app/", JSON, cookie=cookie)), ["bob@example.org"])
        self.assertIn("answering again at 127.0.0.1:%d" % self.redis.port, b.error_log())

    def test_frozen_redis_times_out_while_other_requests_flow(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 200)
        m = b.mark()
        self.redis.freeze()
        try:
            result = {}
            t = threading.Thread(target=lambda: result.setdefault("r", b.get("/app/", JSON, cookie=cookie)))
            t.start()
            flowed = 0
            while t.is_alive():
                # node B has one worker: these are answered by the worker the protected
                # request waits in
                r = b.get("/public/x")
                self.assertEqual(r.status, 200)
                if t.is_alive():
                    flowed += 1
            t.join()
            self.assertGreaterEqual(flowed, 3, "unprotected requests must be answered while Redis is frozen")
            self.assertEqual(result["r"].status, 503)
            lines = b.sso_lines_since(m)
            self.assertEqual(len(lines), 1, lines)
            self.assertRegex(lines[0], r"session store unavailable: .*no answer within 1000 ms")
        finally:
            self.redis.thaw()
        wait_until(lambda: b.get("/app/", JSON, cookie=cookie).status == 200, "recovery after thaw")

    def test_a_stall_is_logged_once_then_counted(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 200)
        m = b.mark()
        self.redis.freeze()
        refused = 0
        try:
            # node B's one worker: the first request waits for the timeout, the next ones fail
            # at once during the backoff, then one waits again at each new connection
            for _ in range(150):
                r = b.get("/app/", JSON, cookie=cookie)
                self.assertEqual(r.status, 503)
                refused += 1
        finally:
            self.redis.thaw()
        statuses = []
        wait_until(lambda: statuses.append(b.get("/app/", JSON, cookie=cookie).status) or statuses[-1] == 200,
                   "recovery after thaw")
        refused += statuses.count(503)  # during the reconnect backoff
        full = b.lines_since(m, "session store unavailable: ")
        counted = [l for l in b.sso_lines_since(m) if "more requests refused" in l]
        self.assertEqual(len(full), 1, full)
        self.assertTrue(counted, b.sso_lines_since(m))
        total = sum(int(l.split("more requests refused")[0].rsplit(" ", 2)[-2]) for l in counted)
        self.assertEqual(1 + total, refused, counted)
        # the whole stall: a handful of lines of ours (and of the Redis connection), not one per request
        ours = [l for l in b.error_log()[m[0]:].splitlines() if " sso: " in l or " sso redis: " in l]
        self.assertLess(len(ours), 20, ours)

    def test_client_hanging_up_while_its_request_waits(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        m = b.mark()
        self.redis.freeze()
        try:
            for path in ("/app/", "/guarded/x", "/sso/logout"):
                c = socket.create_connection(("127.0.0.1", b.port))
                c.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nCookie: %s\r\n\r\n"
                           % (path, cookie)).encode())
                c.close()
            wait_until(lambda: "no answer within" in b.error_log()[m[0]:], "the operation timeout")
            self.assertEqual(b.get("/public/x").status, 200)
        finally:
            self.redis.thaw()
        wait_until(lambda: b.get("/app/", JSON, cookie=cookie).status in (200, 401), "recovery after thaw")
        self.assertNotIn("exited on signal", b.error_log())


class SessionCacheTest(TwoNodesTest):
    REDIS_EXTRA = "sso_session_cache 2s;"

    def test_a_burst_costs_one_redis_read(self):
        cookie, _ = self.stack.login("alice")
        before = self.redis.calls("get")
        for _ in range(8):
            self.assertEqual(self.b.get("/app/", JSON, cookie=cookie).status, 200)
        self.assertEqual(self.redis.calls("get") - before, 1)

    def test_logout_elsewhere_is_seen_within_the_cache_ttl(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("bob")
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 200)  # cached in B's worker
        self.assertEqual(s.get("/sso/logout", cookie=cookie).status, 200)
        start = time.monotonic()
        wait_until(lambda: b.get("/app/", JSON, cookie=cookie).status == 401, "logout seen on node B", timeout=10)
        # 2 s of cache on a clock with one-second ticks: within 3 s, plus slack for a loaded machine
        self.assertLess(time.monotonic() - start, 5.0)


    def test_logout_through_the_worker_that_cached_it_is_immediate(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 200)  # cached in B's one worker
        self.assertEqual(b.get("/sso/logout", cookie=cookie).status, 200)
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 401)


class IdleTimeoutTest(TwoNodesTest):
    SERVER_EXTRA = "sso_session_idle_timeout 2s; sso_session_lifetime 5s;"

    def test_use_refreshes_the_ttl_but_never_past_the_lifetime(self):
        s, b = self.stack, self.b
        cookie, _ = s.login("alice")
        key = "sso:sessions:" + cookie.split("=", 1)[1]
        self.assertLessEqual(self.redis.command("PTTL", key), 2000)  # the idle timeout, not 5 s
        wait_until(lambda: self.redis.command("PTTL", key) < 900, "the idle clock to run", timeout=5)
        before = self.redis.command("PTTL", key)
        self.assertEqual(b.get("/app/", JSON, cookie=cookie).status, 200)
        self.assertGreater(self.redis.command("PTTL", key), before)
        # in constant use the idle timeout never strikes, but the 5 s lifetime does
        start = time.monotonic()
        while b.get("/app/", JSON, cookie=cookie).status == 200:
            self.assertLess(time.monotonic() - start, 10, "the session outlived its lifetime")
            time.sleep(0.3)
        self.assertIsNone(self.redis.command("GET", key))


class FailOpenTest(TwoNodesTest):
    REDIS_EXTRA = "sso_store_failure cached;"

    def test_sessions_this_worker_knows_get_through_while_redis_is_down(self):
        s, b = self.stack, self.b
        known, _ = s.login("alice")
        unknown, _ = s.login("bob")
        self.assertEqual(b.get("/app/", JSON, cookie=known).status, 200)  # node B reads it once
        self.redis.stop()
        try:
            r = b.get("/app/", JSON, cookie=known)
            self.assertEqual(r.status, 200)
            self.assertEqual(user_of(r), ["alice@example.org"])
            m = b.mark()
            r = b.get("/app/", JSON, cookie=unknown)
            self.assertEqual(r.status, 503)
            self.assertRegex(b.sso_lines_since(m)[0], r"session store unavailable")
            self.assertIn("sessions this worker read recently are let through", b.error_log())
        finally:
            self.redis.start()


class OneNodeTest(unittest.TestCase):
    """A Redis started with REDIS_ARGS, and one node per test (stack())."""

    REDIS_ARGS = {}

    def setUp(self):
        self.redis = RedisServer(**self.REDIS_ARGS)
        self.stacks = []

    def tearDown(self):
        try:
            for s in self.stacks:
                s.stop()
        finally:
            self.redis.cleanup()

    def stack(self, extra, server_extra=""):
        s = Stack(http_extra="sso_redis 127.0.0.1:%d; %s" % (self.redis.port, extra), server_extra=server_extra)
        self.stacks.append(s)
        return s


class ReplayAcrossRestartTest(OneNodeTest):
    """With sso_redis the replay cache is in Redis: a stop or a crash of nginx loses nothing."""

    def test_accepted_response_is_refused_after_a_restart(self):
        s = self.stack("", server_extra="sso_idp_initiated on;")
        a = s.unsolicited("alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)
        sp = s.idp_response(s.start_login("/app/"), "bob")
        self.assertEqual(s.post_acs(sp["SAMLResponse"], sp["RelayState"]).status, 303)
        for crash in (False, True):
            with self.subTest(crash=crash):
                s.restart_nginx(crash=crash)
                m = s.mark()
                r = s.post_acs(a["SAMLResponse"], a["RelayState"])
                self.assertRefused(r, m, r"SAML response refused: assertion was already used \(replay\)")
                m = s.mark()
                r = s.post_acs(sp["SAMLResponse"], sp["RelayState"])
                self.assertRefused(r, m, r"SAML response refused: InResponseTo \S+ names no AuthnRequest this SP "
                                         r"has pending \(already answered\)")
        # and a new login works on the restarted node
        self.assertEqual(s.post_acs(*[s.unsolicited("alice")[k] for k in ("SAMLResponse", "RelayState")]).status,
                         303)

    def assertRefused(self, r, m, reason):
        self.assertEqual(r.status, 403)
        self.assertIsNone(session_cookie(r))
        lines = self.stacks[0].sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], reason)


class AnonymousFloodTest(OneNodeTest):
    """Unauthenticated clients cannot fill the shared store: a redirect to the IdP writes
    nothing to Redis, so a flood of them neither grows it nor pushes out signed-in users."""

    REDIS_ARGS = {"extra_args": ["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]}

    def used_memory(self):
        info = self.redis.command("INFO", "memory").decode()
        return int(info.split("used_memory:", 1)[1].split()[0])

    def test_anonymous_redirects_store_nothing(self):
        s = self.stack("")
        cookies = [s.login(user)[0] for user in ("alice", "bob")]

        # A sign-in writes its logout index entries without waiting for them: the snapshot is
        # taken once both users' entries have landed, so that only the flood could change it.
        def indexed():
            keys = self.redis.keys()
            return all(len([k for k in keys if k.startswith(prefix)]) == 2
                       for prefix in ("sso:slo_index:", "sso:slo_subjects:"))
        wait_until(indexed, "the logout index entries of both sign-ins")
        keys = self.redis.keys()
        memory = self.used_memory()
        for _ in range(1500):
            self.assertEqual(s.get("/app/", BROWSER).status, 302)
        self.assertEqual(self.redis.keys(), keys)
        self.assertLess(self.used_memory() - memory, 256 * 1024)
        for cookie in cookies:
            self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 200)
        # a login started before the flood still finishes after it
        answer = s.idp_response(s.start_login("/app/"), "alice")
        for _ in range(200):
            s.get("/app/", BROWSER)
        self.assertEqual(s.post_acs(answer["SAMLResponse"], answer["RelayState"]).status, 303)


class AuthAndDatabaseTest(OneNodeTest):
    """sso_redis_password and sso_redis_database, against a Redis that requires a password."""

    REDIS_ARGS = {"password": "redis-secret"}

    def test_password_and_database(self):
        s = self.stack("sso_redis_password redis-secret; sso_redis_database 2;")
        cookie, _ = s.login("alice")
        self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 200)
        key = "sso:sessions:" + cookie.split("=", 1)[1]
        self.assertIsNone(self.redis.command("GET", key))
        self.assertIsNotNone(self.redis.command("GET", key, db=2))

    def test_wrong_password_is_a_clear_503(self):
        s = self.stack("sso_redis_password not-the-password;")
        m = s.mark()
        r = s.get("/app/", {"Accept": "application/json"}, cookie="sso_session=" + "A" * 43)
        self.assertEqual(r.status, 503)
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"session store unavailable: .*connection set-up refused: WRONGPASS")
        self.assertNotIn("not-the-password", s.error_log())


class RefusedCommandTest(OneNodeTest):
    """A Redis that refuses a command we need (here SET, renamed away): the ACS gets a clear
    503, the connection stays for the commands that work."""

    REDIS_ARGS = {"extra_args": ["--rename-command", "SET", ""]}

    def test_refused_command_is_a_503_and_the_rest_still_works(self):
        s = self.stack("")
        answer = s.idp_response(s.start_login("/app/"), "alice")
        m = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 503)
        self.assertIsNone(session_cookie(r))
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"replay cache full or unavailable; login refused: redis 127\.0\.0\.1:\d+: "
                                   r"command refused: ERR unknown command")
        # the connection still serves: a lookup (GET) answers "no such session"
        self.assertEqual(s.get("/app/", JSON, cookie="sso_session=" + "A" * 43).status, 401)


if __name__ == "__main__":
    unittest.main()
