"""Session lifetime in the shared-memory store: expiry, idle timeout, reloads, several workers,
eviction when the zone is full, logout."""
import re
import time
import unittest

from t.integration.harness import DEFAULT_LOCATIONS, StackTest, session_cookie, upstream_headers

JSON = {"Accept": "application/json"}

# /app/ answers with the PID of the worker that served it.
PID_LOCATIONS = DEFAULT_LOCATIONS.replace(
    "sso_identity_headers on;", "sso_identity_headers on;\n            add_header X-Worker $pid always;", 1)


def poll(predicate, timeout, interval=0.2):
    """True as soon as predicate() holds, False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class SessionTest(StackTest):

    def status(self, cookie, path="/app/"):
        return self.stack.get(path, JSON, cookie=cookie).status

    def identity(self, cookie):
        r = self.stack.get("/app/", JSON, cookie=cookie)
        self.assertEqual(r.status, 200)
        h = upstream_headers(r)
        return {k: v for k, v in h.items() if k.startswith("x-sso-")}


class LifetimeTest(SessionTest):
    STACK_ARGS = {"server_extra": "sso_session_lifetime 2s;"}

    def test_session_expires_after_its_lifetime(self):
        cookie, acs = self.stack.login("alice")
        start = time.monotonic()
        set_cookie = [v for v in acs.all("Set-Cookie") if v.startswith("sso_session=")][0]
        max_age = int(re.search(r"Max-Age=(\d+)", set_cookie).group(1))
        self.assertTrue(1 <= max_age <= 2, set_cookie)
        self.assertEqual(self.status(cookie), 200)
        self.assertTrue(poll(lambda: self.status(cookie) == 401, 10), "the session never expired")
        # nginx's clock has a one-second resolution: a 2 s lifetime ends after 1 s at the
        # earliest; the poll, which uses the session every 0.2 s, shows that use does not
        # extend it (a later bound would measure the machine's load, not the module).
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        # and it stays expired
        self.assertEqual(self.status(cookie), 401)


class IdleTimeoutTest(SessionTest):
    IDLE = 2.0
    STACK_ARGS = {"server_extra": "sso_session_idle_timeout 2s; sso_session_lifetime 1h;"}

    def keep_using(self, cookie, seconds):
        """Uses the session every 0.5 s for seconds; each use must find it alive. A use counts
        only when it followed the previous one closely (under the idle timeout less nginx's
        one-second clock): on a machine stalled for longer the session may rightly have expired,
        and the window starts again with a new sign-in. Returns the cookie in use at the end."""
        for _ in range(5):
            start = last = time.monotonic()
            while True:
                sent = time.monotonic()
                status = self.status(cookie)
                if sent - last >= self.IDLE - 1.0:
                    break  # stalled: this answer proves nothing either way
                self.assertEqual(status, 200, "expired while in use after %.1f s" % (sent - start))
                last = time.monotonic()
                if last - start >= seconds:
                    return cookie
                time.sleep(0.5)
            cookie, _ = self.stack.login("alice")
        self.fail("the machine stalled for over %.0f s in each of five windows" % (self.IDLE - 1.0))

    def test_used_session_stays_and_idle_session_expires(self):
        cookie, _ = self.stack.login("alice")
        cookie = self.keep_using(cookie, 3.5)  # well past the idle timeout
        # Left alone: any request with the cookie would count as use, so this cannot poll.
        # nginx's clock has a one-second resolution; 2 s of real time is 2 ticks at least.
        time.sleep(self.IDLE + 0.3)
        self.assertEqual(self.status(cookie), 401)

    def test_other_sessions_are_not_kept_alive(self):
        idle, _ = self.stack.login("bob")
        idle_since = time.monotonic()
        used, _ = self.stack.login("alice")
        used = self.keep_using(used, 2.6)
        self.assertGreater(time.monotonic() - idle_since, self.IDLE + 0.3)
        self.assertEqual(self.status(idle), 401)
        self.assertEqual(self.status(used), 200)


class ReloadTest(SessionTest):
    STACK_ARGS = {"locations": PID_LOCATIONS}

    def test_sessions_survive_reload(self):
        s = self.stack
        cookie, _ = s.login("alice")
        before = self.identity(cookie)
        self.assertEqual(before["x-sso-user"], ["alice@example.org"])
        old_pids = {s.get("/app/", JSON, cookie=cookie).header("X-Worker") for _ in range(6)}
        s.reload()

        # The answers must come from the new workers (the old ones stop accepting).
        def served_by_new_worker():
            r = s.get("/app/", JSON, cookie=cookie)
            return r.header("X-Worker") not in old_pids

        self.assertTrue(poll(served_by_new_worker, 10), "no new worker answered")
        for _ in range(6):
            r = s.get("/app/", JSON, cookie=cookie)
            self.assertEqual(r.status, 200)
            self.assertNotIn(r.header("X-Worker"), old_pids)
        self.assertEqual(self.identity(cookie), before)

    def test_sessions_survive_reload_with_a_changed_configuration(self):
        s = self.stack
        cookie, _ = s.login("bob")
        before = self.identity(cookie)
        s.http_extra = "# changed\n    server_tokens off;"
        try:
            s.reload()
            self.assertEqual(self.identity(cookie), before)
            # a login after the reload works too, and both sessions coexist
            second, _ = s.login("alice")
            self.assertEqual(self.identity(second)["x-sso-user"], ["alice@example.org"])
            self.assertEqual(self.identity(cookie), before)
        finally:
            s.http_extra = ""


class WorkersTest(SessionTest):
    STACK_ARGS = {"locations": PID_LOCATIONS}  # the harness runs worker_processes 2

    def test_sessions_are_shared_by_all_workers(self):
        s = self.stack
        cookie, _ = s.login("alice")
        pids = set()
        for i in range(40):  # harness.request opens a fresh connection each time
            r = s.get("/app/", JSON, cookie=cookie)
            self.assertEqual(r.status, 200, "request %d" % i)
            self.assertEqual(upstream_headers(r)["x-sso-user"], ["alice@example.org"])
            pids.add(r.header("X-Worker"))
        # Which worker accepts a connection is the kernel's choice: go on until both have
        # answered, but bounded.
        for _ in range(200):
            if len(pids) >= 2:
                break
            r = s.get("/app/", JSON, cookie=cookie)
            self.assertEqual(r.status, 200)
            pids.add(r.header("X-Worker"))
        self.assertEqual(len(pids), 2, "both workers should have served the session")

    def test_logout_ends_the_session_on_all_workers(self):
        s = self.stack
        cookie, _ = s.login("bob")
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(r.status, 200)
        pids = set()
        for i in range(20):
            r = s.get("/app/", JSON, cookie=cookie)
            self.assertEqual(r.status, 401, "request %d" % i)
            pids.add(r.header("X-Worker"))
        self.assertIsNone(session_cookie(r))
        # logging in again works, with a new session
        again, _ = s.login("bob")
        self.assertNotEqual(again, cookie)
        for _ in range(10):
            self.assertEqual(s.get("/app/", JSON, cookie=again).status, 200)
        self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 401)


class EvictionTest(SessionTest):
    STACK_ARGS = {"http_extra": "sso_zone small:64k;"}

    def test_full_zone_evicts_the_oldest_sessions(self):
        s = self.stack
        mark = s.mark()
        cookies = []
        for i in range(400):
            answer = s.idp_response(s.start_login("/app/"), "alice")
            r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
            self.assertEqual(r.status, 303, "login %d: %s" % (i, s.sso_lines_since(mark)[-2:]))
            cookies.append(session_cookie(r))
        self.assertEqual(self.status(cookies[0]), 401, "the oldest session should have been evicted")
        self.assertEqual(self.status(cookies[-1]), 200, "the newest session must work")
        self.assertEqual(self.status(cookies[-2]), 200)
        errors = [l for l in s.error_log()[mark[0]:].splitlines()
                  if re.search(r"\[(error|crit|alert|emerg)\]", l)]
        self.assertEqual(errors, [])



class FullZoneConcurrentLoginsTest(SessionTest):
    """A full zone must not cost the logins in flight: storing a new session evicts old
    sessions (the same slab size class), not the pending requests of other browsers."""
    STACK_ARGS = {"http_extra": "sso_zone small:64k;"}

    def test_interleaved_logins_all_succeed_once_the_zone_is_full(self):
        s = self.stack
        first, _ = s.login("alice")
        for _ in range(120):  # more sessions than 64k holds
            s.login("bob")
        self.assertEqual(s.get("/app/", {"Accept": "application/json"}, cookie=first).status, 401)
        mark = s.mark()
        for _ in range(10):
            in_flight = [s.start_login("/app/") for _ in range(12)]
            answers = [s.idp_response(location, "alice") for location in in_flight]
            for answer in answers:
                r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
                self.assertEqual(r.status, 303, (r.text()[:200], s.sso_lines_since(mark)[-2:]))
        self.assertFalse([l for l in s.error_log()[mark[0]:].splitlines() if "[error]" in l or "[warn]" in l])

if __name__ == "__main__":
    unittest.main()
