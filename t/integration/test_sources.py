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

from t.integration.harness import Stack, request, upstream_headers, wait_until
from t.integration.ldap_server import BASE_DN
from t.integration.ldap_stack import FormLogin, LdapStackTest, basic, directory
from t.integration.test_config import ConfigCheck

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GENERATOR = os.path.join(ROOT, "t", "ldap", "generate_users.py")
SCHEMA = os.path.join(ROOT, "docs", "status-schema.json")
PYTHON = "/usr/bin/python3"

def locations(sign_in):
    """/sso/ (the endpoint), /app/ (protected, its source in X-Test-Source), the status and the
    metrics; `sign_in` says who signs in with a password."""
    return """
        location /sso/ { sso_endpoint; %(sign_in)s }
        location /app/ {
            sso on;
            sso_identity_headers on;
            %(sign_in)s
            sso_non_browser 401;
            proxy_set_header X-Test-Source $sso_source;
            proxy_pass http://127.0.0.1:%%(upstream)d;
        }
        location /sso-status/ {
            allow 127.0.0.1;
            deny all;
            sso_status;
        }
        location = /metrics { sso_metrics; }
""" % {"sign_in": sign_in}


LOCATIONS = locations("sso_ldap corp; sso_internal_users internal;")

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


def wait_imported(stack, name, imports=1):
    wait_until(lambda: (source_status(stack, name).get("import") or {}).get("imports", 0) >= imports,
               "import %d of source %s" % (imports, name))


def started(stack, source):
    """The stack, once `source` has been imported; stopped if that never happens."""
    try:
        wait_imported(stack, source)
    except BaseException:
        stack.stop()
        raise
    return stack


class SourcesTest(LdapStackTest):
    """The same e-mail in three sources (the IdP's alice, a directory entry, an internal
    account), and the directory's bob also an internal account."""

    ORDER = ["corp ldap corp import=1h;", "internal users %(users)s;", "mock saml @IDP_ENTITY@;"]

    @classmethod
    def make_stack(cls):
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
        cls.slapd.ldapadd(DIRECTORY_ALICE)
        return started(Stack(http_extra=cls.http_extra(cls.ORDER), locations=LOCATIONS, saml=True), "corp")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.files, ignore_errors=True)

    @classmethod
    def http_extra(cls, order):
        lines = "\n        ".join(line % {"users": cls.users} for line in order)
        return directory(cls.slapd) + "\n    sso_sources {\n        " + lines + "\n    }\n"

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

    def test_f_status_matches_its_schema(self):
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.validate(status(self.stack), schema)



BULK_LOCATIONS = locations("sso_ldap bulk; sso_login ldap;")

BULK_USERS = 10000


