"""Configuration checks: what `nginx -t` accepts and how it names what is wrong; SAML switched
off at runtime."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from t.integration.harness import BROWSER, MODULE, MOCK_IDP, PYTHON, StackTest, free_port, make_keys, nginx_t

CONF = """
load_module {module};
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
    {http_extra}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
{server}
{locations}
    }}
}}
"""

LOCATIONS = """
        location /sso/ { sso_endpoint; }
        location /app/ {
            sso on;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:9;
        }
"""

IDP_ENTITY = "http://127.0.0.1:9/metadata"


class At:
    """A pattern for assertInvalid: the message ends " in FILE:LINE" at the line of nginx.conf
    where `directive` is written (looked up once the file is written)."""

    def __init__(self, directive):
        self.directive = directive


class ConfigCheck(unittest.TestCase):
    """nginx -t on generated configurations; the tests are in the subclasses."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sso-config-")
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(cls.dir, d))
        make_keys(cls.dir)
        md = subprocess.run([PYTHON, MOCK_IDP, "metadata", "--entity-id", IDP_ENTITY, "--base-url",
                             "http://127.0.0.1:9", "--cert", cls.path("idp.crt")], check=True, capture_output=True)
        cls.metadata = md.stdout.decode()
        cls.write("idp-metadata.xml", cls.metadata)
        cls.port = free_port()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    @classmethod
    def write(cls, name, text):
        with open(cls.path(name), "w") as f:
            f.write(text)
        return cls.path(name)

    def directives(self, **overrides):
        """The server's sso directives, in order; a value None leaves the directive out."""
        d = {
            "sso_sp_entity_id": "http://127.0.0.1:%d/sso/metadata" % self.port,
            "sso_sp_acs_url": "http://127.0.0.1:%d/sso/acs" % self.port,
            "sso_sp_key": self.path("sp.key"),
            "sso_sp_certificate": self.path("sp.crt"),
            "sso_idp_metadata": self.path("idp-metadata.xml"),
            "sso_cookie_secure": "off",
        }
        d.update(overrides)
        return d

    def nginx_t(self, http_extra="", extra="", locations=LOCATIONS, **overrides):
        lines = ["        %s %s;" % (k, v) for k, v in self.directives(**overrides).items() if v is not None]
        if extra:
            lines.append("        " + extra)
        conf = CONF.format(module=MODULE, dir=self.dir, port=self.port, http_extra=http_extra,
                           server="\n".join(lines), locations=locations)
        conf_path = self.write("nginx.conf", conf)
        return nginx_t(self.dir, conf_path)

    def assertValid(self, **kw):
        p = self.nginx_t(**kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("test is successful", p.stderr)
        return p

    def assertInvalid(self, *patterns, **kw):
        """Non-zero exit; stderr has an [emerg] line naming the configuration file and matching
        every pattern."""
        p = self.nginx_t(**kw)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        emerg = [l for l in p.stderr.splitlines() if "[emerg]" in l]
        self.assertEqual(len(emerg), 1, p.stderr)
        self.assertIn(self.path("nginx.conf"), emerg[0])
        for pattern in patterns:
            self.assertRegex(emerg[0], self.at_line_of(pattern.directive) if isinstance(pattern, At) else pattern)
        return emerg[0]

    def at_line_of(self, directive):
        """The " in FILE:LINE" suffix naming the line of nginx.conf where `directive` is written."""
        with open(self.path("nginx.conf")) as f:
            lines = [i for i, l in enumerate(f.read().splitlines(), 1) if l.strip().startswith(directive + " ")]
        self.assertEqual(len(lines), 1, directive)
        return re.escape(" in %s:%d" % (self.path("nginx.conf"), lines[0])) + "$"

    def warnings(self, p):
        return [l for l in p.stderr.splitlines() if "[warn]" in l]



class ConfigTest(ConfigCheck):

    # --- accepted ---------------------------------------------------------------------

    def test_valid_configuration(self):
        self.assertValid()

    def test_idp_metadata_none_turns_saml_off(self):
        self.assertValid(sso_idp_metadata="none")

    def test_no_saml_directives_at_all(self):
        self.assertValid(sso_sp_entity_id=None, sso_sp_acs_url=None, sso_sp_key=None, sso_sp_certificate=None,
                         sso_idp_metadata=None)

    def test_samesite_none_with_secure(self):
        self.assertValid(sso_cookie_samesite="none", sso_cookie_secure="on")

    def test_relative_metadata_path_is_resolved_against_the_prefix(self):
        self.assertValid(sso_idp_metadata="idp-metadata.xml")

    def test_zone_and_timers(self):
        self.assertValid(http_extra="sso_zone sessions:1m;", extra="sso_clock_skew 2m; sso_session_lifetime 1h;")

    def test_access_rules(self):
        self.assertValid(extra='sso_require group editors "print operators"; sso_require attribute dept sales; '
                               'sso_require user alice; sso_require_match any;')
        self.assertInvalid(r'"sso_require"', r"unknown kind \"role\"", extra="sso_require role admin;")
        self.assertInvalid(r'"sso_require"', r"at least one value", extra="sso_require group;")
        self.assertInvalid(r'"sso_require"', r"\"attribute\" needs at least one value", extra="sso_require attribute dept;")
        self.assertInvalid(r"sso_require_match", extra="sso_require_match most;")

    # --- the IdP metadata -------------------------------------------------------------

    def test_missing_metadata_file(self):
        self.assertInvalid(r'"sso_idp_metadata"', re.escape("/nonexistent.xml"), sso_idp_metadata="/nonexistent.xml")

    def test_missing_relative_metadata_file(self):
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(self.path("missing.xml")), sso_idp_metadata="missing.xml")

    def test_metadata_is_a_directory(self):
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(self.path("body")), sso_idp_metadata=self.path("body"))

    def test_metadata_not_xml(self):
        # The file is read after the server block; the message still names the directive's line.
        f = self.write("not-xml.xml", "this is not XML at all\n")
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), r"not well-formed XML",
                           At("sso_idp_metadata"), sso_idp_metadata=f)

    def test_empty_metadata(self):
        f = self.write("empty.xml", "")
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), sso_idp_metadata=f)

    def test_metadata_not_an_entity_descriptor(self):
        f = self.write("other.xml", '<?xml version="1.0"?>\n<html><body>not metadata</body></html>\n')
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), r"EntityDescriptor", sso_idp_metadata=f)

    def test_metadata_with_doctype(self):
        xml = self.metadata.replace("?>", '?>\n<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
        self.assertIn("<!DOCTYPE", xml)
        f = self.write("doctype.xml", xml)
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), r"DOCTYPE", sso_idp_metadata=f)

    def test_metadata_without_idp_descriptor(self):
        xml = re.sub(r"<md:IDPSSODescriptor.*</md:IDPSSODescriptor>", "", self.metadata, flags=re.S)
        self.assertNotIn("IDPSSODescriptor", xml)
        self.assertIn("EntityDescriptor", xml)
        f = self.write("no-idp.xml", xml)
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), r"IDPSSODescriptor", sso_idp_metadata=f)

    # --- key and certificate ----------------------------------------------------------

    def test_missing_key_file(self):
        f = self.path("no-such.key")
        self.assertInvalid(r'"sso_sp_key"', re.escape(f), sso_sp_key=f)

    def test_missing_certificate_file(self):
        f = self.path("no-such.crt")
        self.assertInvalid(r'"sso_sp_certificate"', re.escape(f), sso_sp_certificate=f)

    def test_key_file_that_is_not_a_key(self):
        f = self.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
        self.assertInvalid(r'"sso_sp_key"', re.escape(f), r"private key", sso_sp_key=f)

    def test_certificate_given_as_key(self):
        self.assertInvalid(r'"sso_sp_key"', re.escape(self.path("sp.crt")), r"private key",
                           sso_sp_key=self.path("sp.crt"))

    def test_cert_file_that_is_not_a_cert(self):
        self.assertInvalid(r'"sso_sp_certificate"', re.escape(self.path("sp.key")), r"certificate",
                           sso_sp_certificate=self.path("sp.key"))

    def test_key_not_matching_the_certificate(self):
        self.assertInvalid(r'"sso_sp_key"', re.escape(self.path("idp.key")), r"does not match the certificate",
                           At("sso_sp_key"), sso_sp_key=self.path("idp.key"))

    def test_file_errors_name_the_line_of_an_inherited_directive(self):
        # Set at http level: the message names that line, not the server's.
        f = self.write("not-xml-http.xml", "still not XML\n")
        self.assertInvalid(r'"sso_idp_metadata"', re.escape(f), At("sso_idp_metadata"),
                           http_extra="sso_idp_metadata %s;" % f, sso_idp_metadata=None)

    def test_metadata_without_key(self):
        self.assertInvalid(r'"sso_idp_metadata" is set but "sso_sp_key" is missing', sso_sp_key=None)

    def test_metadata_without_certificate(self):
        self.assertInvalid(r'"sso_idp_metadata" is set but "sso_sp_certificate" is missing', sso_sp_certificate=None)

    def test_metadata_without_entity_id(self):
        self.assertInvalid(r'"sso_sp_entity_id"', sso_sp_entity_id=None)

    def test_metadata_without_acs_url(self):
        self.assertInvalid(r'"sso_sp_acs_url"', sso_sp_acs_url=None)

    # --- cookies ----------------------------------------------------------------------

    def test_bad_samesite(self):
        self.assertInvalid(r'"sso_cookie_samesite"', r"sometimes", sso_cookie_samesite="sometimes")

    def test_samesite_none_needs_secure(self):
        self.assertInvalid(r'sso_cookie_samesite none', r'sso_cookie_secure on', sso_cookie_samesite="none")

    def test_bad_cookie_name(self):
        self.assertInvalid(r"sso_cookie", r"name", sso_cookie_name='"a;b"')

    def test_bad_cookie_path(self):
        self.assertInvalid(r"sso_cookie", r"path", sso_cookie_path="app")

    def test_duplicate_cookie_secure(self):
        # Why test_http_security checks the Secure attribute on a second server block: the
        # harness sets sso_cookie_secure off, and saying it again is an error.
        self.assertInvalid(r'"sso_cookie_secure" directive is duplicate', extra="sso_cookie_secure on;")

    # --- zone, attributes, timers -----------------------------------------------------

    def test_bad_zone_arguments(self):
        for arg, patterns in (("nocolon", [r'NAME:SIZE, got "nocolon"']), (":1m", [r'NAME:SIZE, got ":1m"']),
                              ("z:abc", [r'invalid size "abc"']), ("z:1k", [r'invalid size "1k"']),
                              ("z:", [r'invalid size ""'])):
            with self.subTest(arg=arg):
                self.assertInvalid(r'"sso_zone"', *patterns, http_extra="sso_zone %s;" % arg)

    def test_bad_attribute_role(self):
        self.assertInvalid(r'"sso_attribute"', r'"admin"', extra="sso_attribute admin uid;")

    def test_bad_clock_skew(self):
        for value in ("soon", "-5", "1x"):
            with self.subTest(value=value):
                self.assertInvalid(r'"sso_clock_skew"', r"invalid value", sso_clock_skew=value)

    def test_bad_session_lifetime(self):
        self.assertInvalid(r'"sso_session_lifetime"', sso_session_lifetime="0")


