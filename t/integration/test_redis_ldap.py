"""LDAP with the Redis store: cached Basic checks live in Redis (per node: the cache key is an
HMAC with a key each node makes at start), and a form sign-in's session is a Redis session."""
import unittest

from t.integration.harness import upstream_headers, wait_until
from t.integration.ldap_stack import FormLogin, LdapStackTest, basic, directory, ldap_stack, session_cookie
from t.integration.redis_server import RedisServer

JSON = {"Accept": "application/json"}


class RedisLdapStack(LdapStackTest):
    """slapd, Redis and nginx with sso_redis; the tests are in the subclasses."""

    @classmethod
    def make_stack(cls):
        cls.redis = RedisServer()
        try:
            return ldap_stack(cls.slapd, directory(cls.slapd) + "sso_redis 127.0.0.1:%d;" % cls.redis.port)
        except BaseException:
            cls.redis.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.redis.cleanup()



class RedisLdapTest(RedisLdapStack):

    def test_basic_check_is_cached_in_redis(self):
        s = self.stack
        self.assertEqual(s.get("/app/", headers=basic("alice", "alice-pw")).status, 200)
        keys = self.redis.keys("sso:credentials:*")
        self.assertEqual(len(keys), 1, keys)
        self.assertGreater(self.redis.command("PTTL", keys[0].encode()), 0)
        self.slapd.freeze()
        try:
            for _ in range(4):  # whichever worker answers: the cache is in Redis
                r = s.get("/app/?format=json", headers=basic("alice", "alice-pw"))
                self.assertEqual(r.status, 200)
                self.assertEqual(upstream_headers(r)["x-sso-user"], ["alice"])
        finally:
            self.slapd.thaw()

    def test_form_sign_in_makes_a_redis_session(self):
        s = self.stack
        r = FormLogin(s).post("alice", "alice-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        cookie = session_cookie(r)
        self.assertIn("sso:sessions:" + cookie.split("=", 1)[1], self.redis.keys("sso:sessions:*"))
        self.assertEqual(s.get("/app/", JSON, cookie=cookie).status, 200)


class RedisLdapOutageTest(RedisLdapStack):
    """A stack of its own: the outage leaves its workers in their reconnect backoff."""

    def test_basic_works_without_redis(self):
        s = self.stack
        self.redis.stop()
        try:
            r = s.get("/app/?format=json", headers=basic("bob", "bob-pw"))
            self.assertEqual(r.status, 200, r.text()[:300])
            self.assertEqual(upstream_headers(r)["x-sso-user"], ["bob"])
        finally:
            self.redis.start()
        # the workers take Redis back after their reconnect backoff, with no reload
        wait_until(lambda: FormLogin(s).post("bob", "bob-pw").status == 303, "sign-in with Redis back")


if __name__ == "__main__":
    unittest.main()
