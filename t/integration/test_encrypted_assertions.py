"""Encrypted assertions with the real nginx: the mock IdP (python3-lasso, and the xmlsec1 tool
for what lasso cannot make) sends an EncryptedAssertion encrypted to the certificate our SP
metadata publishes with use="encryption"; every refusal is a 403, no session, no upstream,
one `sso:` line with the reason. The interop IdP (pysaml2) is in test_interop_pysaml2.py."""
import re
import shutil
import subprocess
import tempfile
import unittest

from t.integration.harness import Stack, StackTest, session_cookie, upstream_headers
from t.integration.test_config import ConfigCheck


def cert_body(path):
    with open(path) as f:
        return "".join(l.strip() for l in f if "-----" not in l)


def make_pair(directory, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=" + name, "-keyout", "%s/%s.key" % (directory, name), "-out",
                    "%s/%s.crt" % (directory, name)], check=True, capture_output=True)


class EncryptedLoginMixin:
    """Logs in with an encrypted assertion and checks the upstream saw the user."""

    def assertEncryptedLogin(self, user="alice", email="alice@example.org", **knobs):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/enc"), user, **knobs)
        self.assertIn(b"EncryptedAssertion", __import__("base64").b64decode(answer["SAMLResponse"]))
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 303, (knobs, r.text()[:300], s.sso_lines_since((0, 0))[-2:]))
        cookie = session_cookie(r)
        self.assertIsNotNone(cookie)
        h = upstream_headers(s.get("/app/enc", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-sso-email"], [email])

    def assertEncryptedRefused(self, reason, **knobs):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice", **knobs)
        mark = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(r, 403, "SAML response refused: " + reason, mark)


class EncryptedWithTheSpKeyTest(EncryptedLoginMixin, StackTest):
    """No encryption directive: the SP key decrypts, the SP certificate is published for it."""

    def test_metadata_publishes_the_sp_certificate_for_encryption(self):
        md = self.stack.get("/sso/metadata").text()
        self.assertIn('use="signing"', md)
        self.assertIn('use="encryption"', md)
        self.assertEqual(md.count(cert_body(self.stack.path("sp.crt"))), 2)
        self.assertIn('Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"', md)
        self.assertIn('Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"', md)
        self.assertNotIn("rsa-1_5", md)

    def test_login_with_each_accepted_algorithm(self):
        for alg in ("aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"):
            with self.subTest(alg=alg):
                self.assertEncryptedLogin(encrypt=alg)

    def test_login_when_only_the_encrypted_assertion_is_signed(self):
        self.assertEncryptedLogin("bob", "bob@example.org", encrypt="aes256-cbc", sign="assertion")

    def test_plaintext_is_still_accepted_by_default(self):
        cookie, _ = self.stack.login("alice")
        self.assertIsNotNone(cookie)

    def test_wrong_key(self):
        self.assertEncryptedRefused("cannot decrypt the EncryptedKey with the SP encryption key",
                                    encrypt="aes256-cbc", encrypt_to="rogue")

    def test_tampered_ciphertext(self):
        # GCM notices any change; CBC decrypts a changed block to garbage, which cannot parse
        self.assertEncryptedRefused(r"cannot decrypt the EncryptedData \(wrong key, damaged or tampered ciphertext\)",
                                    encrypt="aes128-gcm", tamper_ciphertext="1")
        self.assertEncryptedRefused(r"(cannot decrypt the EncryptedData|decrypted assertion is not well-formed XML"
                                    r"|decrypted content)", encrypt="aes256-cbc", tamper_ciphertext="1")

    def test_two_assertions_inside_one_encrypted_assertion(self):
        self.assertEncryptedRefused(r"decrypted content must be exactly one Assertion, found 2 elements",
                                    encrypt="aes128-gcm", encrypted_content="two_assertions")

    def test_unsigned_assertion_in_an_unsigned_response(self):
        self.assertEncryptedRefused(r"neither the Response nor the Assertion is signed", encrypt="aes128-cbc",
                                    sign="none")

    def test_signatures_inside_and_around_the_ciphertext_are_verified(self):
        # encryption authenticates nothing: anyone can encrypt to our certificate
        for sign in ("assertion", "response", "both"):
            with self.subTest(sign=sign):
                self.assertEncryptedRefused("signature does not verify with the IdP metadata certificate",
                                            encrypt="aes128-gcm", sign=sign, key="rogue")

    def test_rsa1_5_key_transport_is_refused(self):
        self.assertEncryptedRefused(re.escape("key transport algorithm not allowed: "
                                              "http://www.w3.org/2001/04/xmlenc#rsa-1_5 (sso_allow_rsa1_5 is off)"),
                                    encrypt="aes256-cbc", key_transport="rsa-1_5")

    def test_triple_des_is_refused(self):
        self.assertEncryptedRefused(re.escape("data encryption algorithm not allowed: "
                                              "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
                                    encrypt="tripledes-cbc")

    def test_encrypted_assertion_cannot_be_replayed(self):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice", encrypt="aes128-gcm")
        self.assertEqual(s.post_acs(answer["SAMLResponse"], answer["RelayState"]).status, 303)
        mark = s.mark()
        again = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(again, 403, "InResponseTo .* names no AuthnRequest", mark)


class RequireEncryptedTest(EncryptedLoginMixin, StackTest):
    STACK_ARGS = {"server_extra": "sso_require_encrypted_assertions on;"}

    def test_plaintext_assertion_is_refused(self):
        s = self.stack
        answer = s.idp_response(s.start_login("/app/"), "alice")
        mark = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: the assertion is not encrypted "
                                   r"\(sso_require_encrypted_assertions is on\)", mark)

    def test_encrypted_assertion_is_accepted(self):
        self.assertEncryptedLogin(encrypt="aes256-gcm")


class SeparateEncryptionKeyTest(EncryptedLoginMixin, StackTest):
    """sso_sp_encryption_key/certificate: metadata publishes that certificate for encryption and
    the SP signing certificate for signing; WantAssertionsSigned applies inside the ciphertext."""

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="sso-enc-keys-")
        make_pair(cls.keys, "enc")
        cls.STACK_ARGS = {"server_extra": "sso_sp_encryption_key %s/enc.key; sso_sp_encryption_certificate %s/enc.crt; "
                                          "sso_want_assertions_signed on; sso_allow_rsa1_5 on;" % (cls.keys, cls.keys)}
        import os
        os.chmod(cls.keys, 0o755)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.keys, ignore_errors=True)

    def test_metadata_names_both_certificates(self):
        md = self.stack.get("/sso/metadata").text()
        enc = md.index('use="encryption"')
        self.assertGreater(md.index(cert_body(self.keys + "/enc.crt")), enc)
        self.assertLess(md.index(cert_body(self.stack.path("sp.crt"))), enc)
        self.assertEqual(md.count(cert_body(self.stack.path("sp.crt"))), 1)
        self.assertIn('Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"', md)

    def test_login(self):
        self.assertEncryptedLogin(encrypt="aes128-cbc")

    def test_rsa1_5_when_allowed(self):
        self.assertEncryptedLogin(encrypt="aes256-cbc", key_transport="rsa-1_5")

    def test_unsigned_inner_assertion_is_refused(self):
        self.assertEncryptedRefused(r"the Assertion is not signed \(sso_want_assertions_signed is on\)",
                                    encrypt="aes256-gcm", sign="response")

    def test_assertion_encrypted_to_the_signing_certificate(self):
        # the SP signing key does not decrypt once a separate encryption key is configured
        self.assertEncryptedRefused("cannot decrypt the EncryptedKey with the SP encryption key",
                                    encrypt="aes256-cbc", encrypt_to="rogue")


