"""nginx -t on sso_ldap_directory and the directives that use it: each refusal names the
directive and the setting that is wrong."""
import re
import unittest

from t.integration.test_config import ConfigCheck

GOOD = {
    "url": "ldap://127.0.0.1:389 ldaps://127.0.0.1:636",
    "base_dn": '"dc=example,dc=test"',
    "bind_dn": '"cn=svc,dc=example,dc=test"',
    "bind_password": "secret-service-pw",
    "user_filter": '"(uid=%u)"',
}


class LdapConfigTest(ConfigCheck):

    def block(self, name="corp", **settings):
        s = dict(GOOD)
        s.update(settings)
        lines = "".join("        %s %s;\n" % (k, v) for k, v in s.items() if v is not None)
        return "sso_ldap_directory %s {\n%s    }\n" % (name, lines)

    def test_valid_directory(self):
        p = self.assertValid(http_extra=self.block(ca_file=self.path("sp.crt"), starttls="off", timeout="2s",
                                                   connect_timeout="500ms", cache_ttl="5m", failure_cache_ttl="3s",
                                                   group_attribute="memberOf", scope="one", realm="Printers"),
                             extra="sso_ldap corp;")
        self.assertNotIn("secret-service-pw", p.stderr)

    def test_valid_group_search_and_login_method(self):
        self.assertValid(http_extra=self.block(group_base='"ou=groups,dc=example,dc=test"',
                                               group_filter='"(member=%D)"', group_attribute="none"),
                         extra="sso_ldap corp; sso_login ldap; sso_ldap_basic off;")

    def test_directory_defined_after_its_use(self):
        self.assertValid(http_extra="server { listen 127.0.0.1:9; sso_ldap later; }\n" + self.block(name="later"))

    def test_url_that_is_not_ldap(self):
        self.assertInvalid(r"sso_ldap_directory corp", r"url", re.escape("http://127.0.0.1"),
                           http_extra=self.block(url="http://127.0.0.1"))

    def test_url_that_does_not_parse(self):
        self.assertInvalid(r"sso_ldap_directory corp", r"url", http_extra=self.block(url='"ldap://[::1"'))

    def test_no_url(self):
        self.assertInvalid(r"sso_ldap_directory corp", r"url", http_extra=self.block(url=None))

    def test_missing_ca_file(self):
        self.assertInvalid(r"sso_ldap_directory corp", r"ca_file", re.escape("/nonexistent/ca.pem"),
                           http_extra=self.block(ca_file="/nonexistent/ca.pem"))

    def test_unparseable_filter(self):
        self.assertInvalid(r"sso_ldap_directory corp", r"user_filter", http_extra=self.block(user_filter='"(uid=%u"'))
        self.assertInvalid(r"user_filter", http_extra=self.block(user_filter='"(uid=%x)"'))

    def test_unparseable_group_filter(self):
        self.assertInvalid(r"group_filter", http_extra=self.block(group_base='"ou=g,dc=example,dc=test"',
                                                                   group_filter='"member=%D"'))

    def test_bad_base_dn(self):
        self.assertInvalid(r"base_dn", http_extra=self.block(base_dn='"not a dn"'))

    def test_starttls_on_ldaps(self):
        self.assertInvalid(r"starttls", http_extra=self.block(url="ldaps://127.0.0.1", starttls="on"))

    def test_unknown_setting_and_bad_values(self):
        self.assertInvalid(r"unknown setting \"colour\"", http_extra=self.block(colour="blue"))
        self.assertInvalid(r"scope", http_extra=self.block(scope="deep"))
        self.assertInvalid(r"timeout", http_extra=self.block(timeout="soon"))
        self.assertInvalid(r"failure_cache_ttl", r"at most 10s", http_extra=self.block(failure_cache_ttl="1m"))

    def test_import_settings(self):
        self.assertValid(http_extra=self.block(import_filter='"(&(objectClass=inetOrgPerson)(mail=*))"',
                                               import_page_size="1000", import_max_users="50000",
                                               group_base='"ou=groups,dc=example,dc=test"',
                                               group_filter='"(memberUid=%u)"', group_member_attribute="memberUid"))
        self.assertInvalid(r"sso_ldap_directory corp", r"import_filter",
                           http_extra=self.block(import_filter='"(mail=*"'))
        self.assertInvalid(r"sso_ldap_directory corp", r'"import_page_size": "0" is not a number between 1 and 10000',
                           http_extra=self.block(import_page_size="0"))
        self.assertInvalid(r'"import_page_size": "10001"', http_extra=self.block(import_page_size="10001"))
        self.assertInvalid(r'"import_page_size": "many"', http_extra=self.block(import_page_size="many"))
        self.assertInvalid(r'"import_max_users": "0" is not a positive number',
                           http_extra=self.block(import_max_users="0"))
        self.assertInvalid(r"sso_ldap_directory corp", r"group_member_attribute", re.escape('"member of"'),
                           http_extra=self.block(group_member_attribute='"member of"'))

    def test_duplicate_directory(self):
        self.assertInvalid(r"duplicate", http_extra=self.block() + self.block())

    def test_unknown_directory_named_by_sso_ldap(self):
        self.assertInvalid(r'"sso_ldap"', r"nope", http_extra=self.block(), extra="sso_ldap nope;")

    def test_sso_login_ldap_needs_a_directory(self):
        self.assertInvalid(r"sso_login ldap", extra="sso_login ldap;")

    def test_the_service_password_is_never_printed(self):
        p = self.nginx_t(http_extra=self.block(user_filter='"(uid=%u"'))
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("secret-service-pw", p.stderr)


if __name__ == "__main__":
    unittest.main()
