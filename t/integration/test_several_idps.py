"""Several IdPs in one metadata aggregate (an EntitiesDescriptor, as federations publish):
two real mock IdPs with their own keys. A location that accepts several sends the browser to
a chooser page, `?idp=` picks one for links, `sso_idp` limits a location to some of them, and
an IdP cannot answer an AuthnRequest that was sent to another."""
import os
import re
import subprocess
import unittest
import urllib.parse

from t.integration.harness import (BROWSER, DEFAULT_LOCATIONS, MOCK_IDP, PYTHON, USERS, Process, Stack, free_port,
                                   nginx_t, request, session_cookie, upstream_headers)

LOCATIONS = DEFAULT_LOCATIONS + """
        location /only-first/ {
            sso on;
            sso_idp @IDP1@;
            sso_identity_headers on;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

UI = ('<md:Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">'
      '<mdui:DisplayName xml:lang="de">Partner-IdP</mdui:DisplayName>'
      '<mdui:DisplayName xml:lang="en">Partner IdP</mdui:DisplayName></mdui:UIInfo></md:Extensions>')

SP_ONLY = ('<md:EntityDescriptor entityID="https://sp.example.org/shibboleth"><md:SPSSODescriptor '
           'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService '
           'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.org/acs" '
           'index="0"/></md:SPSSODescriptor></md:EntityDescriptor>')


class TwoIdpStack(Stack):
    """The usual stack; its metadata is an aggregate of the mock IdP and a second one (keys
    "rogue"), plus an SP entity that must be skipped."""

    def __init__(self):
        self.idp2_port = free_port()
        self.idp2_base = "http://127.0.0.1:%d" % self.idp2_port
        self.idp2_entity_id = self.idp2_base + "/metadata"
        super().__init__(locations=LOCATIONS)

    def render(self):
        return super().render().replace("@IDP1@", self.idp_entity_id)

    def entity(self, entity_id, base, cert, slo=()):
        xml = subprocess.run([PYTHON, MOCK_IDP, "metadata", "--entity-id", entity_id, "--base-url", base,
                              "--cert", self.path(cert)] + list(slo), check=True, capture_output=True, text=True).stdout
        return re.sub(r"<\?xml[^>]*\?>\s*", "", xml)

    def start(self):
        first = self.entity(self.idp_entity_id, self.idp_base, "idp.crt")
        # Only the partner publishes Single Logout.
        second = self.entity(self.idp2_entity_id, self.idp2_base, "rogue.crt", ["--slo", "redirect"])
        second = re.sub(r"(<md:IDPSSODescriptor[^>]*>)", lambda m: m.group(1) + UI, second, count=1)
        aggregate = ('<?xml version="1.0"?>\n<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                     'Name="urn:example:federation">%s<md:EntitiesDescriptor Name="nested">%s%s'
                     '</md:EntitiesDescriptor></md:EntitiesDescriptor>\n' % (first, SP_ONLY, second))
        with open(self.path("idp-metadata.xml"), "w") as f:
            f.write(aggregate)
        self.idp2 = Process([PYTHON, MOCK_IDP, "serve", "--listen", "127.0.0.1:%d" % self.idp2_port,
                             "--entity-id", self.idp2_entity_id, "--base-url", self.idp2_base,
                             "--key", self.path("rogue.key"), "--cert", self.path("rogue.crt"),
                             "--users", USERS, "--sp-metadata-url", self.entity_id, "--slo", "redirect"],
                            self.dir, "idp2")
        self.procs.append(self.idp2)
        super().start()
        self.idp2.wait_ready(self.idp2_port)

    def answer_from(self, port, redirect_url, user="alice"):
        """The answer of the IdP on `port` to the AuthnRequest in redirect_url (wherever it
        was addressed)."""
        u = urllib.parse.urlsplit(redirect_url)
        query = u.query + "&" + urllib.parse.urlencode(dict(user=user, format="json"))
        r = request(port, "GET", u.path + "?" + query)
        assert r.status == 200, (r.status, r.text())
        return r.json()

    def login_via(self, chooser_link, port):
        r = self.get(chooser_link, headers=BROWSER)
        assert r.status == 302, (r.status, r.text()[:300])
        location = r.header("Location")
        assert urllib.parse.urlsplit(location).netloc == "127.0.0.1:%d" % port, location
        a = self.answer_from(port, location)
        r = self.post_acs(a["SAMLResponse"], a["RelayState"])
        assert r.status == 303, (r.status, r.text()[:300], self.sso_lines_since((0, 0))[-2:])
        return session_cookie(r), r.header("Location")


class SeveralIdpsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = TwoIdpStack()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    def chooser_links(self, path):
        r = self.stack.get(path, headers=BROWSER)
        self.assertEqual(r.status, 200, r.text()[:300])
        return {name: href.replace("&amp;", "&")
                for href, name in re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', r.text())}

    def test_a_location_that_accepts_both_shows_the_chooser(self):
        s = self.stack
        r = s.get("/app/page?x=1", headers=BROWSER)
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/sso/login?return_to=%2Fapp%2Fpage%3Fx%3D1")
        links = self.chooser_links(r.header("Location"))
        # The partner's English display name; the first IdP has none, so its entityID.
        self.assertEqual(set(links), {"Partner IdP", s.idp_entity_id})

    def test_the_chooser_names_the_site_and_offers_a_way_out(self):
        r = self.stack.get("/sso/login?return_to=%2Fapp%2Fpage%3Fx%3D1", headers=BROWSER)
        self.assertEqual(r.status, 200)
        self.assertIn('<p class="site">localhost</p>', r.text())
        self.assertIn("<title>Choose how to sign in - localhost</title>", r.text())
        self.assertIn('<a href="/app/page?x=1">Cancel and go back</a>', r.text())
        self.assertIn("Your organisation is not listed? Contact the help desk of this site.", r.text())
        self.assertRegex(r.text(), r"Reference: <code>[0-9a-f]{32}</code>")

    def test_each_idp_signs_users_in_and_the_session_names_it(self):
        s = self.stack
        for name, port, entity_id in (("Partner IdP", s.idp2_port, s.idp2_entity_id),
                                      (s.idp_entity_id, s.idp_port, s.idp_entity_id)):
            links = self.chooser_links("/sso/login?return_to=%2Fapp%2F")
            cookie, back = s.login_via("/sso/login" + links[name], port)
            self.assertEqual(back, "/app/")
            page = s.get("/app/?format=json", cookie=cookie)
            self.assertEqual(page.status, 200)
            self.assertEqual(upstream_headers(page)["x-sso-idp"], [entity_id])

    def test_an_idp_cannot_answer_a_request_sent_to_the_other(self):
        s = self.stack
        r = s.get("/sso/login?idp=%s&return_to=%%2Fapp%%2F" % urllib.parse.quote(s.idp_entity_id, safe=""),
                  headers=BROWSER)
        self.assertEqual(r.status, 302)
        a = s.answer_from(s.idp2_port, r.header("Location"))  # the partner answers instead
        m = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertEqual(r.status, 403)
        self.assertIsNone(session_cookie(r))
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r'SAML response refused: the answer comes from IdP "%s" but the AuthnRequest '
                                   r'went to "%s"' % (re.escape(s.idp2_entity_id), re.escape(s.idp_entity_id)))

    def test_sso_idp_limits_a_location(self):
        s = self.stack
        r = s.get("/only-first/", headers=BROWSER)
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").startswith(s.idp_base + "/sso?"), r.header("Location"))
        # A session from the partner is no session there; it still is on /app/.
        links = self.chooser_links("/sso/login?return_to=%2Fapp%2F")
        cookie, _ = s.login_via("/sso/login" + links["Partner IdP"], s.idp2_port)
        self.assertEqual(s.get("/app/", cookie=cookie).status, 200)
        m = s.mark()
        r = s.get("/only-first/", headers=BROWSER, cookie=cookie)
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").startswith(s.idp_base + "/sso?"))
        self.assertIn('session from IdP "%s" is not accepted here (sso_idp)' % s.idp2_entity_id,
                      "\n".join(s.sso_lines_since(m)))

    def test_single_logout_goes_to_the_idp_of_the_session(self):
        s = self.stack
        links = self.chooser_links("/sso/login?return_to=%2Fapp%2F")
        # The first IdP has no SLO: local logout only.
        cookie, _ = s.login_via("/sso/login" + links[s.idp_entity_id], s.idp_port)
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(r.status, 200, r.text()[:200])
        # The partner has: the LogoutRequest goes to it, not to the first IdP.
        cookie, _ = s.login_via("/sso/login" + links["Partner IdP"], s.idp2_port)
        r = s.get("/sso/logout", cookie=cookie)
        self.assertEqual(r.status, 302, r.text()[:200])
        self.assertTrue(r.header("Location").startswith(s.idp2_base + "/slo?SAMLRequest="), r.header("Location"))
        self.assertEqual(s.get("/app/", cookie=cookie).status, 401)

    def test_the_partner_ends_its_session_by_idp_initiated_logout(self):
        s = self.stack
        links = self.chooser_links("/sso/login?return_to=%2Fapp%2F")
        cookie, _ = s.login_via("/sso/login" + links["Partner IdP"], s.idp2_port)
        self.assertEqual(s.get("/app/", cookie=cookie).status, 200)
        r = request(s.idp2_port, "GET", "/initiate-logout?user=alice")
        self.assertEqual(r.status, 200, r.text())
        message = r.json()
        u = urllib.parse.urlsplit(message["url"])
        answer = s.get(u.path + "?" + u.query)
        self.assertEqual(answer.status, 302, answer.text()[:300])
        self.assertTrue(answer.header("Location").startswith(s.idp2_base + "/slo?SAMLResponse="))
        self.assertEqual(s.get("/app/", cookie=cookie).status, 401)

    def test_an_unknown_idp_in_a_link_is_refused(self):
        s = self.stack
        m = s.mark()
        r = s.get("/sso/login?idp=https%3A%2F%2Fevil.example%2F&return_to=%2F", headers=BROWSER)
        self.assertEqual(r.status, 400)
        lines = s.sso_lines_since(m)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('login refused: no IdP "https://evil.example/" in the metadata', lines[0])

    def test_sso_idp_naming_an_unknown_idp_fails_nginx_t(self):
        s = self.stack
        with open(s.path("nginx.conf")) as f:
            text = f.read().replace("sso_idp %s;" % s.idp_entity_id, "sso_idp https://nobody.example/idp;")
        with open(s.path("bad.conf"), "w") as f:
            f.write(text)
        r = nginx_t(s.dir, s.path("bad.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('"sso_idp": no IdP "https://nobody.example/idp" in this server\'s metadata', r.stderr)


if __name__ == "__main__":
    unittest.main()
