"""Test harness: real nginx with our module, the mock IdP and the echo upstream.

Every server binds 127.0.0.1 on a free port, lives in a temp dir, is waited for by polling
and is stopped by its PID. Tests read nginx's error log to assert the one line a decision
logs, and the upstream's request log to assert whether a request got through.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"  # Debian's: the one that imports lasso and saml2
NGINX = os.environ.get("NGX_SSO_NGINX", "/usr/sbin/nginx")
MODULE = os.path.abspath(os.environ.get("NGX_SSO_MODULE", os.path.join(REPO, "build", "ngx_http_sso_module.so")))
MOCK_IDP = os.path.join(REPO, "t", "mockidp", "mockidp.py")
PYSAML2_IDP = os.path.join(REPO, "t", "interop", "pysaml2_idp.py")
ECHO = os.path.join(REPO, "t", "echo", "echo_upstream.py")
USERS = os.path.join(REPO, "t", "mockidp", "users.json")
TIMEOUT = 20.0
# Set by the sanitizer run: nginx is not instrumented, so the ASan runtime is preloaded.
PRELOAD = os.environ.get("NGX_SSO_PRELOAD", "")


def sanitizer_dir(workdir):
    """Where sanitizer reports go: writable by nginx's workers, which run as nobody."""
    d = os.path.join(workdir, "sanitizer")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o1777)
    return d


def nginx_env(workdir):
    """nginx's environment; under the sanitizer run every report goes to a file we check."""
    env = dict(os.environ)
    env.pop("NGX_SSO_PRELOAD", None)
    if PRELOAD:
        env["LD_PRELOAD"] = PRELOAD
        d = sanitizer_dir(workdir)
        # nginx's own pools are freed by process exit, not by free(): leak reports would be
        # about nginx, not us. Memory errors and UB still abort and are reported.
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:log_path=%s/asan" % d
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:log_path=%s/ubsan" % d
    return env


def sanitizer_reports(workdir):
    out = []
    d = os.path.join(workdir, "sanitizer")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.startswith(("asan.", "ubsan.")):
            with open(os.path.join(d, name), errors="replace") as f:
                out.append(name + ":\n" + f.read())
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise AssertionError("timed out waiting for " + what)


