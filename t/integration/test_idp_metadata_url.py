"""IdP metadata from a URL (sso_idp_metadata_url): fetched when nginx reads its configuration,
refreshed by every worker in the thread pool, the last good copy kept on disk and used when
the URL is down or serves garbage, validUntil and cacheDuration honoured, and optionally a
metadata signature checked against a configured certificate. The URL is served by a real
HTTP server in its own process (t/integration/metadata_server.py)."""
import calendar
import os
import re
import signal
import subprocess
import time
import unittest

from t.integration.harness import (BROWSER, DEFAULT_LOCATIONS, MOCK_IDP, NGINX, PYTHON, Process, Stack, free_port, nginx_env,
                                   nginx_t, session_cookie, wait_until)

METADATA_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metadata_server.py")
MD = "urn:oasis:names:tc:SAML:2.0:metadata"

LOCATIONS = DEFAULT_LOCATIONS + """
        location = /sso-status { sso_status; }
"""

SIGNATURE_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#_md"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
    '</ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>')


def saml_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def certificate_of(xml):
    return re.search(r"X509Certificate>([^<]+)<", xml).group(1)


class UrlStack(Stack):
    """The usual stack, with its IdP metadata behind a URL instead of in a file."""

    def __init__(self, url_extra="", refresh="1s", timeout="3s", **kw):
        self.md_port = free_port()
        self.md_url = "http://127.0.0.1:%d/federation/idp-metadata.xml" % self.md_port
        kw["server_extra"] = ("sso_idp_metadata_url %s; sso_idp_metadata_refresh %s; "
                              "sso_idp_metadata_timeout %s; %s %s"
                              % (self.md_url, refresh, timeout, url_extra, kw.get("server_extra", "")))
        kw.setdefault("locations", LOCATIONS)
        self.before_start = kw.pop("before_start", None)
        super().__init__(saml=False, **kw)

    def render(self):
        return super().render().replace("@DIR@", self.dir)

    def start(self):
        self.md_dir = self.path("md-server")
        os.makedirs(self.md_dir, exist_ok=True)
        self.serve(self.metadata())
        if self.before_start:
            self.before_start(self)
        self.md = Process([PYTHON, METADATA_SERVER, "--listen", "127.0.0.1:%d" % self.md_port,
                           "--dir", self.md_dir], self.dir, "metadata")
        self.procs.append(self.md)
        self.md.wait_ready(self.md_port)
        super().start()

    # --- what the metadata URL serves -------------------------------------------------

    def metadata(self, cert="idp.crt", root_attributes=""):
        """The mock IdP's metadata with `cert` as its signing certificate."""
        out = subprocess.run([PYTHON, MOCK_IDP, "metadata", "--entity-id", self.idp_entity_id,
                              "--base-url", self.idp_base, "--cert", self.path(cert)],
                             check=True, capture_output=True, text=True).stdout
        if root_attributes:
            out = out.replace("<md:EntityDescriptor ", "<md:EntityDescriptor %s " % root_attributes, 1)
        return out

    def signed_metadata(self, signer="mdsigner", cert="idp.crt", root_attributes=""):
        """Metadata signed by the xmlsec1 tool with `signer`'s key, over the whole document."""
        xml = self.metadata(cert, ('ID="_md" ' + root_attributes).strip())
        start = xml.index(">", xml.index("<md:EntityDescriptor")) + 1
        tmpl = xml[:start] + SIGNATURE_TEMPLATE + xml[start:]
        src, out = self.path("md-template.xml"), self.path("md-signed.xml")
        with open(src, "w") as f:
            f.write(tmpl)
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem", self.path(signer + ".key"),
                        "--id-attr:ID", MD + ":EntityDescriptor", "--output", out, src],
                       check=True, capture_output=True)
        with open(out) as f:
            return f.read()

    def serve(self, xml):
        with open(os.path.join(self.md_dir, "md.xml.tmp"), "w") as f:
            f.write(xml)
        os.replace(os.path.join(self.md_dir, "md.xml.tmp"), os.path.join(self.md_dir, "md.xml"))

    def set_mode(self, mode):
        with open(os.path.join(self.md_dir, "mode"), "w") as f:
            f.write(mode)

    def hits(self):
        try:
            with open(os.path.join(self.md_dir, "hits")) as f:
                return len(f.readlines())
        except FileNotFoundError:
            return 0

    def wait_for_fetches(self, n, timeout=30):
        """Until n more fetches have started: with two workers each refreshing every second,
        six of them mean every worker has finished at least one since the call."""
        target = self.hits() + n
        wait_until(lambda: self.hits() >= target, "%d metadata fetches" % n, timeout=timeout)

    def status(self):
        r = self.get("/sso-status")
        assert r.status == 200, r.text()
        return r.json()["idp_metadata"][0]

    def cache_file(self):
        return self.status()["cache_file"]

    def login_works(self, **knobs):
        start = self.get("/app/", headers=BROWSER)
        if start.status != 302:
            return False
        answer = self.idp_response(start.header("Location"), "alice", **knobs)
        r = self.post_acs(answer["SAMLResponse"], answer["RelayState"])
        return r.status == 303 and session_cookie(r) is not None

    def restart_nginx(self):
        self.nginx.stop(signal.SIGQUIT)
        self.procs.remove(self.nginx)
        self.nginx = Process([NGINX, "-p", self.dir, "-c", self.path("nginx.conf"), "-e", self.path("error.log")],
                             self.dir, "nginx", env=nginx_env(self.dir))
        self.procs.append(self.nginx)
        self.nginx.wait_ready(self.port)