class DirectoryImportTest(LdapStackTest):
    """A directory of 10,000 users imported with paged searches, re-imported on demand ("Sync
    now"); removal, a failing import and a suspicious shrink keep or end what they should."""

    @classmethod
    def make_stack(cls):
        ldif = subprocess.run([PYTHON, GENERATOR, "--count", str(BULK_USERS), "--base", "ou=bulk," + BASE_DN,
                               "--groups", "4", "--password", "bulk-pw"],
                              check=True, capture_output=True, text=True).stdout
        added = cls.slapd.client("ldapadd", *cls.slapd.bind_args(cls.slapd.root_dn, cls.slapd.root_password, None,
                                                                  False), input=ldif, timeout=600)
        cls.slapd.check(added, "ldapadd of the bulk users")
        return started(Stack(http_extra=cls.http_extra(), locations=BULK_LOCATIONS, saml=False), "bulk")

    @classmethod
    def http_extra(cls, import_filter=None):
        extra = "import_page_size 500;"
        if import_filter:
            extra += ' import_filter "%s";' % import_filter
        block = directory(cls.slapd, name="bulk", tls="none", extra=extra).replace(
            '"dc=example,dc=test"', '"ou=bulk,dc=example,dc=test"')
        return block + "\n    sso_sources { bulk ldap import=1h max_drop=5%; }\n"

    def sync(self, name="bulk"):
        before = source_status(self.stack, name)["import"]["attempts"]
        r = request(self.stack.port, "POST", "/sso-status/sources/%s/sync" % name)
        self.assertEqual(r.status, 202, r.text())
        self.assertEqual(r.json()["result"], "started")

        def finished():
            s = source_status(self.stack, name)["import"]
            return not s["running"] and s["attempts"] > before
        wait_until(finished, "the end of the import Sync now started")
        return source_status(self.stack, name)

    def test_a_ten_thousand_users_imported_in_pages(self):
        s = source_status(self.stack, "bulk")
        self.assertEqual(s["users"], BULK_USERS)
        self.assertEqual(s["last_result"], "ok")
        lines = [l for l in self.stack.error_log().splitlines() if 'import of source "bulk":' in l]
        self.assertTrue(lines)
        self.assertIn("%d users imported" % BULK_USERS, lines[0])
        self.assertRegex(lines[0], r"in (\d\d|[2-9]) pages")  # 500 a page: 20 pages, and the groups'

    def test_b_removed_user_disappears_and_its_session_ends(self):
        form = FormLogin(self.stack)
        r = form.post("user00042", "bulk-pw")
        self.assertEqual(r.status, 303, r.text()[:300])
        cookie = [c for c in r.all("Set-Cookie") if c.startswith("sso_session=")][0].split(";")[0]
        h = headers_of(self.stack, cookie=cookie)
        self.assertEqual(h["x-test-source"], ["bulk"])
        self.assertEqual(h["x-sso-email"], ["user00042@example.test"])
        r = self.slapd.client("ldapdelete", *self.slapd.bind_args(self.slapd.root_dn, self.slapd.root_password,
                                                                   None, False),
                              "uid=user00042,ou=people,ou=bulk," + BASE_DN)
        self.slapd.check(r, "ldapdelete")
        s = self.sync()
        self.assertEqual(s["last_result"], "ok")
        self.assertEqual(s["users"], BULK_USERS - 1)
        mark = self.stack.mark()
        r = self.stack.get("/app/", headers={"Accept": "application/json"}, cookie=cookie)
        self.assertEqual(r.status, 401)
        self.assertEqual(self.stack.upstream_count(), mark[1])
        lines = self.stack.sso_lines_since(mark)
        self.assertEqual(len([l for l in lines if "no longer in source" in l]), 1, lines)

    def test_c_sync_url_answers(self):
        r = request(self.stack.port, "GET", "/sso-status/sources/bulk/sync")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "POST")
        r = request(self.stack.port, "POST", "/sso-status/sources/nope/sync")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["result"], "unknown")
        r = request(self.stack.port, "GET", "/sso-status/elsewhere")
        self.assertEqual(r.status, 404)

    def test_d_failing_import_keeps_the_users(self):
        users = source_status(self.stack, "bulk")["users"]
        self.slapd.kill()
        try:
            s = self.sync()
            self.assertEqual(s["last_result"], "failed")
            self.assertIn("bulk", s["last_error"])
            self.assertEqual(s["users"], users)
            self.assertIsNotNone(s["import"]["last_success"])
        finally:
            self.slapd.start()
        s = self.sync()
        self.assertEqual(s["last_result"], "ok")
        self.assertIsNone(s["last_error"])

    def test_e_import_that_would_drop_most_users_is_refused(self):
        users = source_status(self.stack, "bulk")["users"]
        try:
            # A filter that matches ten users: a misconfiguration, not 99.9% of the staff leaving.
            self.stack.http_extra = self.http_extra(import_filter="(uid=user0000*)")
            self.stack.reload(wait_for_old_workers=True)
            mark = self.stack.mark()
            s = self.sync()
            self.assertEqual(s["last_result"], "refused")
            self.assertIn("max_drop=5%", s["last_error"])
            self.assertEqual(s["users"], users)
            self.assertTrue([l for l in self.stack.sso_lines_since(mark) if "import of source \"bulk\" refused" in l])
        finally:
            self.stack.http_extra = self.http_extra()
            self.stack.reload(wait_for_old_workers=True)

    def test_f_status_matches_its_schema(self):
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.validate(status(self.stack), schema)

    def test_g_metrics_per_source(self):
        users = self.sync()["users"]  # whatever an earlier test left, the last import worked
        r = request(self.stack.port, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn('sso_source_users{source="bulk"} %d\n' % users, r.text())
        self.assertIn('sso_source_import_ok{source="bulk"} 1\n', r.text())
        self.assertIn("# TYPE sso_source_last_success_timestamp_seconds gauge", r.text())


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