class EncryptionConfigTest(ConfigCheck):

    def setUp(self):
        make_pair(self.dir, "enc")

    def test_separate_pair_is_valid(self):
        self.assertValid(sso_sp_encryption_key=self.path("enc.key"), sso_sp_encryption_certificate=self.path("enc.crt"),
                         sso_require_encrypted_assertions="on", sso_allow_rsa1_5="off")

    def test_key_without_certificate(self):
        self.assertInvalid(r'"sso_sp_encryption_certificate"', r"set both or neither",
                           sso_sp_encryption_key=self.path("enc.key"))
        self.assertInvalid(r'"sso_sp_encryption_key"', r"set both or neither",
                           sso_sp_encryption_certificate=self.path("enc.crt"))

    def test_key_and_certificate_must_match(self):
        self.assertInvalid(r'"sso_sp_encryption_key"', re.escape(self.path("sp.key")),
                           r"private key does not match the certificate",
                           sso_sp_encryption_key=self.path("sp.key"), sso_sp_encryption_certificate=self.path("enc.crt"))

    def test_not_a_certificate(self):
        self.assertInvalid(r'"sso_sp_encryption_certificate"', r"not a PEM X.509 certificate",
                           sso_sp_encryption_key=self.path("enc.key"),
                           sso_sp_encryption_certificate=self.path("idp-metadata.xml"))

    def test_missing_file(self):
        self.assertInvalid(r'"sso_sp_encryption_key"', r"cannot read file", sso_sp_encryption_key="/nonexistent.key",
                           sso_sp_encryption_certificate=self.path("enc.crt"))

    def test_flags_take_on_or_off(self):
        self.assertInvalid(r'"sso_require_encrypted_assertions"', sso_require_encrypted_assertions="maybe")
        self.assertInvalid(r'"sso_allow_rsa1_5"', sso_allow_rsa1_5="yes")


if __name__ == "__main__":
    unittest.main()
