"""A real slapd for the LDAP sign-in tests, in a temp dir, with the fixtures in t/ldap/.

Like every server of the harness it binds 127.0.0.1 on free ports, lives in a temp dir, is
waited for by polling and is stopped by its PID. It listens on ldap:// (StartTLS available)
and ldaps://, with a server certificate for 127.0.0.1 and localhost signed by a test CA made
here (ca_file); wrong_ca_file is an unrelated CA that must not validate it.

Directory: dc=example,dc=test, users found by (uid=%u) under ou=people (openldap.ldif) and by
(sAMAccountName=%u) or (userPrincipalName=%u) under ou=ad (ad.ldif). Anonymous sees nothing:
reads need the service account (service_dn) or a user's own bind; userPassword is read by no
one (anonymous may only bind with it). Groups are groupOfNames, shown on their members as
memberOf by the memberof overlay, as AD does.

    with Slapd() as ldap:
        ldap.search(ldap.base_dn, "(uid=alice)", ["memberOf"])
"""
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from t.integration.harness import REPO, TIMEOUT, Process, free_port, wait_until

SLAPD = os.environ.get("NGX_SSO_SLAPD", "/usr/sbin/slapd")
SCHEMA_DIR = "/etc/ldap/schema"
FIXTURES = os.path.join(REPO, "t", "ldap")
BASE_DN = "dc=example,dc=test"
ROOT_DN = "cn=admin," + BASE_DN
ROOT_PASSWORD = "admin-pw"
SERVICE_DN = "cn=nginx-sso,ou=system," + BASE_DN
SERVICE_PASSWORD = "service-pw"  # as in t/ldap/openldap.ldif
ANONYMOUS = ""  # bind_dn for an anonymous client

OPENSSL_CNF = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = %(san)s
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

SLAPD_CONF = """
include %(schema)s/core.schema
include %(schema)s/cosine.schema
include %(schema)s/inetorgperson.schema
include %(schema)s/nis.schema
include %(fixtures)s/adtest.schema

pidfile %(dir)s/slapd.pid
argsfile %(dir)s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof

TLSCACertificateFile %(dir)s/ca.crt
TLSCertificateFile %(dir)s/server.crt
TLSCertificateKeyFile %(dir)s/server.key

# The root DSE and the schema, for clients that look (no entry of the directory is there).
access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read

database mdb
suffix "%(base)s"
rootdn "%(root_dn)s"
rootpw %(root_pw)s
directory %(dir)s/db
maxsize 1073741824
dbnosync
index objectClass eq
index uid,cn,mail,sAMAccountName,userPrincipalName eq,sub
index member eq
# The service account searches the whole directory (tests load 10,000 entries).
limits dn.exact="%(service_dn)s" size=unlimited time=unlimited

# Passwords: compared on bind only, readable by nobody; a user may change their own.
access to attrs=userPassword
    by anonymous auth
    by self =w
    by * none
# Everything else: the service account and signed-in users read, anonymous gets nothing.
access to *
    by dn.exact="%(service_dn)s" read
    by users read
    by * none

# AD-style memberOf on the members of a groupOfNames (only for groups added or changed
# while the overlay is active: load users before their groups).
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
"""


