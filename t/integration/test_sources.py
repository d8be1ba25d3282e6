"""Identity sources with priority (sso_sources): one identity per e-mail, the highest-priority
source's attributes whole; internal accounts; LDAP directory import with "Sync now"; the status.

Real parts: nginx with the module, slapd, the mock IdP (a real SAML flow), the echo upstream.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from t.integration.harness import BROWSER, Stack, request, upstream_headers, wait_until
from t.integration.ldap_server import BASE_DN, Slapd
from t.integration.ldap_stack import FormLogin, basic, directory, readable
from t.integration.test_config import ConfigCheck

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GENERATOR = os.path.join(ROOT, "t", "ldap", "generate_users.py")
SCHEMA = os.path.join(ROOT, "docs", "status-schema.json")
PYTHON = "/usr/bin/python3"

LOCATIONS = """
        location /sso/ { sso_endpoint; sso_ldap corp; sso_internal_users internal; }
        location /app/ {
            sso on;
            sso_identity_headers on;
            sso_ldap corp;
            sso_internal_users internal;
            sso_non_browser 401;
            proxy_set_header X-Test-Source $sso_source;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /sso-status/ {
            allow 127.0.0.1;
            deny all;
            sso_status;
        }
"""

# The directory's copy of the IdP's alice (alice@example.org), with another name and group; the
# address in another case, as directories often have it.
DIRECTORY_ALICE = """
dn: uid=alice.dir,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice.dir
cn: Alice Directory
sn: Directory
mail: Alice@Example.ORG
userPassword: alice-dir-pw

dn: cn=dir-admins,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: dir-admins
member: uid=alice.dir,ou=people,dc=example,dc=test
"""


def ab64(raw):
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def pbkdf2_sha256(password, salt=b"sso-test-salt-16", rounds=10000):
    """passlib's $pbkdf2-sha256$ format, made with the standard library."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return "$pbkdf2-sha256$%d$%s$%s" % (rounds, ab64(salt), ab64(digest))


def argon2id(password):
    """Debian's argon2 tool (m = 2^13 KiB, t = 2, p = 1), encoded form."""
    r = subprocess.run(["argon2", "sso-test-salt", "-id", "-t", "2", "-m", "13", "-p", "1", "-e"],
                       input=password.encode(), capture_output=True, check=True)
    return r.stdout.decode().strip()


def users_file(path, lines):
    with open(path, "w") as f:
        f.write("# internal accounts of the test\n" + "\n".join(lines) + "\n")
    os.chmod(path, 0o644)


def status(stack):
    r = request(stack.port, "GET", "/sso-status/")
    assert r.status == 200, (r.status, r.text())
    return r.json()


def source_status(stack, name):
    return [s for s in status(stack)["sources"] if s["name"] == name][0]


def headers_of(stack, cookie=None, auth=None):
    h = dict(auth or {})
    h["Accept"] = "application/json"
    r = stack.get("/app/", headers=h, cookie=cookie)
    assert r.status == 200, (r.status, r.text()[:300])
    return upstream_headers(r)


class SourcesTest(unittest.TestCase):
    """The same e-mail in three sources (the IdP's alice, a directory entry, an internal
    account), and the directory's bob also an internal account."""

    ORDER = ["corp ldap corp import=1h;", "internal users %(users)s;", "mock saml @IDP_ENTITY@;"]

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.mkdtemp(prefix="sso-users-")
        os.chmod(cls.files, 0o755)
        cls.users = os.path.join(cls.files, "users.txt")
        users_file(cls.users, [
            'alice@example.org user=alice.internal name="Alice Internal" groups=internal-staff,scanner '
            'attr.department=Print',
            'bob@example.test user=bob.internal name="Bob Internal" groups=internal-staff password=%s'
            % pbkdf2_sha256("bob-internal-pw"),
            'scan-robot@example.org user=scanbot name="Scan Robot" groups=devices password=%s' % argon2id("robot-pw"),
        ])
        cls.slapd = readable(Slapd().start())
        try:
            cls.slapd.ldapadd(DIRECTORY_ALICE)
            cls.stack = Stack(http_extra=cls.http_extra(cls.ORDER), locations=LOCATIONS, saml=True,
                              server_extra="")
            cls.wait_imported(cls.stack, "corp")
        except BaseException:
            cls.slapd.stop()
            shutil.rmtree(cls.files, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop()
        finally:
            cls.slapd.stop()
            shutil.rmtree(cls.files, ignore_errors=True)

    @classmethod
    def http_extra(cls, order):
        lines = "\n        ".join(line % {"users": cls.users} for line in order)
        return directory(cls.slapd) + "\n    sso_sources {\n        " + lines + "\n    }\n"

    @staticmethod
    def wait_imported(stack, name, imports=1):
        wait_until(lambda: (source_status(stack, name).get("import") or {}).get("imports", 0) >= imports,
                   "import %d of source %s" % (imports, name))

    def reorder(self, order):
        self.stack.http_extra = self.http_extra(order)
        self.stack.reload(wait_for_old_workers=True)

    def saml_identity(self):
        cookie, _ = self.stack.login("alice")
        return headers_of(self.stack, cookie=cookie)

    def test_a_idp_signin_takes_the_directory_identity(self):
        h = self.saml_identity()
        self.assertEqual(h["x-sso-name"], ["Alice Directory"])
        self.assertEqual(h["x-sso-user"], ["alice.dir"])
        self.assertEqual(h["x-sso-email"], ["alice@example.org"])
        self.assertEqual(h["x-sso-groups"], ["dir-admins"])  # not the IdP's staff, not merged
        self.assertEqual(h["x-sso-auth-method"], ["saml"])
        self.assertEqual(h["x-test-source"], ["corp"])

    def test_b_reorder_and_reload_changes_the_identity(self):
        try:
            self.reorder([self.ORDER[1], self.ORDER[0], self.ORDER[2]])
            h = self.saml_identity()
            self.assertEqual(h["x-sso-name"], ["Alice Internal"])
            self.assertEqual(h["x-sso-user"], ["alice.internal"])
            self.assertEqual(h["x-sso-groups"], ["internal-staff,scanner"])
            self.assertEqual(h["x-test-source"], ["internal"])
            self.reorder([self.ORDER[2], self.ORDER[1], self.ORDER[0]])
            h = self.saml_identity()
            self.assertEqual(h["x-sso-name"], ["Alice Liddell"])
            self.assertEqual(h["x-sso-groups"], ["staff,print-operators"])
            self.assertEqual(h["x-test-source"], ["mock"])
        finally:
            self.reorder(self.ORDER)

    def test_c_internal_account_merges_with_the_directory_user(self):
        # bob is in the directory (bob-pw) and an internal account (bob-internal-pw).
        try:
            # The directory above the internal accounts: either password gives the directory's bob.
            for creds in (basic("bob", "bob-pw"), basic("bob.internal", "bob-internal-pw")):
                h = headers_of(self.stack, auth=creds)
                self.assertEqual(h["x-sso-name"], ["Bob Builder"], (creds, self.stack.sso_lines_since((0, 0))[-4:]))
                self.assertEqual(h["x-test-source"], ["corp"], creds)
            self.reorder([self.ORDER[1], self.ORDER[0], self.ORDER[2]])
            for creds in (basic("bob", "bob-pw"), basic("bob.internal", "bob-internal-pw")):
                h = headers_of(self.stack, auth=creds)
                self.assertEqual(h["x-sso-name"], ["Bob Internal"], creds)
                self.assertEqual(h["x-sso-groups"], ["internal-staff"], creds)
                self.assertEqual(h["x-test-source"], ["internal"], creds)
        finally:
            self.reorder(self.ORDER)

    def test_d_internal_account_signs_in_with_its_password(self):
        h = headers_of(self.stack, auth=basic("scanbot", "robot-pw"))  # Argon2id
        self.assertEqual(h["x-sso-name"], ["Scan Robot"])
        self.assertEqual(h["x-sso-auth-method"], ["internal"])
        self.assertEqual(h["x-test-source"], ["internal"])
        self.assertNotIn("authorization", h)
        # By e-mail too, and through the form.
        h = headers_of(self.stack, auth=basic("Scan-Robot@example.org", "robot-pw"))
        self.assertEqual(h["x-sso-user"], ["scanbot"])
        r = FormLogin(self.stack).post("scanbot", "robot-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        # A wrong password is a wrong password: no fall-through to the directory, no session.
        mark = self.stack.mark()
        r = self.stack.get("/app/", headers=basic("scanbot", "wrong"))
        self.assertEqual(r.status, 401)
        lines = self.stack.sso_lines_since(mark)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("wrong password", lines[0])
        self.assertEqual(self.stack.upstream_count(), mark[1])

    def test_e_status_lists_the_sources_in_priority_order(self):
        s = status(self.stack)
        self.assertEqual([(x["name"], x["type"], x["priority"]) for x in s["sources"]],
                         [("corp", "ldap", 1), ("internal", "users", 2), ("mock", "saml", 3)])
        corp, internal, mock = s["sources"]
        self.assertEqual(corp["authorised_by"], {"bind_dn": "cn=nginx-sso,ou=system,dc=example,dc=test"})
        self.assertEqual(corp["last_result"], "ok")
        self.assertGreaterEqual(corp["users"], 5)
        self.assertEqual(internal["users"], 3)
        self.assertEqual(internal["authorised_by"], {"file": self.users})
        self.assertEqual(mock["authorised_by"]["entity_id"], self.stack.idp_entity_id)
        self.assertIsNone(mock["authorised_by"]["metadata_signer"])
        self.assertEqual(mock["metadata"]["origin"], "file")


class SourcesConfigTest(ConfigCheck):
    """nginx -t names sso_sources, the users file, the line and the problem."""

    def users(self, *lines):
        path = self.path("users.txt")
        users_file(path, lines)
        return "sso_sources { internal users %s; }" % path

    def test_valid_users_file(self):
        self.assertValid(http_extra=self.users("a@example.org name=A groups=x,y password=%s" % pbkdf2_sha256("pw"),
                                               "b@example.org"))

    def test_duplicate_email_after_normalising(self):
        self.assertInvalid(r"sso_sources", r"users\.txt", r"line 3",
                           http_extra=self.users("a@example.org name=A", "A@Example.ORG name=B"))

    def test_bad_hash(self):
        self.assertInvalid(r"sso_sources", r"line 2", http_extra=self.users("a@example.org password=$pbkdf2-sha256$1$x"))

    def test_unknown_field(self):
        self.assertInvalid(r"sso_sources", r"line 2", r"colour", http_extra=self.users("a@example.org colour=blue"))

    def test_missing_file(self):
        self.assertInvalid(r"sso_sources", r"/nonexistent/users", http_extra="sso_sources { x users /nonexistent/users; }")

    def test_bad_lines(self):
        self.assertInvalid(r"unknown type \"radius\"", http_extra="sso_sources { x radius y; }")
        self.assertInvalid(r"no sso_ldap_directory named \"corp\"", http_extra="sso_sources { corp ldap; }")
        self.assertInvalid(r"is not a source name", http_extra="sso_sources { a/b saml x; }")
        self.assertInvalid(r"source \"x\" is duplicate", http_extra="sso_sources { x saml a; x saml b; }")
        self.assertInvalid(r"no server's IdP metadata has the entityID \"https://nowhere\"",
                           http_extra="sso_sources { x saml https://nowhere; }")
        self.assertInvalid(r"no source listed", http_extra="sso_sources { }")

    def test_bad_ldap_parameters(self):
        block = ("sso_ldap_directory corp { url ldap://127.0.0.1:1; base_dn \"dc=x\"; }\n"
                 "sso_sources { corp ldap %s; }")
        self.assertInvalid(r"import=soon", http_extra=block % "import=soon")
        self.assertInvalid(r"max_drop=150%", http_extra=block % "max_drop=150%")
        self.assertInvalid(r"removed_users=later", http_extra=block % "removed_users=later")
        self.assertInvalid(r"unknown parameter \"colour\"", http_extra=block % "colour=blue")


if __name__ == "__main__":
    unittest.main()