class UnworkableConfigTest(ConfigCheck):
    """Configurations that would load and then fail at run time are refused by nginx -t."""

    def acs(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    # --- the SP's identifiers ---------------------------------------------------------

    def test_relative_acs_url(self):
        # It would be published as Location="/sso/acs" in the SP metadata.
        self.assertInvalid(r'"sso_sp_acs_url": "/sso/acs" is a path, not an absolute URL',
                           r'full http:// or https:// URL the browser reaches, e.g. "https://app\.example\.org/sso/acs"',
                           At("sso_sp_acs_url"), sso_sp_acs_url="/sso/acs")

    def test_relative_acs_url_while_saml_is_off(self):
        self.assertInvalid(r'"sso_sp_acs_url": "/sso/acs" is a path', sso_sp_acs_url="/sso/acs",
                           sso_idp_metadata="none")

    def test_acs_url_that_is_not_http(self):
        self.assertInvalid(r'"sso_sp_acs_url": "ftp://127\.0\.0\.1/sso/acs" has the scheme "ftp", not http or https',
                           sso_sp_acs_url="ftp://127.0.0.1/sso/acs")
        self.assertInvalid(r'"sso_sp_acs_url": "https:///sso/acs" has no host', sso_sp_acs_url="https:///sso/acs")

    def test_entity_id_that_is_not_an_absolute_uri(self):
        for value in ("myapp", "/sso/metadata", "app.example.org/sso/metadata"):
            with self.subTest(value=value):
                self.assertInvalid(r'"sso_sp_entity_id": "%s" is not an absolute URI' % re.escape(value),
                                   r'usually the URL of this SP\'s metadata, e\.g\. "https://app\.example\.org/',
                                   At("sso_sp_entity_id"), sso_sp_entity_id=value)

    def test_urn_entity_id_is_accepted(self):
        self.assertValid(sso_sp_entity_id="urn:example:print-portal")

    # --- the location the ACS URL lands in --------------------------------------------

    def test_acs_path_outside_every_location(self):
        self.assertInvalid(r'"sso_sp_acs_url": the path "/saml/acs" of "%s"' % re.escape(self.acs("/saml/acs")),
                           r'server "localhost" lands in no location \(the server block itself\)',
                           r'has no "sso_endpoint"',
                           r'use "%s" \(location "/sso/"\)' % re.escape(self.acs("/sso/acs")),
                           At("sso_sp_acs_url"), sso_sp_acs_url=self.acs("/saml/acs"))

    def test_acs_path_in_a_protected_location(self):
        # The IdP's POST would get the 401 page of /app/.
        self.assertInvalid(r'the path "/app/acs" .* lands in location "/app/", which has no "sso_endpoint"',
                           r'use "%s"' % re.escape(self.acs("/sso/acs")), sso_sp_acs_url=self.acs("/app/acs"))

    def test_acs_path_with_another_action(self):
        self.assertInvalid(r'the path "/sso/consume" .* lands in the sso_endpoint location "/sso/", which answers '
                           r'the IdP\'s POST only at a path ending in "/acs"', sso_sp_acs_url=self.acs("/sso/consume"))

    def test_acs_path_taken_by_a_regex_location(self):
        # nginx's rule: a regular expression beats the longest prefix...
        locations = LOCATIONS + "        location ~ /acs$ { sso on; proxy_pass http://127.0.0.1:9; }\n"
        self.assertInvalid(r'the path "/sso/acs" .* lands in location ~ "/acs\$", which has no "sso_endpoint"',
                           r'no prefix or exact sso_endpoint location of this server gives one', locations=locations)
        # ... unless the prefix says ^~; and an exact location beats both.
        self.assertValid(locations=locations.replace("location /sso/", "location ^~ /sso/"))
        self.assertValid(locations=locations + "        location = /sso/acs { sso_endpoint; }\n")

    def test_acs_path_in_an_exact_location(self):
        locations = ("        location = /saml/acs { sso_endpoint; }\n"
                     "        location /app/ { sso on; proxy_pass http://127.0.0.1:9; }\n")
        self.assertValid(locations=locations, sso_sp_acs_url=self.acs("/saml/acs"))
        self.assertInvalid(r'the path "/sso/acs" .* lands in no location',
                           r'use "%s" \(location = "/saml/acs"\)' % re.escape(self.acs("/saml/acs")),
                           locations=locations)

    def test_acs_path_of_an_endpoint_nested_in_a_prefix(self):
        locations = ("        location /auth/ { location /auth/sso/ { sso_endpoint; } }\n"
                     "        location /app/ { sso on; proxy_pass http://127.0.0.1:9; }\n")
        self.assertValid(locations=locations, sso_sp_acs_url=self.acs("/auth/sso/acs"))
        self.assertInvalid(r'the path "/auth/acs" .* lands in location "/auth/"',
                           r'use "%s" \(location "/auth/sso/"\)' % re.escape(self.acs("/auth/sso/acs")),
                           locations=locations, sso_sp_acs_url=self.acs("/auth/acs"))

    # --- a server without sso_endpoint ------------------------------------------------

    def test_saml_and_protected_locations_without_an_endpoint(self):
        locations = "        location /app/ { sso on; proxy_pass http://127.0.0.1:9; }\n"
        self.assertInvalid(r'"sso_idp_metadata": server "localhost" signs in with SAML for location "/app/" but has no '
                           r'location with "sso_endpoint"', r'add e\.g\. "location /sso/ \{ sso_endpoint; \}"',
                           At("sso_idp_metadata"), locations=locations)

    def test_saml_without_protected_locations_needs_no_endpoint(self):
        self.assertValid(locations="        location / { proxy_pass http://127.0.0.1:9; }\n")

    # --- protected locations while SAML is off ----------------------------------------

    def test_protected_locations_without_metadata_warn_once(self):
        p = self.assertValid(sso_idp_metadata="none", locations=LOCATIONS + (
            "        location /more/ { sso on; proxy_pass http://127.0.0.1:9; }\n"))
        warnings = self.warnings(p)
        self.assertEqual(len(warnings), 1, p.stderr)
        self.assertRegex(warnings[0], r'sso: server "localhost" protects location "/app/", location "/more/" with '
                                      r'"sso on" but has no IdP metadata \("sso_idp_metadata none"\)')
        self.assertRegex(warnings[0], r"refused \(403\) until IdP metadata is configured")
        self.assertRegex(warnings[0], self.at_line_of("sso_idp_metadata"))

    def test_protected_locations_with_a_directory_do_not_warn(self):
        directory = 'sso_ldap_directory corp { url ldap://127.0.0.1:1; base_dn "dc=example,dc=test"; }'
        p = self.assertValid(sso_idp_metadata="none", http_extra=directory, extra="sso_ldap corp;")
        self.assertEqual(self.warnings(p), [])

    def test_saml_only_location_with_a_directory_warns(self):
        directory = 'sso_ldap_directory corp { url ldap://127.0.0.1:1; base_dn "dc=example,dc=test"; }'
        p = self.assertValid(sso_idp_metadata="none", http_extra=directory, extra="sso_ldap corp;",
                             locations=LOCATIONS + "        location /saml-only/ { sso on; sso_login saml; }\n")
        warnings = self.warnings(p)
        self.assertEqual(len(warnings), 1, p.stderr)
        self.assertRegex(warnings[0], r'protects location "/saml-only/" with "sso on" but has no IdP metadata')

    def test_saml_on_does_not_warn(self):
        self.assertEqual(self.warnings(self.assertValid()), [])


class SamlOffTest(StackTest):
    STACK_ARGS = {"saml": False}

    def test_protected_location_is_forbidden_with_a_page(self):
        s = self.stack
        for headers in (BROWSER, {"Accept": "application/json"}, {}):
            with self.subTest(headers=headers):
                mark = s.mark()
                r = s.get("/app/", headers)
                self.assertRefused(r, 403, r"\[warn\] .* sso: access denied: SAML is off for this server", mark)
                self.assertIsNone(r.header("Location"))
                self.assertIn("Sign-in unavailable", r.text())

    def test_sp_metadata_is_published_before_the_idp_metadata_exists(self):
        # Administrators paste our metadata into the IdP first and get the IdP's afterwards.
        s = self.stack
        r = s.get("/sso/metadata")
        self.assertEqual(r.status, 200)
        self.assertIn('entityID="%s"' % s.entity_id, r.text())
        self.assertIn('Location="%s"' % s.acs_url, r.text())

    def test_saml_endpoints_answer_404(self):
        s = self.stack
        for path in ("/sso/login", "/sso/acs"):
            with self.subTest(path=path):
                mark = s.mark()
                r = s.get(path, BROWSER)
                self.assertRefused(r, 404, r"sso: SAML endpoint used while SAML is off", mark)

    def test_unprotected_location_still_works(self):
        self.assertEqual(self.stack.get("/public/x", {"Accept": "application/json"}).status, 200)


if __name__ == "__main__":
    unittest.main()
