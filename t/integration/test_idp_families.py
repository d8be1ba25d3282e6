"""IdP metadata shaped like what Entra ID, AD FS, Google Workspace, Okta, Keycloak and a
Shibboleth IdP publish (t/metadata/*.xml): each loads (nginx -t), AuthnRequests go to the
HTTP-Redirect SingleSignOnService among the many bindings listed, a Response signed with the
IdP's signing key signs the user in, and no other certificate in the document is trusted for
signatures: not an encryption certificate, not one in a WS-Federation RoleDescriptor or in the
document's own signature. The fixtures' certificates and URLs are filled in with the test's."""
import os
import re
import subprocess
import unittest
import urllib.parse

from t.integration.harness import REPO, Stack, nginx_t, session_cookie, upstream_headers

FIXTURES = os.path.join(REPO, "t", "metadata")


def pem_body(path):
    with open(path) as f:
        return "".join(l.strip() for l in f if "-----" not in l)


class FamilyStack(Stack):
    def __init__(self, family):
        self.family = family
        super().__init__()

    def start(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=decoy", "-keyout", self.path("decoy.key"), "-out", self.path("decoy.crt")],
                       check=True, capture_output=True)
        with open(os.path.join(FIXTURES, self.family + ".xml")) as f:
            xml = f.read()
        values = {"ENTITY_ID": self.idp_entity_id, "SSO_URL": self.idp_base + "/sso",
                  "SLO_URL": self.idp_base + "/slo", "SIGNING_CERT": pem_body(self.path("idp.crt")),
                  "DECOY_CERT": pem_body(self.path("decoy.crt")),
                  "UNTRUSTED_CERT": pem_body(self.path("rogue.crt"))}
        xml = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], xml)
        with open(self.path("idp-metadata.xml"), "w") as f:
            f.write(xml)
        super().start()


class FamilyTest:
    """Mixed into one unittest.TestCase per IdP family."""
    FAMILY = None

    @classmethod
    def setUpClass(cls):
        cls.stack = FamilyStack(cls.FAMILY)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def test_nginx_t_accepts_it(self):
        r = nginx_t(self.stack.dir, self.stack.path("nginx.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_authn_request_goes_to_the_redirect_endpoint(self):
        u = urllib.parse.urlsplit(self.stack.start_login("/app/"))
        self.assertEqual(u.path, "/sso")
        self.assertIn("SAMLRequest", urllib.parse.parse_qs(u.query))

    def test_the_signing_certificate_signs_users_in(self):
        s = self.stack
        cookie, _ = s.login("alice", key="idp")
        r = s.get("/app/?format=json", cookie=cookie)
        self.assertEqual(r.status, 200)
        self.assertEqual(upstream_headers(r)["x-sso-user"], ["alice@example.org"])

    def test_no_other_certificate_in_the_document_is_trusted(self):
        s = self.stack
        # The rogue key's certificate is the fixture's UNTRUSTED_CERT: an encryption
        # certificate (AD FS, Keycloak, Shibboleth), the WS-Federation roles' and the document
        # signature's certificate (Entra ID), or absent (Google, Okta).
        answer = s.idp_response(s.start_login("/app/"), "alice", key="rogue")
        m = s.mark()
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 403, r.text()[:300])
        self.assertIsNone(session_cookie(r))
        self.assertEqual(s.upstream_count(), m[1])
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"signature does not verify with the IdP metadata certificate")


def family_case(family):
    return type("%sMetadataTest" % family.capitalize(), (FamilyTest, unittest.TestCase), {"FAMILY": family})


EntraMetadataTest = family_case("entra")
AdfsMetadataTest = family_case("adfs")
GoogleMetadataTest = family_case("google")
OktaMetadataTest = family_case("okta")
KeycloakMetadataTest = family_case("keycloak")
ShibbolethMetadataTest = family_case("shibboleth")

if __name__ == "__main__":
    unittest.main()
