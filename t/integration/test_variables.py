"""$sso_* variables: the identity for proxy_set_header, log_format and map."""
import unittest
import urllib.parse

from t.integration.harness import DEFAULT_LOCATIONS, StackTest, upstream_headers

LOCATIONS = DEFAULT_LOCATIONS + """
        location /vars/ {
            sso on;
            sso_groups_separator ";";
            proxy_set_header X-User $sso_user;
            proxy_set_header X-Email $sso_email;
            proxy_set_header X-Name $sso_name;
            proxy_set_header X-Groups $sso_groups;
            proxy_set_header X-Method $sso_auth_method;
            proxy_set_header X-IdP $sso_idp;
            proxy_set_header X-Uid $sso_attr_uid;
            proxy_set_header X-Display $sso_attr_displayName;
            proxy_set_header X-Group-Values $sso_attr_groups;
            proxy_set_header X-Missing "[$sso_attr_nosuch]";
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /override/ {
            sso on;
            sso_identity_headers on;
            proxy_set_header X-SSO-Groups "from-config";
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
        location /public-vars/ {
            proxy_set_header X-User "[$sso_user]";
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""


class VariablesTest(StackTest):
    STACK_ARGS = {"locations": LOCATIONS}

    def test_every_variable_reaches_the_upstream(self):
        s = self.stack
        cookie, _ = s.login("alice", "/vars/")
        h = upstream_headers(s.get("/vars/x", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-user"], ["alice@example.org"])
        self.assertEqual(h["x-email"], ["alice@example.org"])
        self.assertEqual(h["x-name"], ["Alice Liddell"])
        self.assertEqual(h["x-groups"], ["staff;print-operators"])
        self.assertEqual(h["x-method"], ["saml"])
        self.assertEqual(h["x-idp"], [s.idp_entity_id])
        # $sso_attr_NAME by FriendlyName (nginx lower-cases the variable name), values joined
        self.assertEqual(h["x-uid"], ["alice"])
        self.assertEqual(h["x-display"], ["Alice Liddell"])
        self.assertEqual(h["x-group-values"], ["staff;print-operators"])
        self.assertEqual(h["x-missing"], ["[]"])

    def test_attribute_values_are_header_safe(self):
        s = self.stack
        cookie, _ = s.login("zoe", "/vars/", **{"attr.uid": "z\r\nX-Evil: 1"})
        h = upstream_headers(s.get("/vars/x", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-uid"], ["z%0D%0AX-Evil: 1"])
        self.assertNotIn("x-evil", h)
        self.assertEqual(urllib.parse.unquote(h["x-display"][0]), "Zoë Ærøskøbing")

    def test_proxy_set_header_overrides_an_identity_header(self):
        # nginx matches our headers by their hash: one copy, the configured one, proves it right
        s = self.stack
        cookie, _ = s.login("alice", "/override/")
        h = upstream_headers(s.get("/override/x", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-sso-groups"], ["from-config"])
        self.assertEqual(h["x-sso-user"], ["alice@example.org"])

    def test_variables_are_empty_without_sso(self):
        s = self.stack
        cookie, _ = s.login("bob", "/vars/")
        h = upstream_headers(s.get("/public-vars/x", {"Accept": "application/json"}, cookie=cookie))
        self.assertEqual(h["x-user"], ["[]"])


if __name__ == "__main__":
    unittest.main()