def client_env(ca_file=None):
    """The ldap-utils client's environment: TLS checked against ca_file (when given), never
    the system bundle that /etc/ldap/ldap.conf names."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LDAP"):
            del env[k]
    env["LDAPTLS_REQCERT"] = "demand"
    env["LDAPTLS_CACERT"] = ca_file or os.devnull
    return env


def parse_ldif(text):
    """ldapsearch -LLL output as [(dn, {attr: [values]})], base64 values decoded (UTF-8)."""
    entries = []
    for block in text.strip().split("\n\n"):
        lines = []
        for line in block.splitlines():
            if line.startswith(" ") and lines:
                lines[-1] += line[1:]  # a folded line
            elif line and not line.startswith("#"):
                lines.append(line)
        dn, attrs = None, {}
        for line in lines:
            name, _, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            else:
                value = value.strip()
            if name == "dn":
                dn = value
            else:
                attrs.setdefault(name, []).append(value)
        if dn is not None:
            entries.append((dn, attrs))
    return entries


class LdapError(AssertionError):
    pass


class Slapd:
    """slapd with its own CA, config and mdb database in a temp dir; start() to run it."""

    base_dn = BASE_DN
    root_dn = ROOT_DN
    root_password = ROOT_PASSWORD
    service_dn = SERVICE_DN
    service_password = SERVICE_PASSWORD

    def __init__(self, fixtures=True, debug="none"):
        """fixtures: load t/ldap/openldap.ldif and ad.ldif at the first start.
        debug: slapd's -d level, its output in output(): "none" prints only start-up and
        errors (-d 0 prints nothing at all, not even a config error); "stats" adds every
        operation with its filter."""
        self.dir = tempfile.mkdtemp(prefix="sso-slapd-")
        self.port = free_port()
        self.tls_port = free_port()
        self.fixtures = fixtures
        self.debug = debug
        self.process = None
        self.frozen = False
        self.starts = 0
        self.logs = []
        try:
            os.makedirs(self.path("db"))
            self.make_tls()
            with open(self.path("slapd.conf"), "w") as f:
                f.write(SLAPD_CONF % {
                    "schema": SCHEMA_DIR, "fixtures": FIXTURES, "dir": self.dir, "base": BASE_DN,
                    "root_dn": ROOT_DN, "root_pw": ROOT_PASSWORD, "service_dn": SERVICE_DN})
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def ldap_url(self):
        return "ldap://127.0.0.1:%d" % self.port

    @property
    def ldaps_url(self):
        return "ldaps://127.0.0.1:%d" % self.tls_port

    @property
    def ca_file(self):
        return self.path("ca.crt")

    @property
    def wrong_ca_file(self):
        return self.path("wrong-ca.crt")

    @property
    def pid(self):
        return self.process.proc.pid if self.process else None

    # --- certificates -----------------------------------------------------------------------

    def openssl(self, *args):
        r = subprocess.run(["openssl"] + list(args), cwd=self.dir, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("openssl %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))

    def make_tls(self):
        """A test CA, a server certificate it signs and an unrelated CA. RSA keys as
        unencrypted PKCS#8 PEM, which GnuTLS (Debian's slapd and libldap) reads.
        The server's names: IP:127.0.0.1, DNS:localhost and the machine's host name, because
        libldap checks a URL naming "localhost" against the local host name instead."""
        names = ["IP:127.0.0.1", "DNS:localhost"]
        host = socket.gethostname()
        if host and host != "localhost":
            names.append("DNS:" + host)
        cnf = self.path("openssl.cnf")
        with open(cnf, "w") as f:
            f.write(OPENSSL_CNF % {"san": ", ".join(names)})
        for name in ("ca", "wrong-ca", "server"):
            self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                         "-out", name + ".key")
        for name, cn in (("ca", "nginx-sso test CA"), ("wrong-ca", "nginx-sso unrelated test CA")):
            self.openssl("req", "-x509", "-new", "-config", cnf, "-extensions", "ca_ext", "-key", name + ".key",
                         "-subj", "/CN=" + cn, "-days", "2", "-sha256", "-out", name + ".crt")
        self.openssl("req", "-new", "-config", cnf, "-key", "server.key", "-subj", "/CN=localhost",
                     "-out", "server.csr")
        self.openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-set_serial", "0x%x" % int.from_bytes(os.urandom(8), "big"), "-days", "2", "-sha256",
                     "-extfile", cnf, "-extensions", "server_ext", "-out", "server.crt")

    # --- the process --------------------------------------------------------------------------

    def start(self):
        """Run slapd in the foreground as our child; wait until it answers on ldap://.
        The first start loads the fixtures (unless fixtures=False)."""
        assert self.process is None, "slapd already running"
        assert os.path.isdir(self.dir), "this Slapd was stopped for good"
        name = "slapd" if self.starts == 0 else "slapd-%d" % self.starts
        self.process = Process([SLAPD, "-d", str(self.debug), "-f", self.path("slapd.conf"),
                                "-h", "%s/ %s/" % (self.ldap_url, self.ldaps_url)], self.dir, name)
        self.logs.append(self.process)
        first = self.starts == 0
        self.starts += 1
        proc = self.process

        def ready():
            if proc.proc.poll() is not None:
                raise AssertionError("slapd exited early (%s)" % proc.proc.returncode)
            r = self.client("ldapwhoami", "-H", self.ldap_url, "-x", timeout=5)
            return r is not None and r.returncode == 0
        try:
            wait_until(ready, "slapd on %s" % self.ldap_url)
        except AssertionError as e:
            self.kill()
            raise AssertionError("%s\nslapd's output:\n%s" % (e, proc.output())) from None
        if first and self.fixtures:
            self.load_fixtures()
        return self

    def kill(self):
        """Stop the process by its PID (thawed first), keeping the temp dir."""
        if self.process is None:
            return
        if self.frozen:
            self.thaw()
        self.process.stop(signal.SIGTERM)
        self.process = None

    def stop(self):
        """Stop slapd and remove its temp dir; this Slapd is done."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self):
        """Stop and start again on the same ports with the same data."""
        self.kill()
        self.start()

    def freeze(self):
        """SIGSTOP: connections are accepted by the kernel but nothing is answered."""
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        os.kill(self.pid, signal.SIGCONT)
        self.frozen = False

    def output(self):
        """What slapd printed (every start so far)."""
        return "".join(p.output() for p in self.logs if os.path.exists(p.log_path))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    # --- ldap-utils clients ------------------------------------------------------------------

    def client(self, tool, *args, input=None, ca_file=None, timeout=TIMEOUT):
        """One ldap-utils command (ldapsearch, ldapwhoami...) as given; the CompletedProcess,
        or None when it did not finish within timeout."""
        try:
            return subprocess.run([tool, "-o", "nettimeout=%d" % max(1, int(timeout))] + list(args),
                                  input=input, capture_output=True, text=True,
                                  env=client_env(ca_file or self.ca_file), timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def bind_args(self, bind_dn, password, url, starttls):
        args = ["-H", url or self.ldap_url, "-x"]
        if starttls:
            args.append("-ZZ")
        if bind_dn:
            args += ["-D", bind_dn, "-w", password]
        return args

    def check(self, r, what):
        if r is None:
            raise LdapError("%s timed out" % what)
        if r.returncode != 0:
            raise LdapError("%s failed (%d):\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
        return r.stdout

    def ldapadd(self, ldif_text, bind_dn=ROOT_DN, password=ROOT_PASSWORD):
        r = self.client("ldapadd", *self.bind_args(bind_dn, password, None, False), input=ldif_text)
        return self.check(r, "ldapadd")

    def ldapmodify(self, ldif_text, bind_dn=ROOT_DN, password=ROOT_PASSWORD):
        r = self.client("ldapmodify", *self.bind_args(bind_dn, password, None, False), input=ldif_text)
        return self.check(r, "ldapmodify")

    def set_password(self, dn, new_password):
        """Replace dn's userPassword (in the clear, as the fixtures store it), as the rootdn."""
        return self.ldapmodify("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n"
                               % (dn, new_password))

    def load_fixtures(self):
        """t/ldap/openldap.ldif, then t/ldap/ad.ldif (users before groups, for memberOf)."""
        for name in ("openldap.ldif", "ad.ldif"):
            with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
                self.ldapadd(f.read())

    def search_raw(self, base, filter, attrs=(), bind_dn=None, password=None, url=None, ca_file=None,
                   starttls=False, scope="sub", timeout=TIMEOUT):
        """ldapsearch -LLL; bind_dn None is the service account, ANONYMOUS ("") anonymous.
        The CompletedProcess (None on timeout), whatever the result code."""
        if bind_dn is None:
            bind_dn, password = SERVICE_DN, SERVICE_PASSWORD
        args = self.bind_args(bind_dn, password, url, starttls)
        args += ["-LLL", "-o", "ldif-wrap=no", "-s", scope, "-b", base, filter] + list(attrs)
        return self.client("ldapsearch", *args, ca_file=ca_file, timeout=timeout)

    def search(self, base, filter, attrs=(), **kwargs):
        """ldapsearch's LDIF output (see search_raw for the options); fails on an error."""
        return self.check(self.search_raw(base, filter, attrs, **kwargs), "ldapsearch %s" % filter)

    def entries(self, base, filter, attrs=(), **kwargs):
        """search() parsed: [(dn, {attr: [values]})]."""
        return parse_ldif(self.search(base, filter, attrs, **kwargs))

    def whoami(self, bind_dn, password, url=None, ca_file=None, starttls=False, timeout=TIMEOUT):
        """ldapwhoami as bind_dn: the CompletedProcess (returncode 0 when the bind worked,
        49 for bad credentials), None on timeout."""
        return self.client("ldapwhoami", *self.bind_args(bind_dn, password, url, starttls),
                           ca_file=ca_file, timeout=timeout)
