"""The signed identity token (sso_jwt_*): what the upstream receives after a SAML login and
an LDAP Basic sign-in, verified here with Python's own HMAC and with python3-cryptography
(never with libjwt, which made it); client-sent copies of the header never arrive; nginx -t
refuses bad keys and settings, naming the directive."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from t.integration.harness import upstream_headers
from t.integration.ldap_stack import LdapStackTest, basic, directory, ldap_stack
from t.integration.test_config import ConfigCheck

JSON = {"Accept": "application/json"}

SERVER = """
        underscores_in_headers on;
        sso_ldap corp;
        sso_jwt_key hs256 %(keys)s/hs.key;
        sso_jwt_header X-Identity-Token;
        sso_jwt_issuer https://sso.example.test;
        sso_jwt_audience print-portal;
        sso_jwt_lifetime 2m;
"""

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ {
            sso on;
            sso_identity_headers on;
            proxy_set_header X-Var-Token $sso_jwt;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /rs/ {
            sso on;
            sso_identity_headers on;
            sso_jwt_key rs256 KEYS/rs.key;
            sso_jwt_header X-SSO-JWT;
            sso_jwt_lifetime 60s;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /nojwt/ {
            sso on;
            sso_jwt_header off;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public/ {
            proxy_set_header X-Var-Token "[$sso_jwt]";
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location = /_auth { internal; sso_auth_request; sso_jwt_header off; }
        location /guarded/ {
            auth_request /_auth;
            auth_request_set $token $sso_jwt;
            proxy_set_header X-Forwarded-Token $token;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location = /sso-auth { sso_auth_request; }
"""


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def split(token):
    header, payload, signature = token.split(".")
    return (json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), b64url_decode(signature),
            (header + "." + payload).encode())


