"""The Debian package: scripts/build-deb.sh builds libnginx-mod-http-sso, lintian finds nothing
to warn about, dpkg installs it, the stock nginx loads it through Debian's
`include /etc/nginx/modules-enabled/*.conf` and serves SP metadata, and a purge leaves nothing.

It installs into the real system, so it runs as root only (CI's throwaway machine, or a
developer's own), never starts the system's nginx service (a policy-rc.d forbids service
starts while the package is in), and purges the package whatever happens. The sanitizer pass
skips it: the package is a release build, the same in both passes."""
import glob
import os
import subprocess
import tempfile
import unittest

from t.integration.harness import NGINX, PRELOAD, REPO, Process, free_port, make_keys, wait_until

PACKAGE = "libnginx-mod-http-sso"
MODULE_SO = "/usr/lib/nginx/modules/ngx_http_sso_module.so"
LOAD_CONF = "/usr/share/nginx/modules-available/mod-http-sso.conf"
ENABLED = "/etc/nginx/modules-enabled/50-mod-http-sso.conf"
DOC_DIR = "/usr/share/doc/" + PACKAGE
POLICY_RC_D = "/usr/sbin/policy-rc.d"

# What an administrator writes: Debian's include of the enabled modules, then a server.
MINIMAL_CONF = """
include /etc/nginx/modules-enabled/*.conf;
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    sso_zone sso:1m;
    server {{
        listen 127.0.0.1:{port};
        server_name sp.example.org;
        sso_sp_entity_id https://sp.example.org/sso/metadata;
        sso_sp_acs_url https://sp.example.org/sso/acs;
        sso_sp_key {dir}/sp.key;
        sso_sp_certificate {dir}/sp.crt;
        location /sso/ {{ sso_endpoint; }}
    }}
}}
"""