class UrlTestCase(unittest.TestCase):
    STACK_ARGS = {}

    def setUp(self):
        self.stack = UrlStack(**self.STACK_ARGS)

    def tearDown(self):
        self.stack.set_mode("ok")  # releases a stalled fetch, so nginx stops promptly
        self.stack.stop()

    def log_since(self, mark):
        return self.stack.error_log()[mark[0]:]


class UrlMetadataTest(UrlTestCase):

    def test_login_status_and_cached_copy(self):
        s = self.stack
        cookie, _ = s.login()
        r = s.get("/app/?format=json", cookie=cookie)
        self.assertEqual(r.status, 200)
        st = s.status()
        self.assertEqual(st["origin"], "url")
        self.assertEqual(st["location"], s.md_url)
        self.assertEqual(st["entity_id"], s.idp_entity_id)
        self.assertEqual(st["idps"], [s.idp_entity_id])
        self.assertIn(st["loaded_from"], ("url",))
        self.assertIn(st["last_fetch_result"], ("ok", "unchanged"))
        self.assertIsNotNone(st["last_success"])
        self.assertFalse(st["signature_verified"])
        # The master saved the copy it fetched, in the default cache path under the prefix.
        self.assertTrue(st["cache_file"].startswith(os.path.join(s.dir, "sso_metadata") + "/"), st["cache_file"])
        with open(st["cache_file"]) as f:
            self.assertEqual(f.read(), s.metadata())

    def test_refresh_picks_up_a_rotated_signing_certificate(self):
        s = self.stack
        self.assertTrue(s.login_works(key="idp"))
        self.assertFalse(s.login_works(key="rogue"))
        m = s.mark()
        s.serve(s.metadata(cert="rogue.crt"))  # the IdP rolled its key over
        s.wait_for_fetches(6)
        self.assertIn("refreshed from \"%s\"" % s.md_url, self.log_since(m))
        self.assertTrue(s.login_works(key="rogue"))
        m = s.mark()
        self.assertFalse(s.login_works(key="idp"))
        self.assertRegex(self.log_since(m), r"sso: .*signature does not verify")
        # Every worker saved the new copy for the next start.
        with open(s.cache_file()) as f:
            self.assertEqual(certificate_of(f.read()), certificate_of(s.metadata(cert="rogue.crt")))

    def test_url_down_or_garbage_keeps_the_loaded_copy(self):
        s = self.stack
        with open(s.cache_file()) as f:
            good_copy = f.read()
        for mode, reason in (("500", r"cannot fetch \"[^\"]+\": HTTP status 500"),
                             ("garbage", r"\"[^\"]+\" served unusable metadata: IdP metadata root is not a SAML 2.0 [^;]*")):
            m = s.mark()
            s.set_mode(mode)
            s.wait_for_fetches(4)
            log = self.log_since(m)
            self.assertRegex(log, r"\[warn\] .*sso: IdP metadata refresh failed: " + reason +
                             r"; keeping the copy loaded at ")
            self.assertTrue(s.login_works(), mode)
            self.assertRegex(s.status()["last_fetch_result"], reason)
            with open(s.cache_file()) as f:
                self.assertEqual(f.read(), good_copy, "a failed fetch must not overwrite the cached copy")
        s.set_mode("ok")
        wait_until(lambda: s.status()["last_fetch_result"] == "unchanged", "a good fetch again")

    def test_a_stalled_metadata_server_does_not_slow_other_requests(self):
        s = self.stack
        cookie, _ = s.login()
        s.set_mode("stall")
        s.wait_for_fetches(2)  # both workers now wait on the metadata server
        slowest = 0.0
        for i in range(20):
            for path, c in (("/public/x", None), ("/app/x", cookie)):
                t0 = time.monotonic()
                r = s.get(path, cookie=c)
                slowest = max(slowest, time.monotonic() - t0)
                self.assertEqual(r.status, 200, (path, r.text()[:200]))
        self.assertTrue(s.login_works(), "a new login while the refresh is stalled")
        self.assertLess(slowest, 0.5, "requests waited for the stalled metadata fetch")
        self.assertIn("mode", os.listdir(s.md_dir))
        m = s.mark()
        s.set_mode("ok")
        s.wait_for_fetches(2)
        self.assertNotIn("refresh failed", self.log_since(m))


