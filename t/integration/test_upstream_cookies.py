"""The module's own cookies (the session, the sign-in form's token) stay between the browser and
nginx: the upstream gets the other cookies, in their order and with their values, unless
sso_pass_session_cookie is on.

Real parts: nginx with the module, the mock IdP (a real SAML flow), the echo upstream.
"""
import unittest

from t.integration.harness import StackTest, upstream_headers

JSON = {"Accept": "application/json"}

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ {
            sso on;
            proxy_set_header X-Test-Cookie $http_cookie;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /keep/ {
            sso on;
            sso_pass_session_cookie on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public/ {
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        # a public location that hands over to protected ones: the module still reads the
        # session cookie it removed from the request
        location /front/ { try_files /nonexistent @app; }
        location @app {
            sso on;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location = /_auth { internal; sso_auth_request; }
        location /guarded/ {
            auth_request /_auth;
            auth_request_set $who $sso_user;
            proxy_set_header X-Remote-User $who;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""


class UpstreamCookieTest(StackTest):
    STACK_ARGS = {"locations": LOCATIONS}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cookie, _ = cls.stack.login("alice")
        cls.session = cls.cookie.split("=", 1)[1]

    def get(self, path, *cookie_headers):
        r = self.stack.get(path, JSON, raw_headers=[("Cookie", c) for c in cookie_headers])
        self.assertEqual(r.status, 200, r.text()[:300])
        return upstream_headers(r)

    def test_session_cookie_removed_others_kept(self):
        h = self.get("/app/", "theme=dark; %s; lang=\"en gb\"" % self.cookie)
        self.assertEqual(h.get("cookie"), ['theme=dark; lang="en gb"'])
        self.assertEqual(h.get("x-test-cookie"), ['theme=dark; lang="en gb"'])  # $http_cookie too
        self.assertNotIn(self.session, str(h))

    def test_only_our_cookies_leaves_no_cookie_header(self):
        h = self.get("/app/", "%s;sso_session_csrf=token" % self.cookie)
        self.assertNotIn("cookie", h)
        self.assertNotIn(self.session, str(h))

    def test_several_cookie_headers(self):
        h = self.get("/app/", "a=1", "%s; b=2" % self.cookie, "sso_session_csrf=t", "c=3;d=4")
        self.assertEqual(h.get("cookie"), ["a=1", "b=2", "c=3;d=4"])  # untouched headers stay as sent
        self.assertNotIn(self.session, str(h))

    def test_no_cookie_of_ours_is_passed_as_sent(self):
        h = self.get("/public/", "a=1;b=2 ;  c=3")
        self.assertEqual(h.get("cookie"), ["a=1;b=2 ;  c=3"])

    def test_public_location_of_the_server_does_not_get_it_either(self):
        h = self.get("/public/", "%s; a=1" % self.cookie)
        self.assertEqual(h.get("cookie"), ["a=1"])

    def test_a_public_location_handing_over_to_a_protected_one(self):
        h = self.get("/front/x", "a=1; %s" % self.cookie)
        self.assertEqual(h.get("x-sso-user"), ["alice@example.org"])
        self.assertEqual(h.get("cookie"), ["a=1"])

    def test_auth_request_in_the_same_server_sees_the_session(self):
        h = self.get("/guarded/x", "%s; a=1" % self.cookie)
        self.assertEqual(h.get("x-remote-user"), ["alice@example.org"])
        self.assertEqual(h.get("cookie"), ["a=1"])

    def test_sso_pass_session_cookie_on_keeps_it(self):
        h = self.get("/keep/", "a=1; %s" % self.cookie)
        self.assertEqual(h.get("cookie"), ["a=1; %s" % self.cookie])
        self.assertEqual(h.get("x-sso-user"), None)  # identity headers off here: only the cookie passes


if __name__ == "__main__":
    unittest.main()
