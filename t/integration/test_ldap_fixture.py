"""The slapd fixture itself (t/integration/ldap_server.py, t/ldap/): what the LDAP sign-in
tests count on, checked with ldap-utils before any of them uses it."""
import os
import unittest

from t.integration.ldap_server import ANONYMOUS, Slapd

ALICE = "uid=alice,ou=people,dc=example,dc=test"
DANA = "cn=Dana Scully,ou=ad,dc=example,dc=test"


class SlapdFixtureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ldap = Slapd()
        try:
            cls.ldap.start()
        except BaseException:
            cls.ldap.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ldap.stop()

    def dns(self, filter, **kwargs):
        return sorted(dn for dn, _ in self.ldap.entries(self.ldap.base_dn, filter, ["1.1"], **kwargs))

    def test_service_account_finds_alice_with_her_groups(self):
        [(dn, attrs)] = self.ldap.entries(self.ldap.base_dn, "(uid=alice)", ["mail", "memberOf", "userPassword"])
        self.assertEqual(dn, ALICE)
        self.assertEqual(attrs["mail"], ["alice@example.test"])
        self.assertEqual(sorted(attrs["memberOf"]), ["cn=editors,ou=groups,dc=example,dc=test",
                                                     "cn=printers,ou=groups,dc=example,dc=test"])
        self.assertNotIn("userPassword", attrs, "no one may read passwords")

    def test_every_style_of_user_is_found_by_its_filter(self):
        l = self.ldap
        for f in ("(sAMAccountName=dscully)", "(userPrincipalName=dscully@corp.example.test)"):
            [(dn, attrs)] = l.entries(l.base_dn, f, ["memberOf"])
            self.assertEqual(dn, DANA)
            self.assertEqual(sorted(attrs["memberOf"]), ["cn=Agents,ou=ad,dc=example,dc=test",
                                                         "cn=Scanners,ou=ad,dc=example,dc=test"])
        [(_, zoe)] = l.entries(l.base_dn, "(uid=zoe)", ["cn"])
        self.assertEqual(zoe["cn"], ["Zo\u00eb \u00dcnicode"])
        self.assertEqual(self.dns(r"(uid=paren\28thesis\29)"), ["uid=paren(thesis),ou=people,dc=example,dc=test"])
        self.assertEqual(self.dns(r"(uid=star\2aman)"), ["uid=star*man,ou=people,dc=example,dc=test"])
        self.assertEqual(self.dns(r"(uid=back\5cslash)"), [r"uid=back\5Cslash,ou=people,dc=example,dc=test"])
        self.assertEqual(self.dns("(uid=twin)"), ["uid=twin,ou=contractors,dc=example,dc=test",
                                                  "uid=twin,ou=people,dc=example,dc=test"])
        self.assertEqual(self.dns("(uid=dscully)"), [], "AD-style users have no uid")

    def test_anonymous_finds_nothing(self):
        r = self.ldap.search_raw(self.ldap.base_dn, "(uid=alice)", bind_dn=ANONYMOUS)
        self.assertNotIn("alice", r.stdout)
        self.assertIn(r.returncode, (0, 32), r.stderr)  # success with no entry, or noSuchObject

    def test_bind_as_alice(self):
        self.assertEqual(self.ldap.whoami(ALICE, "alice-pw").returncode, 0)
        r = self.ldap.whoami(ALICE, "wrong-pw")
        self.assertEqual(r.returncode, 49, r.stderr)  # invalidCredentials
        self.assertEqual(self.ldap.whoami(DANA, "dana-pw").returncode, 0)

    def test_tls_is_checked_against_the_ca(self):
        l = self.ldap
        self.assertEqual(l.whoami(ALICE, "alice-pw", url=l.ldaps_url, ca_file=l.ca_file).returncode, 0)
        r = l.whoami(ALICE, "alice-pw", url=l.ldaps_url, ca_file=l.wrong_ca_file)
        self.assertNotEqual(r.returncode, 0, "ldaps must fail with an unrelated CA")
        self.assertEqual(self.dns("(uid=alice)", starttls=True, ca_file=l.ca_file), [ALICE])
        r = l.search_raw(l.base_dn, "(uid=alice)", starttls=True, ca_file=l.wrong_ca_file)
        self.assertNotEqual(r.returncode, 0, "StartTLS must fail with an unrelated CA")

    def test_freeze_and_thaw(self):
        l = self.ldap
        l.freeze()
        try:
            r = l.search_raw(l.base_dn, "(uid=alice)", timeout=1)
            self.assertTrue(r is None or r.returncode != 0, "a frozen slapd answered")
        finally:
            l.thaw()
        self.assertEqual(self.dns("(uid=alice)"), [ALICE])


class SlapdLifecycleTest(unittest.TestCase):

    def test_restart_keeps_the_data_and_stop_ends_the_process(self):
        l = Slapd()
        try:
            l.start()
            l.set_password(ALICE, "new-alice-pw")
            first = l.pid
            l.restart()
            self.assertNotEqual(l.pid, first)
            self.assertFalse(os.path.exists("/proc/%d" % first))
            self.assertEqual(l.whoami(ALICE, "new-alice-pw").returncode, 0)
            pid, directory = l.pid, l.dir
        finally:
            l.stop()
        self.assertFalse(os.path.exists("/proc/%d" % pid), "slapd is still running")
        self.assertFalse(os.path.exists(directory), "the temp dir is left behind")


if __name__ == "__main__":
    unittest.main()