def nginx_t(workdir, conf, extra_args=()):
    """nginx -t on a configuration, under the sanitizer run's environment like every nginx we
    start; a sanitizer report fails the caller even when nginx's exit code looks fine."""
    result = subprocess.run([NGINX, "-t", "-p", workdir.rstrip("/") + "/", "-c", conf,
                             "-e", os.path.join(workdir, "error.log")] + list(extra_args),
                            capture_output=True, text=True, env=nginx_env(workdir))
    reports = sanitizer_reports(workdir)
    if reports:
        raise AssertionError("nginx -t reported errors:\n" + "\n".join(reports))
    return result


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Process:
    """A child process we own: started in its own session, stopped by PID."""

    def __init__(self, argv, workdir, name, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".out")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_ready(self, port):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited early:\n%s" % (self.name, self.output()))
            return port_open(port)
        wait_until(ready, self.name + " on port %d" % port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log.close()


def make_keys(directory):
    subprocess.run(["bash", os.path.join(REPO, "t", "mockidp", "make_keys.sh"), directory], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body)


def request(port, method, path, headers=None, body=None, raw_headers=None):
    """One HTTP/1.1 request; raw_headers are sent exactly as given (for spoofing tests)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    for k, v in (raw_headers or []):
        conn.putheader(k, v)
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return Response(resp.status, resp.getheaders(), data)


BROWSER = {"Accept": "text/html,application/xhtml+xml"}


class Stack:
    """nginx + module, the mock IdP (or pysaml2's) and the echo upstream in one temp dir."""

    def __init__(self, server_extra="", http_extra="", locations=None, idp="mock", saml=True,
                 extra_servers="", idp_slo=None):
        self.dir = tempfile.mkdtemp(prefix="sso-test-")
        self.port = free_port()
        self.idp_port = free_port()
        self.upstream_port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.idp_base = "http://127.0.0.1:%d" % self.idp_port
        self.entity_id = self.base + "/sso/metadata"
        self.acs_url = self.base + "/sso/acs"
        self.idp_entity_id = self.idp_base + "/metadata"
        self.idp_kind = idp
        self.procs = []
        make_keys(self.dir)
        self.idp_script = MOCK_IDP if idp == "mock" else PYSAML2_IDP
        # The mock IdP publishes SingleLogoutService only when asked (idp_slo="redirect,post").
        self.idp_slo_args = ["--slo", idp_slo] if idp_slo else []
        md = subprocess.run([PYTHON, self.idp_script, "metadata"] + self.idp_slo_args + ["--entity-id", self.idp_entity_id,
                             "--base-url", self.idp_base, "--cert", self.path("idp.crt")],
                            check=True, capture_output=True)
        with open(self.path("idp-metadata.xml"), "wb") as f:
            f.write(md.stdout)
        self.upstream_log = self.path("upstream.jsonl")
        open(self.upstream_log, "w").close()
        self.saml = saml
        self.server_extra = server_extra
        self.http_extra = http_extra
        self.extra_servers = extra_servers
        self.locations = locations if locations is not None else DEFAULT_LOCATIONS
        self.write_config()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self):
        # Run as root, nginx's workers are "nobody": they must reach the temp dir and write
        # the body buffers (POSTs over client_body_buffer_size) into it.
        os.chmod(self.dir, 0o755)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(self.path(d), exist_ok=True)
            os.chmod(self.path(d), 0o777)
        with open(self.path("nginx.conf"), "w") as f:
            f.write(self.render())

    def render(self):
        d = self.dir
        saml = ("sso_idp_metadata %s/idp-metadata.xml;" % d) if self.saml else ""
        return NGINX_CONF % {
            "module": MODULE, "dir": d, "port": self.port, "upstream": self.upstream_port,
            "entity_id": self.entity_id, "acs": self.acs_url, "saml": saml,
            "server_extra": self.server_extra,
            # A configuration written before the IdP's port is known names it @IDP_ENTITY@.
            "http_extra": self.http_extra.replace("@IDP_ENTITY@", self.idp_entity_id),
            "locations": self.locations % {"upstream": self.upstream_port},
            "extra_servers": self.extra_servers % {"dir": d, "upstream": self.upstream_port},
        }

    def start(self):
        self.echo = Process([PYTHON, ECHO, "--listen", "127.0.0.1:%d" % self.upstream_port,
                             "--log", self.upstream_log], self.dir, "echo")
        self.procs.append(self.echo)
        self.nginx = self.spawn_nginx()
        self.procs.append(self.nginx)
        self.idp = Process([PYTHON, self.idp_script, "serve"] + self.idp_slo_args + ["--listen", "127.0.0.1:%d" % self.idp_port,
                            "--entity-id", self.idp_entity_id, "--base-url", self.idp_base,
                            "--key", self.path("idp.key"), "--cert", self.path("idp.crt"),
                            "--rogue-key", self.path("rogue.key"), "--rogue-cert", self.path("rogue.crt"),
                            "--users", USERS, "--sp-metadata-url", self.entity_id], self.dir, "idp")
        self.procs.append(self.idp)
        self.echo.wait_ready(self.upstream_port)
        self.nginx.wait_ready(self.port)
        self.idp.wait_ready(self.idp_port)

    def spawn_nginx(self):
        return Process([NGINX, "-p", self.dir, "-c", self.path("nginx.conf"), "-e", self.path("error.log")],
                       self.dir, "nginx", env=nginx_env(self.dir))

    def restart_nginx(self, crash=False):
        """Stops nginx and starts it again in the same directory: cleanly (SIGQUIT, the master
        exits after its workers), or as a crash (SIGKILL to the master and its workers)."""
        if crash:
            workers = self.worker_pids()
            os.kill(self.nginx.proc.pid, signal.SIGKILL)
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.nginx.proc.wait()
            self.nginx.log.close()
            wait_until(lambda: not port_open(self.port), "the killed workers to release the port")
        else:
            self.nginx.stop(signal.SIGQUIT)
        i = self.procs.index(self.nginx)
        self.nginx = self.spawn_nginx()
        self.procs[i] = self.nginx
        self.nginx.wait_ready(self.port)

    def stop(self):
        for p in reversed(self.procs):
            p.stop(signal.SIGQUIT if p.name == "nginx" else signal.SIGTERM)
        self.procs = []
        reports = sanitizer_reports(self.dir)
        crashes = [l for l in self.error_log().splitlines() if "exited on signal" in l]
        shutil.rmtree(self.dir, ignore_errors=True)
        if reports or crashes:
            raise AssertionError("nginx reported errors:\n" + "\n".join(reports + crashes))

    def worker_pids(self):
        """The nginx master's children (workers, old ones still finishing included)."""
        master = str(self.nginx.proc.pid)
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == master:
                pids.add(int(entry))
        return pids

    def reload(self, wait_for_old_workers=False):
        """nginx -s reload by signal; waits until a new worker generation answers and, when
        asked, until every worker of the old configuration has exited (so that no request can
        still meet the old one)."""
        self.write_config()
        old = self.worker_pids()
        before = self.error_log()
        os.kill(self.nginx.proc.pid, signal.SIGHUP)
        wait_until(lambda: "reconfiguring" in self.error_log()[len(before):] and
                   "start worker process" in self.error_log()[len(before):], "nginx reload")
        if wait_for_old_workers:
            wait_until(lambda: not (old & self.worker_pids()), "the old workers' exit")

    # --- logs ---------------------------------------------------------------------------

    def error_log(self):
        try:
            with open(self.path("error.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def mark(self):
        """Positions in both logs, to look at what one request added."""
        return (len(self.error_log()), self.upstream_count())

    def sso_lines_since(self, mark):
        return [l for l in self.error_log()[mark[0]:].splitlines() if " sso: " in l]

    def upstream_requests(self):
        with open(self.upstream_log) as f:
            return [json.loads(l) for l in f if l.strip()]

    def upstream_count(self):
        return len(self.upstream_requests())

    # --- the browser's side of a login ----------------------------------------------------

    def get(self, path, headers=None, cookie=None, raw_headers=None):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        return request(self.port, "GET", path, h, raw_headers=raw_headers)

    def start_login(self, path="/app/", headers=None):
        """GET a protected page as a browser: the 302 to the IdP."""
        r = self.get(path, headers=dict(BROWSER, **(headers or {})))
        assert r.status == 302, (r.status, r.text())
        return r.header("Location")

    def idp_response(self, redirect_url, user="alice", **knobs):
        """Ask the IdP for its answer to our AuthnRequest (as JSON), with test knobs."""
        u = urllib.parse.urlsplit(redirect_url)
        assert "127.0.0.1:%d" % self.idp_port == u.netloc, redirect_url
        query = u.query + "&" + urllib.parse.urlencode(dict(user=user, format="json", **knobs), doseq=True)
        r = request(self.idp_port, "GET", u.path + "?" + query)
        assert r.status == 200, (r.status, r.text())
        return r.json()

    def unsolicited(self, user="alice", **knobs):
        query = urllib.parse.urlencode(dict(user=user, format="json", **knobs), doseq=True)
        r = request(self.idp_port, "GET", "/unsolicited?" + query)
        assert r.status == 200, (r.status, r.text())
        return r.json()

    def post_acs(self, saml_response, relay_state=None, cookie=None, fields=None, raw_body=None):
        if raw_body is None:
            form = [("SAMLResponse", saml_response)]
            if relay_state is not None:
                form.append(("RelayState", relay_state))
            form += list(fields or [])
            raw_body = urllib.parse.urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        return request(self.port, "POST", "/sso/acs", headers, body=raw_body)

    def login(self, user="alice", path="/app/", **knobs):
        """A whole SP-initiated login; returns (cookie 'name=value', the ACS response)."""
        answer = self.idp_response(self.start_login(path), user, **knobs)
        r = self.post_acs(answer["SAMLResponse"], answer["RelayState"])
        assert r.status == 303, (r.status, r.text(), self.sso_lines_since((0, 0))[-3:])
        return session_cookie(r), r


def session_cookie(response, name="sso_session"):
    for v in response.all("Set-Cookie"):
        if v.startswith(name + "=") and not v.startswith(name + "=;"):
            return v.split(";", 1)[0]
    return None


def decode_response(saml_response):
    return base64.b64decode(saml_response).decode()


def encode_response(xml):
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()


def upstream_headers(response):
    """The echo upstream's JSON view of the headers it received, as a dict of lists."""
    out = {}
    for k, v in response.json()["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


DEFAULT_LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ {
            sso on;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public/ {
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

NGINX_CONF = """
load_module %(module)s;
daemon off;
master_process on;
worker_processes 2;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    %(http_extra)s
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        sso_sp_entity_id %(entity_id)s;
        sso_sp_acs_url %(acs)s;
        sso_sp_key %(dir)s/sp.key;
        sso_sp_certificate %(dir)s/sp.crt;
        %(saml)s
        sso_cookie_secure off;
        %(server_extra)s
        %(locations)s
    }
    %(extra_servers)s
}
"""


# ", ref <$request_id>" at the end of a module's log line (before nginx's ", client: ...").
REFERENCE = re.compile(r", ref ([0-9a-f]{32})(?=, client: |$)")


def page_reference(response):
    """The reference a page (HTML or JSON) of the module shows; None when it shows none."""
    text = response.text()
    m = re.search(r"Reference: <code>([0-9a-f]{32})</code>", text)
    if m:
        return m.group(1)
    if (response.header("Content-Type") or "").startswith("application/json"):
        try:
            return response.json().get("reference")
        except ValueError:
            return None
    return None


class StackTest(unittest.TestCase):
    """One stack per test class; subclasses may set STACK_ARGS."""

    STACK_ARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(**cls.STACK_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def assertRefused(self, response, status, reason, mark):
        """A refusal: the status, no session cookie, the upstream not reached, and exactly one
        sso log line that names the reason."""
        s = self.stack
        self.assertEqual(response.status, status, response.text()[:500])
        self.assertIsNone(session_cookie(response), "a refused request must not get a session cookie")
        self.assertEqual(s.upstream_count(), mark[1], "the upstream must not be reached")
        lines = s.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, "expected exactly one sso log line, got:\n" + "\n".join(lines))
        # The line ends with the request's reference, which the page shows too; the reason is
        # matched without it.
        ref = REFERENCE.search(lines[0])
        self.assertIsNotNone(ref, "the log line carries no reference: " + lines[0])
        shown = page_reference(response)
        if shown is not None:
            self.assertEqual(shown, ref.group(1), "the page and the log line name different references")
        self.assertRegex(lines[0][:ref.start()] + lines[0][ref.end():], reason)
