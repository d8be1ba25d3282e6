"""nginx -t on sso_redis and the settings around it: each refusal names the directive."""
import unittest

from t.integration.test_config import ConfigCheck


class RedisConfigTest(ConfigCheck):

    def test_valid_redis_store(self):
        p = self.assertValid(http_extra="sso_redis 127.0.0.1:6390; sso_redis_database 3; "
                                        "sso_redis_password secret-redis-pw; sso_redis_prefix tenant1:; "
                                        "sso_redis_connect_timeout 300ms; sso_redis_timeout 2s; "
                                        "sso_session_cache 5s; sso_store_failure cached;")
        self.assertNotIn("secret-redis-pw", p.stderr)

    def test_default_port_name_and_unix_socket(self):
        self.assertValid(http_extra="sso_redis localhost;")
        self.assertValid(http_extra="sso_redis unix:/run/redis/redis.sock;")

    def test_nginx_t_does_not_connect(self):
        # nothing listens on port 9 (discard): the check still passes, Redis is used at runtime
        self.assertValid(http_extra="sso_redis 127.0.0.1:9;")

    def test_address_that_does_not_parse(self):
        self.assertInvalid(r'"sso_redis": invalid address "127\.0\.0\.1:notaport"',
                           http_extra="sso_redis 127.0.0.1:notaport;")
        self.assertInvalid(r'"sso_redis": invalid address', http_extra="sso_redis no-such-host.invalid;")

    def test_duplicate(self):
        self.assertInvalid(r'"sso_redis" directive is duplicate',
                           http_extra="sso_redis 127.0.0.1:6379; sso_redis 127.0.0.1:6380;")

    def test_redis_settings_without_sso_redis(self):
        for directive, value in (("sso_redis_database", "1"), ("sso_redis_password", "x"),
                                 ("sso_redis_prefix", "p:"), ("sso_redis_timeout", "1s"),
                                 ("sso_redis_connect_timeout", "1s"), ("sso_session_cache", "5s"),
                                 ("sso_store_failure", "cached")):
            with self.subTest(directive=directive):
                self.assertInvalid(r'"%s" needs "sso_redis"' % directive,
                                   http_extra="%s %s;" % (directive, value))

    def test_bad_values(self):
        base = "sso_redis 127.0.0.1:6379; "
        self.assertInvalid(r'"sso_redis_timeout" must be positive', http_extra=base + "sso_redis_timeout 0;")
        self.assertInvalid(r'"sso_redis_connect_timeout" must be positive',
                           http_extra=base + "sso_redis_connect_timeout 0;")
        self.assertInvalid(r'"sso_redis_database"', http_extra=base + "sso_redis_database -1;")
        self.assertInvalid(r'"sso_redis_database"', http_extra=base + "sso_redis_database two;")
        self.assertInvalid(r'"sso_store_failure": invalid value "open" \(closed, cached\)',
                           http_extra=base + "sso_store_failure open;")
        self.assertInvalid(r'"sso_session_cache"', http_extra=base + "sso_session_cache forever;")

    def test_only_at_http_level(self):
        self.assertInvalid(r'"sso_redis" directive is not allowed here', extra="sso_redis 127.0.0.1:6379;")


if __name__ == "__main__":
    unittest.main()
