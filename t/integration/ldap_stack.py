"""nginx + module in front of a real slapd: the pieces the LDAP tests share.

A browser signs in through the form of `sso_endpoint` (…/ldap), an API client with HTTP Basic.
"""
import base64
import os
import re
import time
import urllib.parse

from t.integration.harness import BROWSER, Stack, StackTest, request, session_cookie
from t.integration.ldap_server import Slapd

OPENLDAP_DIRECTORY = """
    sso_ldap_directory %(name)s {
        url %(urls)s;
        %(tls)s
        bind_dn "cn=nginx-sso,ou=system,dc=example,dc=test";
        bind_password "service-pw";
        base_dn "dc=example,dc=test";
        user_filter "(uid=%%u)";
        user_attribute uid;
        email_attribute mail;
        name_attribute cn;
        group_attribute memberOf;
        timeout %(timeout)s;
        connect_timeout %(timeout)s;
        cache_ttl %(cache_ttl)s;
        %(extra)s
    }
"""

AD_DIRECTORY = """
    sso_ldap_directory %(name)s {
        url %(urls)s;
        %(tls)s
        bind_dn "cn=nginx-sso,ou=system,dc=example,dc=test";
        bind_password "service-pw";
        base_dn "ou=ad,dc=example,dc=test";
        user_filter "(|(sAMAccountName=%%u)(userPrincipalName=%%u))";
        user_attribute sAMAccountName;
        email_attribute mail;
        name_attribute displayName;
        group_attribute memberOf;
        timeout %(timeout)s;
        connect_timeout %(timeout)s;
        cache_ttl %(cache_ttl)s;
        %(extra)s
    }
"""


def directory(slapd, name="corp", template=OPENLDAP_DIRECTORY, urls=None, tls="starttls", ca_file=None,
              timeout="5s", cache_ttl="60s", extra=""):
    """An sso_ldap_directory block for this slapd. tls: "starttls", "ldaps" or "none"."""
    if urls is None:
        urls = [slapd.ldaps_url] if tls == "ldaps" else [slapd.ldap_url]
    tls_lines = "" if tls == "none" else "ca_file %s;" % (ca_file or slapd.ca_file)
    if tls == "starttls":
        tls_lines += " starttls on;"
    return template % {"name": name, "urls": " ".join(urls), "tls": tls_lines, "timeout": timeout,
                       "cache_ttl": cache_ttl, "extra": extra}


def readable(slapd):
    """nginx's workers run as nobody: they must read the CA files in slapd's temp dir."""
    os.chmod(slapd.dir, 0o755)
    for f in (slapd.ca_file, slapd.wrong_ca_file):
        os.chmod(f, 0o644)
    return slapd


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def form_fields(html):
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


class FormLogin:
    """What a browser does with the sign-in form: GET it, then POST it with the token cookie."""

    def __init__(self, stack, return_to="/app/"):
        self.stack = stack
        page = stack.get("/sso/ldap?return_to=" + urllib.parse.quote(return_to, safe=""), headers=BROWSER)
        assert page.status == 200, (page.status, page.text()[:300])
        self.page = page
        self.fields = form_fields(page.text())
        cookie = [c for c in page.all("Set-Cookie") if c.startswith("sso_session_csrf=")]
        assert len(cookie) == 1, page.headers
        self.csrf_cookie = cookie[0].split(";")[0]

    def post(self, user, password, cookie=None, fields=None):
        body = dict(self.fields)
        body.update({"username": user, "password": password})
        body.update(fields or {})
        headers = dict(BROWSER)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        c = self.csrf_cookie if cookie is None else cookie
        if c:
            headers["Cookie"] = c
        return request(self.stack.port, "POST", "/sso/ldap", headers=headers,
                       body=urllib.parse.urlencode(body))


def ldap_stack(slapd, http_extra, server_extra="sso_ldap corp;", locations=None, saml=False):
    kwargs = {"http_extra": http_extra, "server_extra": server_extra, "saml": saml}
    if locations is not None:
        kwargs["locations"] = locations
    return Stack(**kwargs)


class LdapStackTest(StackTest):
    """One stack per class in front of SLAPDS real directories (self.slapds; self.slapd is the
    first), all stopped when the class ends. Subclasses build the stack in make_stack()."""

    SLAPDS = 1

    @classmethod
    def make_stack(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.slapds = []
        try:
            for _ in range(cls.SLAPDS):
                cls.slapds.append(readable(Slapd().start()))
            cls.slapd = cls.slapds[0]
            cls.stack = cls.make_stack()
        except BaseException:
            for s in cls.slapds:
                s.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.stop()
        finally:
            for s in cls.slapds:
                s.stop()


def timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


__all__ = ["AD_DIRECTORY", "OPENLDAP_DIRECTORY", "BROWSER", "FormLogin", "LdapStackTest", "basic", "directory",
           "form_fields", "ldap_stack", "readable", "request", "session_cookie", "timed"]