def with_claims(token, **changes):
    """The token's header and signature around a payload with some claims changed."""
    head, payload, sig = token.split(".")
    claims = dict(json.loads(b64url_decode(payload)), **changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    return head + "." + forged + "." + sig


def verify_hs256(token, secret):
    """The claims if the token is HS256 and its HMAC-SHA256 matches; None otherwise."""
    header, claims, signature, signed = split(token)
    if header.get("alg") != "HS256":
        return None
    good = hmac.new(secret, signed, hashlib.sha256).digest()
    return claims if hmac.compare_digest(good, signature) else None


def verify_rs256(token, public_key):
    header, claims, signature, signed = split(token)
    if header.get("alg") != "RS256":
        return None
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return None
    return claims


def one(headers, name):
    values = headers.get(name.lower(), [])
    assert len(values) == 1, (name, values)
    return values[0]


class JwtTest(LdapStackTest):

    @classmethod
    def make_stack(cls):
        cls.keys = tempfile.mkdtemp(prefix="sso-jwt-keys-")
        cls.secret = os.urandom(48)  # bytes, not text: the file's bytes are the secret
        with open(os.path.join(cls.keys, "hs.key"), "wb") as f:
            f.write(cls.secret)
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", os.path.join(cls.keys, "rs.key")], check=True, capture_output=True)
        with open(os.path.join(cls.keys, "rs.key"), "rb") as f:
            cls.public_key = serialization.load_pem_private_key(f.read(), password=None).public_key()
        for name in ("hs.key", "rs.key"):
            os.chmod(os.path.join(cls.keys, name), 0o600)  # read by the master (root) only
        return ldap_stack(cls.slapd, directory(cls.slapd), server_extra=SERVER % {"keys": cls.keys},
                          locations=LOCATIONS.replace("KEYS", cls.keys), saml=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.keys, ignore_errors=True)

    def saml_session(self, user="alice", **knobs):
        cookie, _ = self.stack.login(user, "/sso/login?return_to=%2F", **knobs)
        return cookie

    def assertFresh(self, claims, lifetime):
        self.assertIsInstance(claims["iat"], int)
        self.assertIsInstance(claims["exp"], int)
        self.assertEqual(claims["exp"] - claims["iat"], lifetime)
        self.assertLess(abs(claims["iat"] - time.time()), 60)

    # --- what the upstream gets ---------------------------------------------------------

    def test_saml_login_gives_an_hs256_token_with_the_identity(self):
        s = self.stack
        cookie = self.saml_session()
        r = s.get("/app/x?format=json", JSON, cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:300])
        h = upstream_headers(r)
        token = one(h, "X-Identity-Token")
        claims = verify_hs256(token, self.secret)
        self.assertIsNotNone(claims, token)
        self.assertEqual(split(token)[0], {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(claims["sub"], "alice@example.org")
        self.assertEqual(claims["sub"], one(h, "X-SSO-User"))
        self.assertEqual(claims["email"], "alice@example.org")
        self.assertEqual(claims["name"], "Alice Liddell")
        self.assertEqual(claims["groups"], ["staff", "print-operators"])
        self.assertEqual(claims["iss"], "https://sso.example.test")
        self.assertEqual(claims["aud"], "print-portal")
        self.assertEqual(set(claims), {"sub", "email", "name", "groups", "iat", "exp", "iss", "aud"})
        self.assertFresh(claims, 120)
        # $sso_jwt is the same token: signed once for the request
        self.assertEqual(one(h, "X-Var-Token"), token)
        # a verifier with another secret, or a token changed by one byte, fails
        self.assertIsNone(verify_hs256(token, self.secret[:-1] + bytes([self.secret[-1] ^ 1])))
        self.assertIsNone(verify_hs256(with_claims(token, sub="admin"), self.secret))

    def test_rs256_token_verifies_with_the_public_key(self):
        s = self.stack
        cookie = self.saml_session("bob")
        h = upstream_headers(s.get("/rs/x?format=json", JSON, cookie=cookie))
        token = one(h, "X-SSO-JWT")
        self.assertNotIn("x-identity-token", h, "this location names its own header")
        self.assertEqual(split(token)[0]["alg"], "RS256")
        claims = verify_rs256(token, self.public_key)
        self.assertIsNotNone(claims, token)
        self.assertEqual(claims["sub"], one(h, "X-SSO-User"))
        self.assertEqual(claims["iss"], "https://sso.example.test")  # inherited from the server
        self.assertEqual(claims["aud"], "print-portal")
        self.assertFresh(claims, 60)
        # the same cryptography check refuses a token whose signature was made over other bytes
        self.assertIsNone(verify_rs256(with_claims(token, sub="admin"), self.public_key))
        # and the HS256 token of the same user is no RS256 token
        self.assertIsNone(verify_rs256(one(upstream_headers(s.get("/app/x?format=json", JSON, cookie=cookie)),
                                           "X-Identity-Token"), self.public_key))

    def test_ldap_basic_sign_in_gets_a_token_too(self):
        s = self.stack
        r = s.get("/app/api?format=json", basic("bob", "bob-pw"))
        self.assertEqual(r.status, 200, r.text()[:300])
        h = upstream_headers(r)
        claims = verify_hs256(one(h, "X-Identity-Token"), self.secret)
        self.assertIsNotNone(claims)
        self.assertEqual(claims["sub"], "bob")
        self.assertEqual(claims["email"], "bob@example.test")
        self.assertEqual(claims["name"], "Bob Builder")
        self.assertEqual(claims["groups"], [g for g in one(h, "X-SSO-Groups").split(",") if g])
        self.assertFresh(claims, 120)

    def test_hostile_attribute_values_arrive_exact_in_the_claims(self):
        s = self.stack
        name = "Zo\u00eb \u00c6r\u00f8sk\u00f8bing\r\nX-Evil: 1\",\"sub\":\"root"
        cookie = self.saml_session("zoe", **{"attr.displayName": name})
        r = s.get("/app/x?format=json", JSON, cookie=cookie)
        h = upstream_headers(r)
        self.assertNotIn("x-evil", h)
        token = one(h, "X-Identity-Token")
        self.assertRegex(token, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
        claims = verify_hs256(token, self.secret)
        self.assertIsNotNone(claims)
        self.assertEqual(claims["name"], name)
        self.assertEqual(claims["sub"], one(h, "X-SSO-User"))

    def test_no_token_without_a_session_or_where_the_header_is_off(self):
        s = self.stack
        cookie = self.saml_session()
        h = upstream_headers(s.get("/nojwt/x?format=json", JSON, cookie=cookie))
        self.assertNotIn("x-identity-token", h)
        self.assertNotIn("x-sso-jwt", h)
        h = upstream_headers(s.get("/public/x?format=json", JSON, cookie=cookie))
        self.assertEqual(one(h, "X-Var-Token"), "[]")
        self.assertNotIn("x-identity-token", h)

    def test_auth_request_passes_the_token_on(self):
        s = self.stack
        cookie = self.saml_session()
        r = s.get("/guarded/page?format=json", JSON, cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:300])
        claims = verify_hs256(one(upstream_headers(r), "X-Forwarded-Token"), self.secret)
        self.assertIsNotNone(claims)
        self.assertEqual(claims["sub"], "alice@example.org")
        # answered directly (for servers that proxy their auth_request here): the header too
        r = s.get("/sso-auth", cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(verify_hs256(r.header("X-Identity-Token"), self.secret)["sub"], "alice@example.org")
        self.assertIsNone(s.get("/sso-auth").header("X-Identity-Token"))

    # --- spoofing -----------------------------------------------------------------------

    FORGED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."  # alg none, sub admin

    def spoofs(self):
        return [(name, self.FORGED) for name in ("X-Identity-Token", "x-identity-token", "X_IDENTITY_TOKEN",
                                                 "x_identity-token", "X-SSO-JWT", "x_sso_jwt")]

    def test_client_sent_token_headers_never_reach_the_upstream(self):
        s = self.stack
        cookie = self.saml_session()
        control = [("X_Other_Header", "kept")]  # underscore names do get through in this server
        for path, cookie_, header in (("/app/", cookie, "X-Identity-Token"), ("/rs/", cookie, "X-SSO-JWT"),
                                      ("/nojwt/", cookie, None), ("/public/", cookie, None),
                                      ("/public/", None, None), ("/guarded/", cookie, None)):
            with self.subTest(path=path, cookie=bool(cookie_)):
                mark = s.mark()
                r = s.get(path + "?format=json", JSON, cookie=cookie_, raw_headers=self.spoofs() + control)
                self.assertEqual(r.status, 200, r.text()[:300])
                self.assertEqual(s.upstream_count(), mark[1] + 1)
                got = s.upstream_requests()[-1]["headers"]
                self.assertIn(["X_Other_Header", "kept"], got)
                self.assertNotIn(self.FORGED, [v for _, v in got], got)
                names = [k.lower().replace("_", "-") for k, _ in got]
                for name in ("x-identity-token", "x-sso-jwt"):
                    self.assertEqual(names.count(name), 1 if header and header.lower() == name else 0, got)

    def test_keys_are_read_once_at_load(self):
        # With the key files gone the running configuration still signs with what it loaded.
        s = self.stack
        cookie = self.saml_session()
        moved = os.path.join(self.keys, "moved")
        os.rename(os.path.join(self.keys, "hs.key"), moved + ".hs")
        os.rename(os.path.join(self.keys, "rs.key"), moved + ".rs")
        try:
            h = upstream_headers(s.get("/app/x?format=json", JSON, cookie=cookie))
            self.assertIsNotNone(verify_hs256(one(h, "X-Identity-Token"), self.secret))
            h = upstream_headers(s.get("/rs/x?format=json", JSON, cookie=cookie))
            self.assertIsNotNone(verify_rs256(one(h, "X-SSO-JWT"), self.public_key))
        finally:
            os.rename(moved + ".hs", os.path.join(self.keys, "hs.key"))
            os.rename(moved + ".rs", os.path.join(self.keys, "rs.key"))


class JwtConfigTest(ConfigCheck):
    """nginx -t on sso_jwt_* settings: accepted ones, and refusals that name the directive."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.write_bytes("hs.key", os.urandom(32))
        cls.write_bytes("short.key", b"x" * 31)
        for name, args in (("rsa.key", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                           ("rsa1024.key", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
                           ("ec.key", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                           ("encrypted.key", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                                              "-aes-256-cbc", "-pass", "pass:secret"])):
            subprocess.run(["openssl", "genpkey"] + args + ["-out", cls.path(name)], check=True, capture_output=True)

    @classmethod
    def write_bytes(cls, name, data):
        with open(cls.path(name), "wb") as f:
            f.write(data)

    def jwt(self, key, header="X-SSO-JWT", more=""):
        return "sso_jwt_key %s; sso_jwt_header %s; %s" % (key, header, more)

    def test_accepted(self):
        self.assertValid(extra=self.jwt("hs256 " + self.path("hs.key")))
        self.assertValid(extra=self.jwt("RS256 " + self.path("rsa.key"), "X-Identity-Token",
                                        "sso_jwt_issuer https://sso.example.test; sso_jwt_audience app; "
                                        "sso_jwt_lifetime 5m;"))
        self.assertValid(extra="sso_jwt_key hs256 hs.key;")  # relative to the prefix; a key alone: $sso_jwt
        self.assertValid(http_extra="sso_jwt_key hs256 %s; sso_jwt_header X-SSO-JWT;" % self.path("hs.key"))

    def test_short_hmac_secret(self):
        self.assertInvalid(r'"sso_jwt_key"', re.escape(self.path("short.key")), r"31 bytes; HS256 needs at least 32",
                           extra=self.jwt("hs256 " + self.path("short.key")))

    def test_unreadable_key_file(self):
        self.assertInvalid(r'"sso_jwt_key"', r"cannot read file", re.escape(self.path("missing.key")),
                           extra=self.jwt("hs256 " + self.path("missing.key")))
        self.assertInvalid(r'"sso_jwt_key"', r"not a regular file", extra=self.jwt("rs256 " + self.path("body")))

    def test_keys_that_are_not_rsa_2048(self):
        self.assertInvalid(r'"sso_jwt_key"', r"not an RSA key", extra=self.jwt("rs256 " + self.path("ec.key")))
        self.assertInvalid(r'"sso_jwt_key"', r"1024 bits; RS256 needs at least 2048",
                           extra=self.jwt("rs256 " + self.path("rsa1024.key")))
        self.assertInvalid(r'"sso_jwt_key"', r"not an unencrypted PEM private key",
                           extra=self.jwt("rs256 " + self.path("hs.key")))
        # refused without asking for a passphrase (nginx -t here has no terminal; it must not wait)
        self.assertInvalid(r'"sso_jwt_key"', r"not an unencrypted PEM private key",
                           extra=self.jwt("rs256 " + self.path("encrypted.key")))
        self.assertInvalid(r'"sso_jwt_key"', r"PEM document", extra=self.jwt("hs256 " + self.path("rsa.key")))

    def test_unknown_algorithm(self):
        self.assertInvalid(r'"sso_jwt_key"', r'unknown algorithm "hs512" \(hs256 or rs256\)',
                           extra=self.jwt("hs512 " + self.path("hs.key")))
        self.assertInvalid(r'"sso_jwt_key"', r'unknown algorithm "none"', extra=self.jwt("none " + self.path("hs.key")))

    def test_header_and_settings(self):
        self.assertInvalid(r'"sso_jwt_header X-SSO-JWT" needs "sso_jwt_key"', extra="sso_jwt_header X-SSO-JWT;")
        self.assertInvalid(r'"sso_jwt_header"', r"not a header name",
                           extra=self.jwt("hs256 " + self.path("hs.key"), '"X SSO"'))
        self.assertInvalid(r'"sso_jwt_header"', r"reserved", r"Bearer \$sso_jwt",
                           extra=self.jwt("hs256 " + self.path("hs.key"), "authorization"))
        self.assertInvalid(r'"sso_jwt_lifetime" must be positive',
                           extra=self.jwt("hs256 " + self.path("hs.key"), more="sso_jwt_lifetime 0;"))
        self.assertInvalid(r'"sso_jwt_lifetime"', extra=self.jwt("hs256 " + self.path("hs.key"),
                                                                  more="sso_jwt_lifetime soon;"))
        self.assertInvalid(r'"sso_jwt_key" directive is duplicate',
                           extra=self.jwt("hs256 " + self.path("hs.key"), more="sso_jwt_key hs256 hs.key;"))


if __name__ == "__main__":
    unittest.main()