class StalledWithTimeoutTest(UrlTestCase):
    STACK_ARGS = {"timeout": "1s"}

    def test_a_stalled_fetch_times_out_and_is_retried(self):
        s = self.stack
        m = s.mark()
        s.set_mode("stall")
        wait_until(lambda: re.search(r"IdP metadata refresh failed: cannot fetch .*timed out", self.log_since(m)),
                   "a fetch timeout")
        self.assertTrue(s.login_works())


class RestartTest(UrlTestCase):

    def test_a_restart_with_the_url_down_uses_the_cached_copy(self):
        s = self.stack
        s.set_mode("500")
        m = s.mark()
        s.restart_nginx()
        self.assertRegex(self.log_since(m), r"\"sso_idp_metadata_url\": cannot fetch \"[^\"]+\": HTTP status 500; "
                                            r"using the cached copy \"[^\"]+\"")
        self.assertTrue(s.login_works())
        st = s.status()
        self.assertEqual(st["loaded_from"], "cache")
        self.assertIsNone(st["confirmed_at"])
        # The URL answers again with the same document: the copy in use is the URL's now, in
        # every worker (each confirms it at its own fetch).
        s.set_mode("ok")

        def confirmed():
            return [s.status() for _ in range(6)]
        wait_until(lambda: all(x["loaded_from"] == "url" and x["last_fetch_result"] == "unchanged"
                               for x in confirmed()), "the cached copy confirmed by the URL")
        st = s.status()
        self.assertIsNotNone(st["confirmed_at"])
        self.assertEqual(st["confirmed_at"], st["last_success"])
        self.assertTrue(s.login_works())


class ExpiryTest(UrlTestCase):
    # validUntil a few seconds ahead; the URL then goes down so no fresh copy arrives.
    STACK_ARGS = {"refresh": "1h",
                  "before_start": lambda s: s.serve(s.metadata(root_attributes='validUntil="%s"' %
                                                               saml_time(time.time() + 5)))}

    def test_expired_metadata_turns_saml_off_until_a_fresh_copy_arrives(self):
        s = self.stack
        s.set_mode("500")
        st = s.status()
        self.assertIsNotNone(st["valid_until"])
        expiry = parse_time(st["valid_until"])
        # Refreshes come sooner than the hour configured, as validUntil approaches.
        self.assertLessEqual(parse_time(st["next_refresh"]), expiry)
        wait_until(lambda: time.time() > expiry + 1.5, "validUntil to pass", timeout=15)
        wait_until(lambda: "expired (validUntil" in s.error_log(), "the expiry to be logged")
        m = s.mark()
        r = s.get("/app/", headers=BROWSER)
        self.assertEqual(r.status, 503, r.text()[:300])
        self.assertIsNone(session_cookie(r))
        self.assertEqual(s.upstream_count(), m[1])
        self.assertIn("the IdP metadata has expired", self.log_since(m))
        self.assertTrue(s.status()["expired"])
        # The IdP publishes fresh metadata: sign-in comes back without touching nginx.
        s.serve(s.metadata(root_attributes='validUntil="%s"' % saml_time(time.time() + 3600)))
        s.set_mode("ok")
        # Each worker recovers at its own next fetch (retried every second once expired): wait
        # until logins keep working, whichever worker answers.
        wait_until(lambda: all(s.login_works() for _ in range(6)), "SAML back on in every worker", timeout=90)


class CacheDurationTest(UrlTestCase):
    STACK_ARGS = {"refresh": "1h",
                  "before_start": lambda s: s.serve(s.metadata(root_attributes='cacheDuration="PT1S"'))}

    def test_cache_duration_shortens_the_refresh_interval(self):
        s = self.stack
        s.wait_for_fetches(4, timeout=20)  # with only "refresh 1h", no fetch would come


def make_signer(stack):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=metadata signer", "-keyout", stack.path("mdsigner.key"), "-out", stack.path("mdsigner.crt")],
                   check=True, capture_output=True)
    stack.serve(stack.signed_metadata())


