"""Two nginx nodes sharing one real Redis: node A is a harness Stack (nginx with two workers,
the mock IdP, the echo upstream); node B is a second nginx with the same configuration (same
SP, same keys) on its own port, with one worker so that its per-worker state is predictable.
Both are what a load balancer would put side by side."""
import signal
import unittest
import urllib.parse

from t.integration.harness import DEFAULT_LOCATIONS, NGINX, Process, Stack, free_port, nginx_env, request
from t.integration.redis_server import RedisServer

LOCATIONS = DEFAULT_LOCATIONS + """
        location = /sso-status { sso_status; }
        location = /_auth { internal; sso_auth_request; }
        location /guarded/ {
            auth_request /_auth;
            auth_request_set $who $sso_user;
            proxy_set_header X-Remote-User $who;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""


class Node:
    """Node B: another nginx on the configuration of node A."""

    def __init__(self, stack):
        self.stack = stack
        self.port = free_port()
        self.log_path = stack.path("error-b.log")
        conf = stack.render()
        conf = conf.replace("listen 127.0.0.1:%d;" % stack.port, "listen 127.0.0.1:%d;" % self.port)
        conf = conf.replace("nginx.pid", "nginx-b.pid").replace("/error.log", "/error-b.log")
        conf = conf.replace("worker_processes 2;", "worker_processes 1;")
        with open(stack.path("nginx-b.conf"), "w") as f:
            f.write(conf)
        self.proc = Process([NGINX, "-p", stack.dir, "-c", stack.path("nginx-b.conf"), "-e", self.log_path],
                            stack.dir, "nginx-b", env=nginx_env(stack.dir))
        self.proc.wait_ready(self.port)

    def error_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def mark(self):
        return (len(self.error_log()), self.stack.upstream_count())

    def sso_lines_since(self, mark):
        return [l for l in self.error_log()[mark[0]:].splitlines() if " sso: " in l]

    def lines_since(self, mark, needle):
        return [l for l in self.error_log()[mark[0]:].splitlines() if needle in l]

    def get(self, path, headers=None, cookie=None):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        return request(self.port, "GET", path, h)

    def post_acs(self, saml_response, relay_state=None):
        form = [("SAMLResponse", saml_response)]
        if relay_state is not None:
            form.append(("RelayState", relay_state))
        return request(self.port, "POST", "/sso/acs", {"Content-Type": "application/x-www-form-urlencoded"},
                       body=urllib.parse.urlencode(form))

    def stop(self):
        self.proc.stop(signal.SIGQUIT)
        # a crash, or the Redis connection left open at a graceful exit
        bad = [l for l in self.error_log().splitlines() if "exited on signal" in l or "open socket" in l]
        if bad:
            raise AssertionError("node B:\n" + "\n".join(bad))


class TwoNodesTest(unittest.TestCase):
    """Redis, node A and node B for one test class; REDIS_EXTRA and SERVER_EXTRA add directives."""

    REDIS_EXTRA = ""
    SERVER_EXTRA = ""
    TIMEOUT = "1s"

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        try:
            http_extra = ("sso_redis 127.0.0.1:%d; sso_redis_timeout %s; sso_redis_connect_timeout %s; %s"
                          % (cls.redis.port, cls.TIMEOUT, cls.TIMEOUT, cls.REDIS_EXTRA))
            cls.stack = Stack(http_extra=http_extra, server_extra=cls.SERVER_EXTRA, locations=LOCATIONS)
        except BaseException:
            cls.redis.cleanup()
            raise
        try:
            cls.b = Node(cls.stack)
        except BaseException:
            cls.stack.stop()
            cls.redis.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.b.stop()
        finally:
            try:
                cls.stack.stop()
            finally:
                cls.redis.cleanup()

    def restart_redis(self):
        """Redis back on the same port, empty (it keeps nothing on disk here)."""
        self.redis.stop()
        self.redis.start()
