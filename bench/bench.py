#!/usr/bin/python3
"""nginx-sso benchmark: gate cost, login throughput and profile, zone memory, instructions.

Run it through bench/run.sh, which installs the packages and builds the release module first:

    bash bench/run.sh [options]        (options: /usr/bin/python3 bench/bench.py --help)

Everything runs on 127.0.0.1 free ports in temp dirs: nginx with the release module
(build-release/), a second plain nginx as the upstream (`return 200 "ok\\n"`, so the upstream
is never the bottleneck), the mock IdP. Every process is stopped by its PID at the end, also on
Ctrl-C. The table is printed as markdown and written to bench/RESULTS.md with the machine facts;
raw wrk/perf/callgrind output stays in a temp dir whose path is printed.

The stack (nginx config, processes, the browser's side of a login) is t/integration/harness.py;
only what a benchmark needs on top of it is here. bench/README.md says what each figure means.
"""
import argparse
import base64
import collections
import concurrent.futures
import datetime
import glob
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RELEASE_MODULE = os.path.join(REPO, "build-release", "ngx_http_sso_module.so")
# harness reads these at import time: the release module, and never the sanitizer preload.
os.environ["NGX_SSO_MODULE"] = os.environ.get("SSO_BENCH_MODULE", RELEASE_MODULE)
os.environ.pop("NGX_SSO_PRELOAD", None)
sys.path.insert(0, REPO)
from t.integration import harness  # noqa: E402
from t.integration.ldap_server import Slapd  # noqa: E402
from t.integration.redis_server import RedisServer  # noqa: E402

ACS_LUA = os.path.join(BENCH, "acs.lua")
NGINX = harness.NGINX
WRK = shutil.which("wrk") or "/usr/bin/wrk"
VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
CALLGRIND_ANNOTATE = shutil.which("callgrind_annotate") or "/usr/bin/callgrind_annotate"
CALLGRIND_CONTROL = shutil.which("callgrind_control") or "/usr/bin/callgrind_control"
PERF = shutil.which("perf")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PERF_HZ = 1999

# The typical identity of the memory figure: alice (user, e-mail, name) with five groups.
FIVE_GROUPS = {"attr.groups": ["staff", "print-operators", "developers", "vpn-users", "wiki-editors"]}

# Where a login's CPU time goes: a sample (perf) or an instruction (callgrind) belongs to the
# first category whose functions (by name, or by shared object for perf, where Lasso's own
# functions have no symbols) are on its stack. Signature verification is everything below
# xmlSecDSigCtxVerify (reference canonicalisation, digests, the RSA verify itself).
CATEGORIES = [
    ("signature verification (xmlSecDSigCtxVerify: c14n, digests, RSA)",
     ("xmlSecDSigCtxVerify", "EVP_DigestVerify", "RSA_verify", "EVP_PKEY_verify"), ()),
    ("copies of the IdP key (xmlSecKeyDuplicate)", ("xmlSecKeyDuplicate",), ()),
    ("structure guard (sso::check_response_structure)", ("sso::check_response_structure",), ()),
    ("rest of Lasso's response processing (XML parsing, Lasso objects)",
     ("lasso_login_process_authn_response_msg",), ("liblasso",)),
    ("rest of consume_response (checks, attributes)", ("sso::ServiceProvider::consume_response",), ()),
    ("nginx output: the 303 and the log line (incl. kernel)",
     ("ngx_http_send_header", "ngx_http_output_filter", "ngx_http_send_special", "ngx_log_error_core"), ()),
    ("rest of the ACS (form decoding, session record, store, cookie)",
     ("acs_body_read", "sso::ngx::(anonymous namespace)::acs"), ()),
]
OTHER = "nginx and kernel (HTTP, network I/O) and the rest"
# Frames every sample of a worker has, or nginx's plumbing above the module's handlers: left out
# of the "top inclusive" list.
ROOT_FRAMES = {"main", "_start", "__libc_start_main", "__libc_start_call_main", "__libc_start_main_impl",
               "ngx_master_process_cycle", "ngx_single_process_cycle", "ngx_start_worker_processes",
               "ngx_spawn_process", "ngx_worker_process_cycle", "ngx_process_events_and_timers",
               "ngx_epoll_process_events", "ngx_http_core_run_phases", "ngx_http_core_content_phase",
               "ngx_http_handler", "ngx_http_process_request", "ngx_http_process_request_headers",
               "ngx_http_process_request_line", "ngx_http_wait_request_handler",
               "ngx_http_read_client_request_body", "ngx_http_read_client_request_body_handler",
               "ngx_http_do_read_client_request_body", "ngx_http_request_handler",
               "[unknown]", "entry_SYSCALL_64_after_hwframe", "do_syscall_64", "PROGRAM TOTALS", "(below main)"}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The stack: harness.Stack with a fast nginx upstream instead of the Python echo server.

UPSTREAM_CONF = r"""
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(port)d;
        location / { return 200 "ok\n"; }
    }
}
"""

HTTP_EXTRA = """
    upstream bench_upstream {
        server 127.0.0.1:%(upstream)d;
        keepalive 64;
    }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    keepalive_requests 1000000;
    %(extra)s
"""

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        %(status)s
        location = /bench-noop { return 204; }
        location /plain/ {
            proxy_pass http://bench_upstream;
        }
        location /app/ {
            sso on;
            sso_identity_headers on;
            proxy_pass http://bench_upstream;
        }