class SignedMetadataTest(UrlTestCase):
    # The signer's certificate is made before nginx first reads its configuration.
    STACK_ARGS = {"before_start": make_signer, "url_extra": "sso_idp_metadata_certificate @DIR@/mdsigner.crt;"}

    def test_signed_metadata_is_verified_and_bad_signatures_are_refused(self):
        s = self.stack
        self.assertTrue(s.status()["signature_verified"])
        self.assertTrue(s.login_works())
        tampered = s.signed_metadata(cert="idp.crt").replace(s.idp_base + "/sso", "http://127.0.0.1:1/sso")
        cases = (
            (tampered, r"the metadata signature does not verify with sso_idp_metadata_certificate"),
            (s.signed_metadata(signer="rogue", cert="rogue.crt"), r"does not verify with sso_idp_metadata_cert"),
            (s.metadata(cert="rogue.crt"), r"the metadata is not signed"),
        )
        for xml, reason in cases:
            m = s.mark()
            s.serve(xml)
            s.wait_for_fetches(4)
            self.assertRegex(self.log_since(m), r"IdP metadata refresh failed: .*" + reason)
            self.assertTrue(s.login_works(), reason)
            self.assertFalse(s.login_works(key="rogue"), reason)
        # A correctly signed rotation is taken.
        s.serve(s.signed_metadata(cert="rogue.crt"))
        s.wait_for_fetches(6)
        self.assertTrue(s.login_works(key="rogue"))


class ConfigTest(unittest.TestCase):
    """nginx -t: a URL source needs a fetchable URL or a cached copy."""

    def setUp(self):
        self.stack = UrlStack()
        self.conf = self.stack.path("nginx.conf")
        with open(self.conf) as f:
            self.text = f.read()

    def tearDown(self):
        self.stack.stop()

    def nginx_t(self, text):
        path = self.stack.path("test.conf")
        with open(path, "w") as f:
            f.write(text)
        return nginx_t(self.stack.dir, path)

    def test_a_fetchable_url_passes(self):
        r = self.nginx_t(self.text)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_url_and_no_cached_copy_fails(self):
        dead = "http://127.0.0.1:%d/md.xml" % free_port()
        text = self.text.replace(self.stack.md_url, dead)
        r = self.nginx_t(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"\"sso_idp_metadata_url\": cannot fetch \"%s\": .*, and no cached copy at "
                                   r"\"[^\"]+\"" % re.escape(dead))

    def test_garbage_at_the_url_and_no_cached_copy_fails(self):
        self.stack.set_mode("garbage")
        text = self.text.replace("http {", "http { sso_idp_metadata_cache_path %s;" % self.stack.path("empty-cache"))
        r = self.nginx_t(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("served unusable metadata", r.stderr)
        self.stack.set_mode("ok")

    def test_bad_values_are_refused(self):
        cases = (
            (self.text.replace("sso_idp_metadata_url http://", "sso_idp_metadata_url ftp://"),
             r"\"sso_idp_metadata_url\": \"ftp://[^\"]+\" is not an http:// or https:// URL"),
            (self.text.replace("sso_idp_metadata_url", "sso_idp_metadata %s/idp-metadata.xml; sso_idp_metadata_url"
                               % self.stack.dir),
             r"\"sso_idp_metadata\" and \"sso_idp_metadata_url\" are both set"),
            (self.text.replace("sso_idp_metadata_refresh 1s", "sso_idp_metadata_refresh soon"),
             r"\"sso_idp_metadata_refresh\" directive invalid value"),
            (self.text.replace("sso_idp_metadata_url", "sso_idp_metadata_certificate /nonexistent.crt; "
                                                       "sso_idp_metadata_url"),
             r"\"sso_idp_metadata_certificate\": cannot read file"),
        )
        for text, reason in cases:
            r = self.nginx_t(text)
            self.assertNotEqual(r.returncode, 0, reason)
            self.assertRegex(r.stderr, reason)

    def test_protected_locations_without_an_endpoint_are_refused(self):
        text = self.text.replace("location /sso/ { sso_endpoint; }", "")
        self.assertNotEqual(text, self.text)
        r = self.nginx_t(text)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        line = [i for i, l in enumerate(text.splitlines(), 1) if "sso_idp_metadata_url " in l]
        self.assertEqual(len(line), 1)
        self.assertRegex(r.stderr, r"\[emerg\] \"sso_idp_metadata_url\": server \"localhost\" signs in with SAML for "
                                   r"location \"/app/\" but has no location with \"sso_endpoint\".* in %s:%d\n"
                                   % (re.escape(self.stack.path("test.conf")), line[0]))

    def test_unsigned_metadata_with_a_certificate_configured_fails(self):
        text = self.text.replace("sso_idp_metadata_url", "sso_idp_metadata_certificate %s/idp.crt; "
                                 "sso_idp_metadata_url" % self.stack.dir)
        text = text.replace("http {", "http { sso_idp_metadata_cache_path %s;" % self.stack.path("empty-cache"))
        r = self.nginx_t(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the metadata is not signed, but sso_idp_metadata_certificate requires a signature", r.stderr)


if __name__ == "__main__":
    unittest.main()
