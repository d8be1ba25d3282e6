"""scripts/demo.sh as a new user meets it: it starts (with the module built here, so it neither
installs packages nor builds), prints its banner, and everything the banner lists works: SAML
sign-in through the mock IdP with the identity headers and a verifiable JWT at the upstream, the
directory form, the group-restricted location, the console and the metrics for alice only,
Basic for API clients, Single Logout through the mock IdP. Stopping it stops all it started."""
import base64
import json
import os
import signal
import subprocess
import tempfile
import unittest
import urllib.parse

from t.integration.harness import BROWSER, MODULE, PRELOAD, REPO, free_port, request, session_cookie, wait_until
from t.integration.ldap_stack import FormLogin


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def descendants(pid):
    """The processes below `pid`, children first found through /proc's parent links."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@unittest.skipIf(PRELOAD, "the demo runs the plain nginx; the sanitizer pass covers the module elsewhere")
class DemoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sso-demo-")
        cls.dir = os.path.join(cls.tmp.name, "demo")
        cls.port, cls.idp_port, cls.upstream_port = free_port(), free_port(), free_port()
        env = dict(os.environ, DEMO_MODULE=MODULE, DEMO_DIR=cls.dir, DEMO_PORT=str(cls.port),
                   DEMO_IDP_PORT=str(cls.idp_port), DEMO_UPSTREAM_PORT=str(cls.upstream_port),
                   **cls.extra_env())
        cls.out_path = os.path.join(cls.tmp.name, "demo.out")
        cls.out = open(cls.out_path, "wb")
        cls.proc = subprocess.Popen(["bash", os.path.join(REPO, "scripts", "demo.sh")], cwd=REPO, env=env,
                                    stdout=cls.out, stderr=subprocess.STDOUT, start_new_session=True)

        def banner():
            if cls.proc.poll() is not None:
                raise AssertionError("demo.sh exited:\n" + cls.output())
            return "Press Ctrl-C to stop." in cls.output()
        try:
            wait_until(banner, "the demo's banner", timeout=60)
            # slapd runs in a session of its own: remember everything now, check it is gone later
            cls.started = descendants(cls.proc.pid)
        except BaseException:
            cls.stop()
            raise

    @classmethod
    def extra_env(cls):
        return {}

    @classmethod
    def output(cls):
        with open(cls.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    @classmethod
    def stop(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                cls.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(cls.proc.pid, signal.SIGKILL)
                cls.proc.wait()
        cls.out.close()

    @classmethod
    def tearDownClass(cls):
        cls.stop()
        left = [pid for pid in cls.started if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        cls.tmp.cleanup()
        assert not left, "processes the demo left running: %r" % left

    # what FormLogin needs of a stack
    def get(self, path, headers=None, cookie=None):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        return request(self.port, "GET", path, h)

    def saml_login(self, user, path="/"):
        r = self.get(path, BROWSER)
        self.assertEqual(r.status, 302, r.text())
        u = urllib.parse.urlsplit(r.header("Location"))
        self.assertEqual(u.netloc, "127.0.0.1:%d" % self.idp_port)
        answer = request(self.idp_port, "GET", u.path + "?" + u.query + "&user=%s&format=json" % user).json()
        body = urllib.parse.urlencode({"SAMLResponse": answer["SAMLResponse"], "RelayState": answer["RelayState"]})
        r = request(self.port, "POST", "/sso/acs", {"Content-Type": "application/x-www-form-urlencoded"}, body)
        self.assertEqual(r.status, 303, r.text())
        return session_cookie(r)

    def upstream_headers(self, path, cookie):
        r = self.get(path, {"Accept": "application/json"}, cookie)
        self.assertEqual(r.status, 200, r.text())
        out = {}
        for k, v in r.json()["headers"]:
            out[k.lower()] = v
        return out

    def test_banner_lists_everything(self):
        text = self.output()
        site = "http://127.0.0.1:%d" % self.port
        for what in ("/directory/", "/operators/", "/sso-admin/status", "/sso-admin/metrics", "/sso/metadata",
                     "/sso/acs", "/sso/logout", "Single Logout", "X-SSO-JWT", "jwt.pub", "alice-pw"):
            self.assertIn(what, text)
        self.assertIn(site + "/", text)
        self.assertIn("==> Starting", text, "progress lines")
        names = set()
        for pid in self.started:
            with open("/proc/%d/comm" % pid) as f:
                names.add(f.read().strip())
        self.assertTrue({"nginx", "slapd", "python3"} <= names, names)

    def test_saml_sign_in_with_headers_and_a_verifiable_token(self):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        cookie = self.saml_login("alice")
        h = self.upstream_headers("/", cookie)
        self.assertEqual(h["x-sso-user"], "alice")
        self.assertEqual(h["x-sso-auth-method"], "saml")
        head, payload, sig = h["x-sso-jwt"].split(".")
        with open(os.path.join(self.dir, "jwt.pub"), "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        key.verify(base64.urlsafe_b64decode(pad(sig)), (head + "." + payload).encode(), padding.PKCS1v15(),
                   hashes.SHA256())
        claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
        self.assertEqual((claims["sub"], claims["iss"]), ("alice", "http://127.0.0.1:%d" % self.port))

    def test_directory_form_sign_in(self):
        r = self.get("/directory/", BROWSER)
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").startswith("/sso/ldap?return_to="), r.header("Location"))
        r = FormLogin(self, return_to="/directory/").post("bob", "bob-pw")
        self.assertEqual(r.status, 303, r.text())
        self.assertEqual(r.header("Location"), "/directory/")
        h = self.upstream_headers("/directory/", session_cookie(r))
        self.assertEqual((h["x-sso-user"], h["x-sso-auth-method"]), ("bob", "ldap"))

    def test_group_location_admits_alice_only(self):
        self.assertEqual(self.get("/operators/", {"Accept": "application/json"}, self.saml_login("alice")).status, 200)
        r = self.get("/operators/", BROWSER, self.saml_login("bob"))
        self.assertEqual(r.status, 403)
        self.assertIn("Access denied", r.text())

    def test_console_and_metrics_for_alice_only(self):
        r = request(self.port, "GET", "/sso-admin/status", basic("alice", "alice-pw"))
        self.assertEqual(r.status, 200, r.text())
        self.assertIn("version", r.json())
        r = request(self.port, "GET", "/sso-admin/metrics", basic("alice", "alice-pw"))
        self.assertEqual(r.status, 200)
        self.assertIn("sso_build_info", r.text())
        self.assertEqual(request(self.port, "GET", "/sso-admin/status", basic("bob", "bob-pw")).status, 403)
        self.assertEqual(request(self.port, "GET", "/sso-admin/metrics").status, 401)

    def test_basic_for_api_clients(self):
        r = request(self.port, "GET", "/", dict(basic("bob", "bob-pw"), Accept="application/json"))
        self.assertEqual(r.status, 200)
        self.assertEqual(dict((k.lower(), v) for k, v in r.json()["headers"])["x-sso-user"], "bob")

    def test_single_logout_through_the_mock_idp(self):
        cookie = self.saml_login("alice")
        r = self.get("/sso/logout", BROWSER, cookie)
        self.assertIn(r.status, (302, 303), r.text())
        u = urllib.parse.urlsplit(r.header("Location"))
        self.assertEqual((u.netloc, u.path), ("127.0.0.1:%d" % self.idp_port, "/slo"))
        r = request(self.idp_port, "GET", u.path + "?" + u.query)  # the IdP ends its session, answers
        self.assertIn(r.status, (302, 303), r.text())
        back = urllib.parse.urlsplit(r.header("Location"))
        self.assertEqual((back.netloc, back.path), ("127.0.0.1:%d" % self.port, "/sso/slo"))
        r = self.get(back.path + "?" + back.query, BROWSER, cookie)
        self.assertEqual(r.status, 200, r.text())
        self.assertIn("Signed out", r.text())
        self.assertEqual(self.get("/", BROWSER, cookie).status, 302, "the session is gone")


class DemoTwoNodesTest(DemoTest):
    """The stack docker-compose.yml describes: the same demo with its sessions in Redis and a
    second nginx node on another port that shares them."""

    @classmethod
    def extra_env(cls):
        cls.port_2, cls.redis_port = free_port(), free_port()
        return {"DEMO_REDIS": "127.0.0.1:%d" % cls.redis_port, "DEMO_PORT_2": str(cls.port_2)}

    def test_the_second_node_shares_the_session(self):
        cookie = self.saml_login("alice")
        r = request(self.port_2, "GET", "/", {"Accept": "application/json", "Cookie": cookie})
        self.assertEqual(r.status, 200, r.text())
        self.assertEqual(dict((k.lower(), v) for k, v in r.json()["headers"])["x-sso-user"], "alice")
        status = request(self.port_2, "GET", "/sso-admin/status", basic("alice", "alice-pw")).json()
        self.assertEqual(status["store"]["kind"], "redis")
        self.assertIn("Second node", self.output())


if __name__ == "__main__":
    unittest.main()