"""

STATUS_LOCATION = "location = /sso-status { sso_status; }"


def module_has_status():
    """Whether the module knows the sso_status directive."""
    try:
        with open(harness.MODULE, "rb") as f:
            return b"sso_status\0" in f.read()
    except OSError:
        return False


class BenchStack(harness.Stack):
    """harness.Stack with: N workers, a plain-nginx upstream (keep-alive), optional valgrind
    around nginx (then master_process off), several mock IdP processes (minting is bound by the
    IdP, which signs under a lock), and the sso_status location when the module has it."""

    def __init__(self, workers=2, valgrind=None, idps=2, http_extra="", status=None, extra_locations=""):
        self.workers = workers
        self.valgrind = list(valgrind or [])
        self.n_idps = idps
        self.bench_http_extra = http_extra
        self.status = module_has_status() if status is None else status
        self.idp_ports = []
        super().__init__(locations=LOCATIONS % {"status": STATUS_LOCATION if self.status else ""} + extra_locations)

    def render(self):
        self.http_extra = HTTP_EXTRA % {"upstream": self.upstream_port, "extra": self.bench_http_extra}
        conf = super().render()
        conf = replace_once(conf, "worker_processes 2;", "worker_processes %d;" % self.workers)
        if self.valgrind:
            conf = replace_once(conf, "master_process on;", "master_process off;")
        return conf

    def start(self):
        updir = self.path("upstream")
        for d in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(updir, d), exist_ok=True)
        with open(os.path.join(updir, "nginx.conf"), "w") as f:
            f.write(UPSTREAM_CONF % {"dir": updir, "port": self.upstream_port})
        self.upstream = harness.Process([NGINX, "-p", updir + "/", "-c", os.path.join(updir, "nginx.conf"),
                                         "-e", os.path.join(updir, "error.log")], self.dir, "upstream")
        self.procs.append(self.upstream)
        self.nginx = harness.Process(self.valgrind + [NGINX, "-p", self.dir, "-c", self.path("nginx.conf"),
                                                      "-e", self.path("error.log")],
                                     self.dir, "nginx", env=harness.nginx_env(self.dir))
        self.procs.append(self.nginx)
        self.idp_ports = [self.idp_port] + [harness.free_port() for _ in range(self.n_idps - 1)]
        self.idps = []
        for i, port in enumerate(self.idp_ports):
            # Same entity ID, key and base URL: any of them can answer any AuthnRequest.
            p = harness.Process([harness.PYTHON, self.idp_script, "serve", "--listen", "127.0.0.1:%d" % port,
                                 "--entity-id", self.idp_entity_id, "--base-url", self.idp_base,
                                 "--key", self.path("idp.key"), "--cert", self.path("idp.crt"),
                                 "--users", harness.USERS, "--sp-metadata-url", self.entity_id],
                                self.dir, "idp%d" % i)
            self.procs.append(p)
            self.idps.append(p)
        self.idp = self.idps[0]
        self.upstream.wait_ready(self.upstream_port)
        if self.valgrind:  # valgrind takes its time to start nginx
            wait_port(self.nginx, self.port, 180)
        else:
            self.nginx.wait_ready(self.port)
        for p, port in zip(self.idps, self.idp_ports):
            p.wait_ready(port)

    def worker_pids(self):
        """nginx's worker processes (children of the master); nginx itself without a master."""
        pid = self.nginx.proc.pid
        if self.valgrind:
            return [pid]
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def status_json(self):
        r = harness.request(self.port, "GET", "/sso-status")
        if r.status != 200:
            raise RuntimeError("GET /sso-status: %d %s" % (r.status, r.text()[:200]))
        return r.json()

    def callgrind_control(self, option):
        """callgrind_control -z (zero the counters) or -d (dump them) on nginx under callgrind."""
        r = subprocess.run([CALLGRIND_CONTROL, option, str(self.nginx.proc.pid)], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0 or "OK." not in r.stdout:
            raise RuntimeError("callgrind_control %s failed: %s %s" % (option, r.stdout, r.stderr))

    def stop_valgrind(self, timeout=300):
        """nginx under valgrind: graceful stop (SIGQUIT), with time for valgrind to finish."""
        p = self.nginx.proc
        if p.poll() is None:
            os.kill(p.pid, signal.SIGQUIT)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()


def replace_once(text, old, new):
    if text.count(old) != 1:
        raise RuntimeError("harness config changed: %r not found exactly once" % old)
    return text.replace(old, new)


def wait_port(process, port, timeout):
    def ready():
        if process.proc.poll() is not None:
            raise RuntimeError("%s exited early:\n%s" % (process.name, process.output()[-3000:]))
        return harness.port_open(port)
    harness.wait_until(ready, "%s on port %d" % (process.name, port), timeout=timeout)


class Stacks:
    """Every stack started, so that all of them are stopped whatever happens."""

    def __init__(self):
        self.live = []

    def start(self, **kw):
        s = BenchStack(**kw)
        self.live.append(s)
        return s

    def stop(self, s):
        if s in self.live:
            self.live.remove(s)
            s.stop()

    def stop_all(self):
        while self.live:
            s = self.live.pop()
            try:
                s.stop()
            except BaseException as e:  # keep stopping the others
                log("stopping a stack: %s" % e)


CHILDREN = []  # wrk / perf processes we started: stopped by PID on exit


def start_child(argv, **kw):
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    CHILDREN.append(p)
    return p


def stop_children():
    for p in CHILDREN:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def cpu_seconds(pids):
    """User + system CPU time of processes so far (from /proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


# --------------------------------------------------------------------------------------------
# Logins: mint (browser GET → AuthnRequest → IdP Response), then POST them to the ACS with wrk.

def idp_answer(port, location, knobs):
    """The IdP's answer (JSON) to the AuthnRequest in a redirect URL, from the IdP on port."""
    u = urllib.parse.urlsplit(location)
    query = u.query + "&" + urllib.parse.urlencode(dict(user="alice", format="json", **knobs), doseq=True)
    r = harness.request(port, "GET", u.path + "?" + query)
    if r.status != 200:
        raise RuntimeError("IdP answered %d: %s" % (r.status, r.text()[:300]))
    return r.json()


def mint(stack, n, knobs=None, threads=6, path="/app/"):
    """n pending logins: for each, the browser's GET (nginx answers 302 and records the pending
    AuthnRequest) and the IdP's Response; returns url-encoded ACS form bodies."""
    knobs = dict(knobs or {})
    ports = stack.idp_ports

    def one(i):
        a = idp_answer(ports[i % len(ports)], stack.start_login(path), knobs)
        return urllib.parse.urlencode([("SAMLResponse", a["SAMLResponse"]), ("RelayState", a["RelayState"])])

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        bodies = list(ex.map(one, range(n)))
    log("minted %d logins in %.1f s" % (n, time.monotonic() - t0))
    return bodies


class LogTail:
    """What nginx's error log gained since this object was made, read incrementally."""

    SSO = re.compile(r"\[(\w+)\] (\d+)#\d+: \*\d+ sso: (.*?)(?:, client: |$)")

    def __init__(self, path):
        self.path = path
        self.pos = os.path.getsize(path) if os.path.exists(path) else 0
        self.lines = []   # (level, pid, message) of the sso lines
        self.errors = []  # [error]/[crit]/[alert]/[emerg] lines, sso or not, and crashes

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        for raw in data[:cut].decode(errors="replace").splitlines():
            if re.search(r"\[(error|crit|alert|emerg)\]", raw) or "exited on signal" in raw:
                self.errors.append(raw)
            m = self.SSO.search(raw)
            if m:
                self.lines.append((m.group(1), int(m.group(2)), m.group(3)))

    def signed_in(self):
        return [l for l in self.lines if l[2].startswith("signed in ")]

    def refusals(self):
        return [l for l in self.lines if not l[2].startswith("signed in ")]


def reasons(messages):
    """Refusal reasons with the IDs taken out, counted."""
    c = collections.Counter(re.sub(r"_[0-9a-f]{16,}", "_…", m) for m in messages)
    return "; ".join("%d× %s" % (v, k) for k, v in c.most_common(3))


def post_logins(stack, bodies, raw, tag, threads=2, connections=16):
    """POSTs every body once to /sso/acs with wrk + acs.lua, as fast as the server takes them.
    Returns wrk's and the server's account of it and the workers' CPU time."""
    n = len(bodies)
    body_file = os.path.join(raw, tag + ".bodies")
    with open(body_file, "w") as f:
        f.write("\n".join(bodies) + "\n")
    marker = os.path.join(raw, tag + ".done")
    for old in glob.glob(marker + ".*"):
        os.remove(old)
    tail = LogTail(stack.path("error.log"))
    limit = 60 + n // 20  # bounded: 20 logins/s would already be a disaster
    out_path = os.path.join(raw, tag + ".wrk.txt")
    workers = stack.worker_pids()
    cpu0 = cpu_seconds(workers)
    with open(out_path, "w") as out:
        p = start_child([WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % (limit + 30), "--timeout", "30s",
                         "-s", ACS_LUA, stack.base + "/sso/acs", "--", body_file, str(threads), marker],
                        stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + limit
        seen, last_change = 0, time.monotonic()
        while time.monotonic() < deadline and p.poll() is None:
            if len(glob.glob(marker + ".*")) >= threads:
                break
            tail.poll()
            if len(tail.lines) != seen:
                seen, last_change = len(tail.lines), time.monotonic()
            elif time.monotonic() - last_change > 10:
                log("%s: nothing answered for 10 s, %d of %d logged; stopping wrk" % (tag, seen, n))
                break
            time.sleep(0.02)
        cpu1 = cpu_seconds(workers)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    with open(out_path) as f:
        text = f.read()
    m = re.search(r"ACS_RESULT posted=(\d+) answered=(\d+) ok=(\d+) refused=(\d+) t_first=([\d.]+) "
                  r"t_last=([\d.]+) statuses=(\S*)", text)
    if not m:
        raise RuntimeError("wrk gave no ACS_RESULT (see %s):\n%s" % (out_path, text[-2000:]))
    posted, answered, ok, refused = (int(m.group(i)) for i in range(1, 5))
    statuses = {}
    for item in filter(None, m.group(7).split(",")):
        code, count = item.split(":")
        statuses[int(code)] = statuses.get(int(code), 0) + int(count)
    seconds = float(m.group(6)) - float(m.group(5))
    # The server's own account: every ACS request logs one sso line (signed in, or the refusal).
    harness.wait_until(lambda: (tail.poll(), len(tail.lines) >= answered)[1], "nginx log lines", timeout=10)
    tail.poll()
    per_worker = collections.Counter(pid for _, pid, _ in tail.signed_in())
    return {
        "n": n, "posted": posted, "answered": answered, "ok": ok, "refused": refused, "seconds": seconds,
        "rate": ok / seconds if seconds > 0 else 0.0, "statuses": statuses,
        "server_signed_in": len(tail.signed_in()), "server_refusals": reasons(l[2] for l in tail.refusals()),
        "server_refusal_count": len(tail.refusals()), "error_lines": tail.errors[:5],
        "error_line_count": len(tail.errors), "per_worker": dict(per_worker), "wrk_output": out_path,
        "cpu_per_login_ms": (cpu1 - cpu0) / ok * 1000 if ok else 0.0,
    }


def all_succeeded(res):
    return (res["ok"] == res["n"] and res["server_signed_in"] == res["n"] and not res["server_refusal_count"]
            and not res["error_line_count"])


# --------------------------------------------------------------------------------------------
# Figure 1: gate cost

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(text):
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    count = re.search(r"(\d+) requests in", text)
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)\s*$", text, re.M))

    def ms(v):
        m = re.match(r"([\d.]+)(\w+)", v)
        return float(m.group(1)) * UNITS[m.group(2)]
    if not rps or not count or "50" not in lat or "99" not in lat:
        raise RuntimeError("cannot parse wrk output:\n" + text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: (.*)", text)
    return {"rps": float(rps.group(1)), "requests": int(count.group(1)), "p50": ms(lat["50"]), "p99": ms(lat["99"]),
            "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": sock.group(1) if sock else ""}


def run_wrk(stack, url, seconds, cookie, threads, connections, raw, tag, header=None):
    argv = [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency", "--timeout", "10s",
            "-H", header or ("Cookie: " + cookie), url]
    workers = stack.worker_pids()
    cpu0 = cpu_seconds(workers)
    p = start_child(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = p.communicate(timeout=seconds + 60)
    cpu1 = cpu_seconds(workers)
    with open(os.path.join(raw, tag + ".txt"), "w") as f:
        f.write(" ".join(shlex.quote(a) for a in argv) + "\n" + out)
    r = parse_wrk(out)
    r["cpu_us"] = (cpu1 - cpu0) / r["requests"] * 1e6 if r["requests"] else 0.0
    return r


def figure_gate(stack, args, raw, tag="gate"):
    cookie, _ = stack.login()
    # The same request to both locations (cookie included), so only the gate differs.
    plain = stack.get("/plain/", cookie=cookie)
    gated = stack.get("/app/", cookie=cookie)
    none = stack.get("/app/")
    if plain.status != 200 or gated.status != 200 or none.status != 401:
        raise RuntimeError("gate sanity check failed: plain %d, app %d, app without cookie %d (expected 401)"
                           % (plain.status, gated.status, none.status))
    urls = {"a": stack.base + "/plain/", "b": stack.base + "/app/"}
    for k in ("a", "b"):  # warm-up, not counted
        run_wrk(stack, urls[k], 2, cookie, args.wrk_threads, args.wrk_connections, raw, tag + "-warmup-" + k)
    rounds = {"a": [], "b": []}
    for i in range(args.rounds):
        for k in ("a", "b"):
            r = run_wrk(stack, urls[k], args.seconds, cookie, args.wrk_threads, args.wrk_connections, raw,
                        "%s-%s-%d" % (tag, k, i + 1))
            if r["non2xx"] or r["socket_errors"]:
                raise RuntimeError("gate round %d%s: %d answers not 2xx/3xx, socket errors %s (wrong cookie?)"
                                   % (i + 1, k, r["non2xx"], r["socket_errors"]))
            rounds[k].append(r)
            log("%s round %d%s: %.0f req/s, p50 %.3f ms, p99 %.3f ms, nginx CPU %.1f µs/request"
                % (tag, i + 1, k, r["rps"], r["p50"], r["p99"], r["cpu_us"]))
    med = {k: {f: statistics.median(r[f] for r in rounds[k]) for f in ("rps", "p50", "p99", "cpu_us")}
           for k in rounds}
    return {"rounds": rounds, "median": med}


# --------------------------------------------------------------------------------------------
# Figure 1c: the gate with the Redis session store (a real redis-server on this host)

def figure_redis(stacks, args, raw):
    """Figure 1's rounds on a stack whose sessions are in Redis: /plain/ against /app/, so the
    ratio to plain nginx comes from the same rounds; the ratio to the shared-memory store
    compares with figure 1b of the same run."""
    redis = RedisServer()
    try:
        stack = stacks.start(workers=2, http_extra="sso_redis 127.0.0.1:%d;" % redis.port)
        try:
            return figure_gate(stack, args, raw, tag="redis")
        finally:
            stacks.stop(stack)
    finally:
        redis.cleanup()


# --------------------------------------------------------------------------------------------
# Figure 1d: HTTP Basic against an LDAP directory, with the credential cache warm

BASIC_DIRECTORY = """
    sso_ldap_directory bench {
        url %(url)s;
        bind_dn "%(service_dn)s";
        bind_password "%(service_pw)s";
        base_dn "%(base)s";
        cache_ttl 10m;
    }
"""
BASIC_LOCATION = """
        location /basic/ {
            sso on;
            sso_ldap bench;
            sso_identity_headers on;
            proxy_pass http://bench_upstream;
        }
"""


def start_basic_stack(stacks, slapd, **kw):
    """A bench stack whose /basic/ location checks Basic credentials against `slapd`."""
    directory_conf = BASIC_DIRECTORY % {"url": slapd.ldap_url, "service_dn": slapd.service_dn,
                                        "service_pw": slapd.service_password, "base": slapd.base_dn}
    return stacks.start(http_extra=directory_conf, extra_locations=BASIC_LOCATION, **kw)


def figure_basic(stacks, args, raw):
    """The same request with the same Basic credentials to /plain/ (no gate) and /basic/. The
    directory is frozen (SIGSTOP) while wrk runs: a request that missed the cache would wait
    for it and time out, so every counted 2xx was answered from the cache."""
    slapd = Slapd().start()
    try:
        stack = start_basic_stack(stacks, slapd, workers=2)
        try:
            header = "Authorization: Basic " + base64.b64encode(b"alice:alice-pw").decode()
            auth = {"Authorization": header.split(": ", 1)[1]}
            for _ in range(4):  # warm the cache (each worker may take its own first check)
                r = stack.get("/basic/", headers=auth)
                if r.status != 200:
                    raise RuntimeError("Basic sanity check failed: %d %s" % (r.status, r.text()[:200]))
            if stack.get("/basic/").status != 401:
                raise RuntimeError("Basic sanity check failed: no credentials should give 401")
            slapd.freeze()
            urls = {"a": stack.base + "/plain/", "b": stack.base + "/basic/"}
            for k in ("a", "b"):
                run_wrk(stack, urls[k], 2, "", args.wrk_threads, args.wrk_connections, raw, "basic-warmup-" + k,
                        header=header)
            rounds = {"a": [], "b": []}
            for i in range(args.basic_rounds):
                for k in ("a", "b"):
                    r = run_wrk(stack, urls[k], args.seconds, "", args.wrk_threads, args.wrk_connections, raw,
                                "basic-%s-%d" % (k, i + 1), header=header)
                    if r["non2xx"] or r["socket_errors"]:
                        raise RuntimeError("basic round %d%s: %d answers not 2xx/3xx, socket errors %s"
                                           % (i + 1, k, r["non2xx"], r["socket_errors"]))
                    rounds[k].append(r)
                    log("basic round %d%s: %.0f req/s, p50 %.3f ms, p99 %.3f ms" % (i + 1, k, r["rps"], r["p50"],
                                                                                    r["p99"]))
            slapd.thaw()
            binds = stack.error_log().count("via LDAP Basic")
        finally:
            stacks.stop(stack)
    finally:
        slapd.stop()
    med = {k: {f: statistics.median(r[f] for r in rounds[k]) for f in ("rps", "p50", "p99", "cpu_us")}
           for k in rounds}
    return {"rounds": rounds, "median": med, "directory_checks": binds}


# --------------------------------------------------------------------------------------------
# Figure 2: login throughput and the profile split

def figure_logins(stack, args, raw):
    # Mint every round's logins first: the POST rounds then follow each other closely (the
    # pending AuthnRequests and the assertions are valid for 5 minutes).
    bodies = mint(stack, args.logins * args.login_rounds, threads=args.mint_threads)
    rounds = []
    for i in range(args.login_rounds):
        res = post_logins(stack, bodies[i * args.logins:(i + 1) * args.logins], raw, "logins-%d" % (i + 1),
                          threads=2, connections=args.acs_connections)
        log("logins round %d: %d of %d in %.2f s = %.0f/s, %.3f ms worker CPU per login; server: %d signed in, "
            "%d refusals, %d error lines" % (i + 1, res["ok"], res["n"], res["seconds"], res["rate"],
                                             res["cpu_per_login_ms"], res["server_signed_in"],
                                             res["server_refusal_count"], res["error_line_count"]))
        rounds.append(res)
    return {"rounds": rounds, "rate": statistics.median(r["rate"] for r in rounds),
            "cpu_per_login_ms": statistics.median(r["cpu_per_login_ms"] for r in rounds),
            "all_succeeded": all(all_succeeded(r) for r in rounds)}


def perf_usable():
    if not PERF:
        return False
    try:
        return subprocess.run([PERF, "stat", "-e", "cpu-clock", "-x,", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def clean_symbol(sym):
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    return re.sub(r"@@?[A-Z][A-Z_0-9.]*$", "", sym)


def profile_perf(stacks, args, raw):
    """One worker under `perf record --call-graph dwarf` while it takes a batch of logins."""
    stack = stacks.start(workers=1)
    try:
        bodies = mint(stack, args.profile_logins, threads=args.mint_threads)
        workers = stack.worker_pids()
        if len(workers) != 1:
            raise RuntimeError("expected one worker, found %r" % workers)
        data = os.path.join(raw, "perf.data")
        with open(os.path.join(raw, "perf-record.txt"), "w") as perr:
            perf = start_child([PERF, "record", "-F", str(PERF_HZ), "--call-graph", "dwarf,16384", "-p",
                                str(workers[0]), "-o", data], stdout=perr, stderr=subprocess.STDOUT)
            # perf writes the file's header once its events are attached
            harness.wait_until(lambda: os.path.exists(data) and os.path.getsize(data) > 0, "perf record", 30)
            res = post_logins(stack, bodies, raw, "profile", threads=2, connections=8)
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=120)
    finally:
        stacks.stop(stack)
    script = os.path.join(raw, "perf.script.txt")
    with open(script, "w") as out:
        subprocess.run([PERF, "script", "-i", data, "--no-inline", "-F", "comm,pid,tid,ip,sym,dso"], stdout=out,
                       stderr=subprocess.DEVNULL, check=True, timeout=600)
    split = split_perf_script(script)
    split.update({"tool": "perf record -F %d --call-graph dwarf (cpu-clock) on the one worker" % PERF_HZ,
                  "batch": res, "raw": [data, script],
                  "cpu_per_login_ms": split["total"] / PERF_HZ / res["ok"] * 1000 if res["ok"] else 0.0})
    return split


def split_perf_script(path):
    total = 0
    category = collections.Counter()
    inclusive = collections.Counter()
    self_by_object = collections.Counter()

    def sample(frames):
        nonlocal total
        total += 1
        for name, needles, objects in CATEGORIES:
            if any(any(n in s for n in needles) or any(o in os.path.basename(d) for o in objects) for s, d in frames):
                category[name] += 1
                break
        else:
            category[OTHER] += 1
        # Functions without a symbol (Debian strips static functions) count once per object.
        names = {s if s != "[unknown]" else "(functions without symbols in %s)" % os.path.basename(d)
                 for s, d in frames}
        for s in names:
            if not s.endswith(" in nginx)"):
                inclusive[s] += 1
        self_by_object[os.path.basename(frames[0][1])] += 1

    with open(path, errors="replace") as f:
        frames = []
        for line in f:
            if not line.strip():
                if frames:
                    sample(frames)
                frames = []
            elif line[0] in " \t":
                m = re.match(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
                if m:
                    frames.append((clean_symbol(m.group(1)), m.group(2)))
        if frames:
            sample(frames)
    return summarise_profile(total, category, inclusive, self_by_object, unit="samples")


def summarise_profile(total, category, inclusive, self_by_object, unit):
    def share(v):
        return v / total if total else 0.0
    top = sorted(((v, k) for k, v in inclusive.items() if clean_symbol(short(k)) not in ROOT_FRAMES
                  and not k.startswith("0x") and "::{lambda(" not in k and v <= total), reverse=True)[:10]
    sig_name = CATEGORIES[0][0]
    return {"total": total, "unit": unit, "sig_share": share(category.get(sig_name, 0)),
            "categories": [(c[0], share(category.get(c[0], 0))) for c in CATEGORIES + [(OTHER,)]],
            "top": [(k, share(v)) for v, k in top],
            "self_by_object": [(k, share(v)) for k, v in self_by_object.most_common(8)]}


def callgrind_functions(out_file, inclusive):
    """{function: Ir} (inclusive or self) and the total from callgrind_annotate."""
    r = subprocess.run([CALLGRIND_ANNOTATE, "--inclusive=" + ("yes" if inclusive else "no"), "--threshold=100",
                        "--auto=no", out_file], capture_output=True, text=True, check=True, timeout=600)
    total = 0
    funcs = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        rest = m.group(2)
        if rest.startswith("PROGRAM TOTALS"):
            total = ir
            continue
        obj = ""
        mo = re.search(r" \[([^\]]*)\]$", rest)
        if mo and "/" in mo.group(1):
            obj, rest = mo.group(1), rest[:mo.start()]
        name = rest.split(":", 1)[1] if ":" in rest else rest
        funcs[(name, os.path.basename(obj))] = max(funcs.get((name, os.path.basename(obj)), 0), ir)
    return total, funcs


def find_ir(funcs, *needles):
    """Largest count among functions whose name contains one of the needles."""
    return max([v for (name, _), v in funcs.items() if any(n in name for n in needles)] or [0])


def profile_callgrind(stacks, args, raw):
    """Fallback when perf is not permitted: nginx under callgrind (master_process off); the
    counters are zeroed after minting and dumped after a smaller batch of logins."""
    out = os.path.join(raw, "callgrind.acs.out")
    stack = stacks.start(workers=1, valgrind=[VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + out],
                         idps=1)
    try:
        n = args.profile_logins_callgrind
        bodies = mint(stack, n, threads=2)
        stack.callgrind_control("-z")
        res = post_logins(stack, bodies, raw, "profile", threads=1, connections=2)
        stack.callgrind_control("-d")
        stack.stop_valgrind()
    finally:
        stacks.stop(stack)
    dump = out + ".1"
    total, incl = callgrind_functions(dump, True)
    # Nested categories, from inclusive counts: each one minus what the ones inside it took.
    names = [c[0] for c in CATEGORIES]
    sig = find_ir(incl, *CATEGORIES[0][1])
    keys = find_ir(incl, *CATEGORIES[1][1])
    guard = find_ir(incl, *CATEGORIES[2][1])
    lasso = find_ir(incl, *CATEGORIES[3][1])
    consume = find_ir(incl, *CATEGORIES[4][1])
    # (ngx_http_output_filter runs inside ngx_http_send_special: not counted twice)
    output = sum(max([v for (name, _), v in incl.items() if name == fn] or [0])
                 for fn in ("ngx_http_send_header", "ngx_http_send_special", "ngx_log_error_core"))
    acs = find_ir(incl, *CATEGORIES[6][1])
    category = {names[0]: sig, names[1]: keys, names[2]: guard, names[3]: max(0, lasso - sig - keys),
                names[4]: max(0, consume - lasso - guard), names[5]: output,
                names[6]: max(0, acs - consume - output), OTHER: max(0, total - acs)}
    # (No self-by-object split here: a dump taken mid-run books the open call stack oddly.)
    split = summarise_profile(total, category, {name: v for (name, _), v in incl.items()}, collections.Counter(),
                              unit="instructions (Ir)")
    split.update({"tool": "valgrind --tool=callgrind, %d logins, one process (perf not usable)" % n,
                  "batch": res, "raw": [dump], "cpu_per_login_ms": None, "ir_per_login": total / max(1, res["ok"])})
    return split


# --------------------------------------------------------------------------------------------
# Figure 3: memory per session, and a small zone filled past its limit

def zone(st, which="sessions"):
    return st["zones"][which]


def figure_memory(stacks, args, raw):
    stack = stacks.start(workers=2)
    try:
        k = args.mem_logins
        st0 = stack.status_json()
        bodies = mint(stack, k, knobs=FIVE_GROUPS, threads=args.mint_threads)
        st_mid = stack.status_json()
        res = post_logins(stack, bodies, raw, "memory", threads=2, connections=args.acs_connections)
        st1 = stack.status_json()
    finally:
        stacks.stop(stack)
    with open(os.path.join(raw, "memory-status.json"), "w") as f:
        json.dump({"before": st0, "after_mint": st_mid, "after_logins": st1}, f, indent=1)
    z0, zm, z1 = zone(st0), zone(st_mid), zone(st1)
    r0, r1 = zone(st0, "replay"), zone(st1, "replay")
    sessions = z1["entries"]["sessions"] - z0["entries"]["sessions"]
    pending = zm["entries"]["pending_requests"] - z0["entries"]["pending_requests"]
    per_session = (z1["used_bytes"] - z0["used_bytes"]) / max(1, sessions)
    projected = per_session * 100000
    zone128 = 128 * 1024 * 1024
    # ngx_slab keeps a 24-byte descriptor per 4 KiB page: a zone has about size / (4096 + 24) pages.
    usable = (zone128 // (4096 + 24)) * 4096
    return {"k": k, "sessions": sessions, "per_session": per_session,
            "per_pending": (zm["used_bytes"] - z0["used_bytes"]) / max(1, pending),
            "per_replay": (r1["used_bytes"] - r0["used_bytes"]) / max(1, sessions),
            "projected": projected, "usable128": usable, "fits": projected <= usable,
            "used_before": z0["used_bytes"], "used_after": z1["used_bytes"],
            "pending_after": z1["entries"]["pending_requests"], "batch": res,
            "complete": sessions == k and all_succeeded(res) and z1["entries"]["pending_requests"] == 0}


def figure_small_zone(stacks, args, raw, concurrency):
    """Browsers log in (GET, IdP, POST), `concurrency` at a time, until twice as many logins as
    the small zone holds; then the oldest and the newest session cookie are tried."""
    stack = stacks.start(workers=2, http_extra="sso_zone small:%s;" % args.small_zone)
    try:
        tail = LogTail(stack.path("error.log"))
        ports = stack.idp_ports
        cookies = []
        statuses = collections.Counter()
        done = 0
        capacity = None
        target = args.small_zone_max
        t_end = time.monotonic() + args.small_zone_seconds

        def one(i):
            answer = idp_answer(ports[i % len(ports)], stack.start_login("/app/"), FIVE_GROUPS)
            r = stack.post_acs(answer["SAMLResponse"], answer["RelayState"])
            return r.status, harness.session_cookie(r)

        batch = 25 * concurrency
        with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
            while done < target and time.monotonic() < t_end:
                for status, cookie in ex.map(one, range(done, done + batch)):
                    statuses[status] += 1
                    if cookie:
                        cookies.append(cookie)
                done += batch
                held = zone(stack.status_json())["entries"]["sessions"]
                if capacity is None and held < len(cookies):
                    capacity = held  # eviction has begun: go on to twice that many logins
                    target = min(target, max(2 * held, done + batch))
        st = stack.status_json()
        tail.poll()
        oldest = stack.get("/app/", cookie=cookies[0]).status if cookies else None
        newest = stack.get("/app/", cookie=cookies[-1]).status if cookies else None
    finally:
        stacks.stop(stack)
    return {"zone": args.small_zone, "logins": done, "statuses": dict(statuses), "ok": statuses.get(303, 0),
            "held": zone(st)["entries"]["sessions"], "size": zone(st)["size"], "capacity_seen": capacity,
            "oldest": oldest, "newest": newest, "refusals": reasons(l[2] for l in tail.refusals()),
            "refusal_count": len(tail.refusals()), "error_lines": tail.errors[:3],
            "error_line_count": len(tail.errors), "concurrency": concurrency,
            "timed_out": done < target}


# --------------------------------------------------------------------------------------------
# Figure 4: instructions per gated request (callgrind)

def figure_instructions(stacks, args, raw, run):
    out = os.path.join(raw, "callgrind.gate.%d.out" % run)
    stack = stacks.start(workers=1, valgrind=[VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + out],
                         idps=1)
    n = args.callgrind_requests
    try:
        cookie, _ = stack.login()
        count_requests(stack, "/app/", {"Cookie": cookie}, n, warm_up=1)
    finally:
        stacks.stop(stack)
    dump = out + ".1"
    total, incl = callgrind_functions(dump, True)
    access = find_ir(incl, "sso::ngx::access_handler(")
    post_read = find_ir(incl, "sso::ngx::post_read_handler(")
    parts = {name: find_ir(incl, needle) / n for name, needle in
             (("store lookup + callback", "sso::ngx::ShmStore::read("), ("decode_session", "sso::decode_session("),
              ("set_identity", "sso::ngx::set_identity("), ("identity headers", "sso::ngx::add_identity_headers("))}
    return {"n": n, "access": access / n, "post_read": post_read / n, "gate": (access + post_read) / n,
            "whole": total / n, "parts": parts, "raw": dump}


def count_requests(stack, path, headers, n, warm_up):
    """nginx under callgrind: `warm_up` requests (connection set-up included), then the counters
    are zeroed, n keep-alive requests that must all get 200 are made, and the counters dumped."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    for _ in range(warm_up):
        conn.request("GET", path, headers=headers)
        conn.getresponse().read()
    stack.callgrind_control("-z")  # count only the n requests below
    for i in range(n):
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError("request %d to %s answered %d" % (i, path, resp.status))
    stack.callgrind_control("-d")
    conn.close()
    stack.stop_valgrind()


def figure_basic_instructions(stacks, args, raw):
    """Figure 4 for HTTP Basic with the cache warm: instructions per request under callgrind."""
    out = os.path.join(raw, "callgrind.basic.out")
    n = args.callgrind_requests
    slapd = Slapd().start()
    try:
        stack = start_basic_stack(stacks, slapd, workers=1, idps=1,
                                  valgrind=[VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + out])
        try:
            auth = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-pw").decode()}
            # warm-up: the directory check, then one answer from the cache
            count_requests(stack, "/basic/", auth, n, warm_up=2)
        finally:
            stacks.stop(stack)
    finally:
        slapd.stop()
    total, incl = callgrind_functions(out + ".1", True)
    access = find_ir(incl, "sso::ngx::access_handler(")
    parts = {name: find_ir(incl, needle) / n for name, needle in
             (("header parse", "parse_basic("), ("cache key (HMAC)", "CredentialKey::derive"),
              ("store lookup + callback", "sso::ngx::ShmStore::read("),
              ("identity from the record", "identity_from_record("),
              ("identity headers", "sso::ngx::add_identity_headers("))}
    return {"n": n, "access": access / n, "whole": total / n, "parts": parts}


# --------------------------------------------------------------------------------------------
# Report

def machine_facts():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.rstrip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    return {
        "nproc": sh("nproc"),
        "cpu": sh("lscpu | grep 'Model name'"),
        "free": sh("free -h"),
        "kernel": sh("uname -r"),
        "nginx": sh("%s -v 2>&1" % NGINX),
        "wrk": sh("dpkg-query -W -f='${Version}' wrk"),
        "module": harness.MODULE,
        "module_sha": sh("sha256sum %s | cut -c1-16" % shlex.quote(harness.MODULE)),
        "git": sh("git -C %s describe --always --dirty 2>/dev/null" % shlex.quote(REPO)),
    }


def fmt_ms(v):
    return "%.2f ms" % v if v >= 1 else "%.0f µs" % (v * 1000)


def mib(v):
    return "%.1f MiB" % (v / 1048576.0)


def short(name, width=None):
    """A C++ function name without its parameter list and clone suffixes."""
    n = re.sub(r"( \[clone [^\]]*\])+$", "", name).strip()
    n = re.sub(r"\s+const$", "", n)
    if n.endswith(")") and not n.startswith("("):
        depth = 0
        for i in range(len(n) - 1, -1, -1):
            if n[i] == ")":
                depth += 1
            elif n[i] == "(":
                depth -= 1
                if depth == 0:
                    n = n[:i] if i > 0 else n
                    break
    if width and len(n) > width:
        n = n[:width - 1] + "…"
    return n


def render(results, args, facts, raw, started, elapsed, command):
    rows = []
    add = rows.append
    g = results.get("gate")
    if g:
        a, b = g["median"]["a"], g["median"]["b"]
        how = "median of %d rounds × %d s, a and b alternating; wrk -t%d -c%d --latency" % (
            args.rounds, args.seconds, args.wrk_threads, args.wrk_connections)
        add(("1a", "Gate cost: plain `proxy_pass` location (no gate)",
             "%.0f req/s; p50 %s; p99 %s" % (a["rps"], fmt_ms(a["p50"]), fmt_ms(a["p99"])),
             how + "; nginx workers' CPU %.1f µs/request" % a["cpu_us"]))
        add(("1b", "Gate cost: `sso on; sso_identity_headers on;`, valid session cookie",
             "%.0f req/s; p50 %s; p99 %s" % (b["rps"], fmt_ms(b["p50"]), fmt_ms(b["p99"])),
             "same rounds; the same request (cookie) as 1a; nginx workers' CPU %.1f µs/request" % b["cpu_us"]))
        add(("1b/1a", "Gate cost ratios",
             "throughput %.3f; p99 %.3f" % (b["rps"] / a["rps"], b["p99"] / a["p99"]),
             "rounds' throughput ratios: %s; nginx CPU per request: %.3f"
             % (", ".join("%.3f" % (rb["rps"] / ra["rps"]) for ra, rb in zip(g["rounds"]["a"], g["rounds"]["b"])),
                b["cpu_us"] / a["cpu_us"] if a["cpu_us"] else 0)))
    else:
        add(("1a/1b", "Gate cost", "not measured", results.get("gate_error", "")))
    rg = results.get("redis")
    if rg:
        a, c = rg["median"]["a"], rg["median"]["b"]
        vs_shm = "; throughput vs 1b (shared memory) %.3f" % (c["rps"] / g["median"]["b"]["rps"]) if g else ""
        add(("1c", "Gate cost: the same, sessions in Redis (`sso_redis`, local redis-server)",
             "%.0f req/s; p50 %s; p99 %s" % (c["rps"], fmt_ms(c["p50"]), fmt_ms(c["p99"])),
             "its own rounds against plain (%.0f req/s): throughput ratio %.3f, p99 ratio %.3f%s; "
             "nginx workers' CPU %.1f µs/request" % (a["rps"], c["rps"] / a["rps"], c["p99"] / a["p99"], vs_shm,
                                                    c["cpu_us"])))
    else:
        add(("1c", "Gate cost: Redis session store", "not measured", results.get("redis_error", "")))
    bs = results.get("basic")
    if bs:
        a, b = bs["median"]["a"], bs["median"]["b"]
        add(("1d", "Gate cost: `sso_ldap` HTTP Basic, credential cache warm (directory frozen while measured)",
             "%.0f req/s vs %.0f plain: throughput %.3f; p99 %s vs %s" % (
                 b["rps"], a["rps"], b["rps"] / a["rps"], fmt_ms(b["p99"]), fmt_ms(a["p99"])),
             "median of %d rounds × %d s, plain and Basic alternating, same Authorization header, wrk -t%d -c%d; "
             "rounds' ratios %s; directory checks made: %d (all before the measurement); nginx CPU %.1f vs "
             "%.1f µs/request" % (
                 args.basic_rounds, args.seconds, args.wrk_threads, args.wrk_connections,
                 ", ".join("%.3f" % (rb["rps"] / ra["rps"]) for ra, rb in zip(bs["rounds"]["a"], bs["rounds"]["b"])),
                 bs["directory_checks"], b["cpu_us"], a["cpu_us"])))
    else:
        add(("1d", "Gate cost: LDAP Basic-auth cache", "not measured", results.get("basic_error", "")))
    lg = results.get("logins")
    if lg:
        rs = lg["rounds"]
        workers = "; ".join("/".join(str(v) for _, v in sorted(r["per_worker"].items())) for r in rs)
        add(("2", "Login throughput: POST /sso/acs, RSA-2048/SHA-256 signed Response and Assertion, 2 workers",
             "%.0f logins/s total; %.0f logins/s per worker" % (lg["rate"], lg["rate"] / 2),
             "median of %d rounds (%s logins/s) of %d pre-minted logins POSTed once each (wrk -t2 -c%d, "
             "acs.lua); workers' CPU %.3f ms per login. Verified: 303s %s; nginx log %s signed in "
             "(per worker %s), %d refusals, %d error lines: %s"
             % (len(rs), ", ".join("%.0f" % r["rate"] for r in rs), args.logins, args.acs_connections,
                lg["cpu_per_login_ms"], "+".join(str(r["ok"]) for r in rs),
                "+".join(str(r["server_signed_in"]) for r in rs), workers,
                sum(r["server_refusal_count"] for r in rs), sum(r["error_line_count"] for r in rs),
                "all succeeded" if lg["all_succeeded"] else "NOT all succeeded")))
    else:
        add(("2", "Login throughput", "not measured", results.get("logins_error", "")))
    pr = results.get("profile")
    if pr:
        cats = "; ".join("%s %.0f%%" % (name, v * 100) for name, v in pr["categories"])
        per_login = ("worker CPU %.3f ms per login (from the samples)" % pr["cpu_per_login_ms"]
                     if pr.get("cpu_per_login_ms") else "%.0f Ir per login" % pr.get("ir_per_login", 0))
        add(("2p", "Login profile: signature verification vs. the rest",
             "%.0f%% signature verification; %.0f%% the rest" % (pr["sig_share"] * 100, 100 - pr["sig_share"] * 100),
             "%s; %d %s over %d logins (%d ok); %s. Split: %s. Top 10 inclusive: below"
             % (pr["tool"], pr["total"], pr["unit"], pr["batch"]["n"], pr["batch"]["ok"], per_login, cats)))
    else:
        add(("2p", "Login profile", "not measured", results.get("profile_error", "")))
    mem = results.get("memory")
    if mem:
        add(("3", "Zone bytes per session, typical identity (alice: user, e-mail, name, 5 groups)",
             "%.0f bytes/session" % mem["per_session"],
             "Δused_bytes of the sessions zone (whole slab pages) over K=%d logins: %d → %d bytes; %s. While "
             "in flight a pending AuthnRequest takes %.0f bytes; each login also keeps %.0f bytes in the replay "
             "zone until the assertion expires"
             % (mem["sessions"], mem["used_before"], mem["used_after"],
                "all %d logins succeeded, %d sessions and no pending request left in the zone"
                % (mem["k"], mem["sessions"]) if mem["complete"] else "WARNING: %d of %d logins ended as sessions, %d pending left"
                % (mem["sessions"], mem["k"], mem["pending_after"]),
                mem["per_pending"], mem["per_replay"])))
        add(("3p", "100,000 sessions — a projection from K=%d, not filled for real" % mem["sessions"],
             "%s: %s a 128 MiB zone" % (mib(mem["projected"]), "fits" if mem["fits"] else "does NOT fit"),
             "100,000 × bytes/session; a 128 MiB zone has about %s of slab pages" % mib(mem["usable128"])))
    else:
        add(("3", "Zone bytes per session", "not measured", results.get("memory_error", "")))
    for sz in results.get("small_zone", []):
        ok = sz["ok"] == sz["logins"] and not sz["error_line_count"]
        add(("3s", "Small zone `sso_zone small:%s;`, %d browser%s logging in at a time, twice past its limit"
             % (sz["zone"], sz["concurrency"], "" if sz["concurrency"] == 1 else "s"),
             "%d of %d logins succeeded%s" % (sz["ok"], sz["logins"], "" if ok else " (NOT all)"),
             "eviction began at %s sessions; zone holds %d at the end; statuses %s; oldest cookie → %s, newest → "
             "%s; %d sso refusals%s; %d error-level lines%s"
             % (sz["capacity_seen"], sz["held"], sz["statuses"], sz["oldest"], sz["newest"], sz["refusal_count"],
                (" (" + sz["refusals"] + ")") if sz["refusal_count"] else "", sz["error_line_count"],
                "; stopped by the time cap" if sz["timed_out"] else "")))
    if "small_zone" not in results:
        add(("3s", "Small zone past its limit", "not measured", results.get("small_zone_error", "")))
    ins = results.get("instructions", [])
    if ins:
        parts = "; ".join("%s %s" % (k, " / ".join("%.0f" % r["parts"][k] for r in ins)) for k in ins[0]["parts"])
        add(("4", "Instructions per gated request (cookie → session → variables/headers)",
             " / ".join("run %d: %.0f Ir" % (i + 1, r["gate"]) for i, r in enumerate(ins)),
             "callgrind, counters zeroed after login, %d keep-alive requests; inclusive Ir of access_handler "
             "(%s) + post_read_handler (%s); inside: %s; whole request in nginx incl. proxying: %s Ir"
             % (ins[0]["n"], " / ".join("%.0f" % r["access"] for r in ins),
                " / ".join("%.0f" % r["post_read"] for r in ins), parts,
                " / ".join("%.0f" % r["whole"] for r in ins))))
    else:
        add(("4", "Instructions per gated request", "not measured", results.get("instructions_error", "")))
    bi = results.get("basic_instructions")
    if bi:
        add(("4b", "Instructions per HTTP Basic request, credential cache warm",
             "%.0f Ir" % bi["access"],
             "callgrind, counters zeroed after the directory check, %d keep-alive requests; inclusive Ir of "
             "access_handler; inside: %s; whole request in nginx incl. proxying: %.0f Ir"
             % (bi["n"], "; ".join("%s %.0f" % kv for kv in bi["parts"].items()), bi["whole"])))

    def esc(s):
        return str(s).replace("|", "\\|").replace("\n", " ")
    out = ["# nginx-sso benchmark results", "",
           "Date: %s; the run took %.0f s." % (started, elapsed), "",
           "Command: `%s`" % command, "",
           "Machine:", "", "```",
           "$ nproc", facts["nproc"], "$ lscpu | grep 'Model name'", facts["cpu"], "$ free -h", facts["free"],
           "```", "",
           "Kernel %s; %s; wrk %s; module %s (sha256 %s…), tree %s." % (
               facts["kernel"], facts["nginx"], facts["wrk"], os.path.relpath(facts["module"], REPO),
               facts["module_sha"], facts["git"]),
           "", "Every figure comes from this one run; bench/README.md says what each one means.", "",
           "| # | Figure | Result | How / verification |", "|---|---|---|---|"]
    out += ["| %s |" % " | ".join(esc(c) for c in r) for r in rows]
    if pr:
        out += ["", "Login profile (%s): top 10 functions by inclusive share, nginx's own plumbing left out"
                % pr["tool"], "", "| function | inclusive |", "|---|---|"]
        out += ["| `%s` | %.1f%% |" % (esc(short(k, 100)), v * 100) for k, v in pr["top"]]
        if pr["self_by_object"]:
            out += ["", "Self time by object: " + ", ".join("%s %.0f%%" % (k, v * 100)
                                                            for k, v in pr["self_by_object"])]
    out += ["", "Raw output (wrk, perf or callgrind, zone status JSON): `%s`" % raw]
    if results.get("notes"):
        out += ["", "Notes:", ""] + ["- " + n for n in results["notes"]]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="gate-cost rounds, each: a then b (5)")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per gate-cost wrk run (10)")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--logins", type=int, default=3000, help="pre-minted logins per throughput round (3000)")
    ap.add_argument("--login-rounds", type=int, default=3, help="login-throughput rounds (3)")
    ap.add_argument("--acs-connections", type=int, default=16)
    ap.add_argument("--mint-threads", type=int, default=6)
    ap.add_argument("--profile-logins", type=int, default=3000, help="logins POSTed under perf (3000)")
    ap.add_argument("--profile-logins-callgrind", type=int, default=300, help="logins under callgrind (300)")
    ap.add_argument("--profiler", choices=("auto", "perf", "callgrind"), default="auto")
    ap.add_argument("--mem-logins", type=int, default=2000, help="K: logins for bytes/session (2000)")
    ap.add_argument("--small-zone", default="1m", help="size of the small zone (1m)")
    ap.add_argument("--small-zone-concurrency", default="1,4", help="browsers at a time, one run each (1,4)")
    ap.add_argument("--small-zone-max", type=int, default=5000, help="cap on logins into the small zone")
    ap.add_argument("--small-zone-seconds", type=int, default=60, help="time cap per small-zone run")
    ap.add_argument("--callgrind-requests", type=int, default=1000)
    ap.add_argument("--callgrind-runs", type=int, default=2)
    ap.add_argument("--basic-rounds", type=int, default=3, help="LDAP Basic rounds, each: plain then Basic (3)")
    ap.add_argument("--only", default="gate,redis,basic,logins,profile,memory,small,instructions",
                    help="comma-separated subset of: gate,redis,basic,logins,profile,memory,small,instructions "
                         "(instructions includes the Basic request's)")
    ap.add_argument("--results", default=os.path.join(BENCH, "RESULTS.md"),
                    help="where to write the table ('' for nowhere)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    only = set(args.only.split(","))

    if not os.path.exists(harness.MODULE):
        sys.exit("no module at %s: run bench/run.sh (it builds build-release/)" % harness.MODULE)
    for tool in (WRK, VALGRIND):
        if not os.path.exists(tool):
            sys.exit("%s missing: bash scripts/deps.sh" % tool)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    raw = tempfile.mkdtemp(prefix="sso-bench-raw-")
    os.chmod(raw, 0o755)
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    t0 = time.monotonic()
    command = args.command or "/usr/bin/python3 bench/bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    log("raw output in %s" % raw)
    stacks = Stacks()
    results = {"notes": []}
    try:
        if only & {"gate", "logins"}:
            # Room for every round's sessions and pending requests: no eviction during the run.
            stack = stacks.start(workers=2, http_extra="sso_zone sso:64m; sso_replay_zone sso_replay:16m;")
            try:
                if "gate" in only:
                    results["gate"] = figure_gate(stack, args, raw)
                if "logins" in only:
                    results["logins"] = figure_logins(stack, args, raw)
            finally:
                stacks.stop(stack)
        if "redis" in only:
            results["redis"] = figure_redis(stacks, args, raw)
        if "basic" in only:
            results["basic"] = figure_basic(stacks, args, raw)
        if "profile" in only:
            use_perf = args.profiler == "perf" or (args.profiler == "auto" and perf_usable())
            if not use_perf and args.profiler == "auto":
                results["notes"].append("perf is not usable here (not installed or not permitted): the profile "
                                        "split comes from callgrind instead")
            results["profile"] = (profile_perf if use_perf else profile_callgrind)(stacks, args, raw)
            log("profile: %.1f%% in signature verification" % (results["profile"]["sig_share"] * 100))
        if only & {"memory", "small"} and not module_has_status():
            results["memory_error"] = results["small_zone_error"] = \
                "not measured: the module in build-release/ has no sso_status directive"
        else:
            if "memory" in only:
                results["memory"] = figure_memory(stacks, args, raw)
                log("memory: %.0f bytes/session" % results["memory"]["per_session"])
            if "small" in only:
                results["small_zone"] = []
                for c in (int(x) for x in args.small_zone_concurrency.split(",")):
                    results["small_zone"].append(figure_small_zone(stacks, args, raw, c))
                    sz = results["small_zone"][-1]
                    log("small zone, %d at a time: %d of %d logins ok" % (c, sz["ok"], sz["logins"]))
        if "instructions" in only:
            results["instructions"] = []
            for run in range(args.callgrind_runs):
                results["instructions"].append(figure_instructions(stacks, args, raw, run + 1))
                log("callgrind run %d: %.0f Ir per gated request" % (run + 1, results["instructions"][-1]["gate"]))
            results["basic_instructions"] = figure_basic_instructions(stacks, args, raw)
            log("callgrind: %.0f Ir per Basic request" % results["basic_instructions"]["access"])
    finally:
        stop_children()
        stacks.stop_all()
    elapsed = time.monotonic() - t0
    report = render(results, args, machine_facts(), raw, started, elapsed, command)
    print(report)
    if args.results:
        with open(args.results, "w") as f:
            f.write(report)
        log("table written to %s; raw output in %s" % (args.results, raw))


if __name__ == "__main__":
    main()