def installed(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return r.returncode == 0 and "installed" in r.stdout.split() and "not-installed" not in r.stdout


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


class BuildDependsTest(unittest.TestCase):
    def test_deps_sh_package_set_covers_debian_control(self):
        with open(os.path.join(REPO, "debian", "control")) as f:
            control = f.read()
        first, *rest = control.split("Build-Depends:", 1)[1].split("\n")
        continuation = []
        for line in rest:  # the field goes on while lines start with white space
            if not line[:1].isspace():
                break
            continuation.append(line)
        field = " ".join([first] + continuation)
        names = set()
        for dep in field.split(","):
            name = dep.split("(")[0].split("[")[0].strip()
            if name:
                names.add("debhelper" if name == "debhelper-compat" else name)
        listed = set(run(["bash", os.path.join(REPO, "scripts", "deps.sh"), "--list", "package"]).stdout.split())
        self.assertGreater(len(names), 5, field)
        self.assertEqual(names - listed, set(), "debian/control's Build-Depends that `scripts/deps.sh package` "
                         "does not install")


@unittest.skipIf(PRELOAD, "the sanitizer pass: the package is the same release build in both passes")
@unittest.skipUnless(os.geteuid() == 0, "installs a package: root only (CI's throwaway machine)")
class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if installed(PACKAGE):
            raise unittest.SkipTest(PACKAGE + " is installed on this machine: the test would purge it")
        cls.tmp = tempfile.TemporaryDirectory(prefix="sso-deb-")
        cls.out = os.path.join(cls.tmp.name, "dist")
        r = subprocess.run(["bash", os.path.join(REPO, "scripts", "build-deb.sh")], cwd=REPO,
                           env=dict(os.environ, OUT_DIR=cls.out), capture_output=True, text=True)
        if r.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError("scripts/build-deb.sh failed:\n" + r.stdout[-6000:] + r.stderr[-6000:])
        debs = glob.glob(os.path.join(cls.out, PACKAGE + "_*.deb"))
        if len(debs) != 1:
            cls.tmp.cleanup()
            raise AssertionError("expected one %s .deb in %s, found %r" % (PACKAGE, cls.out, debs))
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_lintian_finds_no_errors_or_warnings(self):
        changes = glob.glob(os.path.join(self.out, "*.changes"))
        self.assertEqual(len(changes), 1, changes)
        r = subprocess.run(["lintian", "--allow-root", "--fail-on", "none", changes[0]],
                           capture_output=True, text=True)
        tags = [line for line in r.stdout.splitlines() if line.startswith(("E:", "W:"))]
        self.assertEqual(tags, [], "lintian:\n" + r.stdout + r.stderr)

    def test_install_load_serve_and_purge(self):
        self.forbid_service_starts()
        self.addCleanup(self.purge_if_installed)
        r = subprocess.run(["dpkg", "-i", self.deb], capture_output=True, text=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode != 0:  # its library dependencies, the way an administrator would get them
            run(["apt-get", "-f", "install", "-y", "--no-install-recommends"],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertTrue(installed(PACKAGE), r.stdout + r.stderr)

        # Where Debian's module packages put things, and the link made on install.
        self.assertTrue(os.path.isfile(MODULE_SO))
        with open(LOAD_CONF) as f:
            self.assertEqual(f.read().strip(), "load_module modules/ngx_http_sso_module.so;")
        self.assertEqual(os.readlink(ENABLED), LOAD_CONF)
        self.assertTrue(os.path.isfile(os.path.join(DOC_DIR, "copyright")))
        self.assertTrue(os.path.isfile(os.path.join(DOC_DIR, "examples", "example.conf")))
        depends = run(["dpkg-query", "-W", "-f=${Depends}", PACKAGE]).stdout
        with open("/usr/share/nginx/src/debian/libnginx-mod.abisubstvars") as f:
            abi = [line.split("=", 1)[1].strip() for line in f if line.startswith("nginx:abi=")][0]
        self.assertIn(abi, [d.strip() for d in depends.split(",")])
        self.assertIn("liblasso3", depends)  # from dh_shlibdeps

        # The stock nginx, Debian's prefix, a configuration that includes modules-enabled.
        with tempfile.TemporaryDirectory(prefix="sso-deb-run-") as d:
            for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                os.mkdir(os.path.join(d, sub))
            make_keys(d)
            port = free_port()
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(MINIMAL_CONF.format(dir=d, port=port))
            log = os.path.join(d, "error.log")
            t = subprocess.run([NGINX, "-t", "-c", conf, "-e", log], capture_output=True, text=True)
            self.assertEqual(t.returncode, 0, t.stderr)
            nginx = Process([NGINX, "-c", conf, "-e", log], d, "nginx")
            try:
                nginx.wait_ready(port)
                import http.client
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/sso/metadata", headers={"Host": "sp.example.org"})
                resp = c.getresponse()
                body = resp.read().decode()
                self.assertEqual(resp.status, 200, body)
                self.assertIn('entityID="https://sp.example.org/sso/metadata"', body)
                self.assertIn("https://sp.example.org/sso/acs", body)
                c.close()
            finally:
                nginx.stop()
            with open(log) as f:
                self.assertIn("ngx_http_sso_module 0.", f.read())  # the line at load names the version

        run(["dpkg", "--purge", PACKAGE])
        self.assertFalse(installed(PACKAGE))
        for path in (MODULE_SO, LOAD_CONF, ENABLED, ENABLED + ".removed", DOC_DIR):
            self.assertFalse(os.path.lexists(path), path + " left behind by the purge")

    def forbid_service_starts(self):
        """Debian's convention for chroots: invoke-rc.d asks policy-rc.d, 101 means "do not"."""
        if os.path.lexists(POLICY_RC_D):
            return
        with open(POLICY_RC_D, "w") as f:
            f.write("#!/bin/sh\n# written by nginx-sso's test_debian_package; removed when it ends\nexit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
        self.addCleanup(os.remove, POLICY_RC_D)

    def purge_if_installed(self):
        if installed(PACKAGE):
            subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True)


if __name__ == "__main__":
    unittest.main()
