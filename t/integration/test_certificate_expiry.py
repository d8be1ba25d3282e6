"""Certificate expiry: every IdP signing and encryption certificate and our own have their
notAfter in sso_status, a Prometheus gauge of the seconds left, and a warn line (from one worker)
at load when one expires within 30 days. The certificates are real, made with openssl.

Real parts: nginx with the module, the mock IdP (a real SAML flow), openssl.
"""
import calendar
import json
import os
import re
import subprocess
import time
import unittest

from t.integration.harness import DEFAULT_LOCATIONS, PYTHON, REPO, StackTest
from t.integration.test_metrics import parse_metrics

LOCATIONS = DEFAULT_LOCATIONS + """
        location = /sso-status { sso_status; }
        location = /metrics { sso_metrics; }
"""

WARNING = re.compile(r'\[warn\] .*sso: (.*) (?:expires in \d+ days?|has expired) \(notAfter ([0-9TZ:-]+)\); '
                     r'server "([^"]+)"')


def not_after_of(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-enddate", "-dateopt", "iso_8601"],
                         capture_output=True, text=True, check=True).stdout
    return calendar.timegm(time.strptime(out.strip().split("=", 1)[1], "%Y-%m-%d %H:%M:%SZ"))


def reissue(stack, name, cn, days):
    """A new certificate for the same key, valid `days` days."""
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", stack.path(name + ".key"), "-days", str(days),
                    "-sha256", "-subj", "/O=nginx-sso tests/CN=" + cn, "-out", stack.path(name + ".crt")],
                   check=True, capture_output=True)


def saml_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class CertificateExpiryTest(StackTest):
    STACK_ARGS = {"locations": LOCATIONS}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.stack
        cls.first_load_log = s.error_log()
        # The IdP and we renewed our certificates for a short while only; the keys stay.
        reissue(s, "idp", "Mock IdP", 9)
        reissue(s, "sp", "nginx-sso SP", 20)
        md = subprocess.run([PYTHON, s.idp_script, "metadata", "--entity-id", s.idp_entity_id, "--base-url",
                             s.idp_base, "--cert", s.path("idp.crt")], check=True, capture_output=True)
        with open(s.path("idp-metadata.xml"), "wb") as f:
            f.write(md.stdout)
        cls.mark = s.mark()
        s.reload(wait_for_old_workers=True)

    def status(self):
        r = self.stack.get("/sso-status")
        self.assertEqual(r.status, 200)
        return r.json()["idp_metadata"][0]

    def test_no_warning_for_certificates_far_from_expiry(self):
        self.assertIsNone(WARNING.search(self.first_load_log), self.first_load_log[-2000:])

    def test_warning_at_load_once_per_certificate(self):
        s = self.stack
        log = s.error_log()[self.mark[0]:]
        idp_end, sp_end = saml_time(not_after_of(s.path("idp.crt"))), saml_time(not_after_of(s.path("sp.crt")))
        found = sorted(m.groups() for m in WARNING.finditer(log))
        self.assertEqual(found, sorted([
            ('IdP "%s" signing certificate "CN=Mock IdP,O=nginx-sso tests"' % s.idp_entity_id, idp_end, s.entity_id),
            ('our signing and encryption certificate "CN=nginx-sso SP,O=nginx-sso tests"', sp_end, s.entity_id),
        ]), log)
        self.assertRegex(log, r"expires in (8|9) days \(notAfter %s\)" % idp_end)

    def test_status_lists_every_certificate_with_its_expiry(self):
        s = self.stack
        certs = self.status()["certificates"]
        self.assertEqual(
            sorted((c["idp"] or "", c["use"], c["subject"], c["not_after"]) for c in certs),
            sorted([(s.idp_entity_id, "signing", "CN=Mock IdP,O=nginx-sso tests",
                     saml_time(not_after_of(s.path("idp.crt")))),
                    ("", "both", "CN=nginx-sso SP,O=nginx-sso tests", saml_time(not_after_of(s.path("sp.crt"))))]))
        for c in certs:
            self.assertRegex(c["serial"], r"^[0-9A-F]+$")
        import jsonschema
        with open(os.path.join(REPO, "docs", "status-schema.json")) as f:
            schema = json.load(f)
        r = s.get("/sso-status")
        jsonschema.validate(r.json(), schema)

    def test_metrics_gauge_counts_the_seconds_left(self):
        s = self.stack
        before = int(time.time())
        r = s.get("/metrics")
        after = int(time.time()) + 1
        self.assertEqual(r.status, 200)
        values, families = parse_metrics(r.text())
        self.assertEqual(families["sso_certificate_expiry_seconds"], "gauge")
        gauges = {(k[1]["idp"], k[1]["use"]): (k[1], v) for k, v in values.items()
                  if k[0] == "sso_certificate_expiry_seconds"}
        self.assertEqual(set(gauges), {(s.idp_entity_id, "signing"), ("", "both")})
        for key, crt in (((s.idp_entity_id, "signing"), "idp.crt"), (("", "both"), "sp.crt")):
            labels, seconds = gauges[key]
            self.assertEqual(labels["server"], s.entity_id)
            end = not_after_of(s.path(crt))
            self.assertGreaterEqual(seconds, end - after)
            self.assertLessEqual(seconds, end - before)

    def test_sign_in_still_works_with_the_renewed_certificates(self):
        cookie, _ = self.stack.login()
        self.assertIsNotNone(cookie)


if __name__ == "__main__":
    unittest.main()
