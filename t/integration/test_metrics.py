"""Counters of sign-ins, refusals, access denials and logouts: shared by the workers, kept
across reloads, shown in sso_status and as Prometheus text by sso_metrics. A real slapd and
the mock IdP drive every counter through nginx."""
import re
import unittest

from t.integration.harness import DEFAULT_LOCATIONS, request
from t.integration.ldap_stack import FormLogin, LdapStackTest, basic, directory, ldap_stack
from t.integration.test_version import pkg_version, project_version

LOCATIONS = DEFAULT_LOCATIONS + """
        location = /sso-status { sso_status; }
        location = /metrics { sso_metrics; }
        location /restricted/ {
            sso on;
            sso_require group nobody-is-in-this-group;
            proxy_pass http://127.0.0.1:%(upstream)d;
        }
"""

SAMPLE = re.compile(r'^(sso_[a-z_]+)(\{(.*)\})? (-?\d+)$')
LABEL = re.compile(r'([a-z_][a-z0-9_]*)="((?:[^"\\]|\\.)*)",?')


class LabelSet(dict):
    """The labels of a sample with several, usable as (part of) a dict key."""

    def __hash__(self):
        return hash(tuple(sorted(self.items())))


def parse_metrics(text):
    """Prometheus text format: HELP and TYPE before each family, then its samples."""
    values, families = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            families[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        assert m.group(1) in families, "sample before its TYPE line: %r" % line
        labels = dict(LABEL.findall(m.group(3) or ""))
        assert LABEL.sub("", m.group(3) or "") == "", "malformed labels: %r" % line
        # One label: keyed by its value; several: by all of them.
        key = next(iter(labels.values())) if len(labels) == 1 else (LabelSet(labels) if labels else "")
        values[(m.group(1), key)] = int(m.group(4))
    return values, families


class MetricsTest(LdapStackTest):

    @classmethod
    def make_stack(cls):
        return ldap_stack(cls.slapd, directory(cls.slapd), server_extra="sso_ldap corp; sso_idp_initiated on;",
                          locations=LOCATIONS, saml=True)

    def metrics(self):
        r = self.stack.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(r.text())

    def changes(self, action):
        """Runs action(); returns the counters that moved, and by how much."""
        before, _ = self.metrics()
        action()
        after, _ = self.metrics()
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)
                and k[0].endswith("_total")}

    def test_each_event_moves_its_counter_once(self):
        s = self.stack
        cookie = {}

        def saml_login():
            cookie["saml"], _ = s.login()
        self.assertEqual(self.changes(saml_login), {("sso_logins_total", "saml"): 1})

        def refused_response():
            a = s.idp_response(s.start_login("/app/"), "alice", key="rogue")
            self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 403)
        self.assertEqual(self.changes(refused_response), {("sso_login_failures_total", "saml_response"): 1})

        # An answer to our request can be used once: its AuthnRequest ID is admitted once, so a
        # second is refused before its assertion is looked at (a refused response).
        a = s.idp_response(s.start_login("/app/"), "alice")
        self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 303)

        def answered_twice():
            self.assertEqual(s.post_acs(a["SAMLResponse"], a["RelayState"]).status, 403)
        self.assertEqual(self.changes(answered_twice), {("sso_login_failures_total", "saml_response"): 1})

        # An unsolicited Response names no AuthnRequest: the assertion's replay entry refuses it.
        u = s.unsolicited("alice")
        self.assertEqual(s.post_acs(u["SAMLResponse"], u.get("RelayState")).status, 303)

        def replay():
            self.assertEqual(s.post_acs(u["SAMLResponse"], u.get("RelayState")).status, 403)
        self.assertEqual(self.changes(replay), {("sso_login_failures_total", "replay"): 1})

        def basic_good():
            self.assertEqual(s.get("/app/", headers=basic("alice", "alice-pw")).status, 200)
        self.assertEqual(self.changes(basic_good), {("sso_logins_total", "ldap_basic"): 1})
        self.assertEqual(self.changes(basic_good), {}, "a cached Basic check is not a sign-in")

        def basic_wrong():
            self.assertEqual(s.get("/app/", headers=basic("bob", "wrong")).status, 401)
        self.assertEqual(self.changes(basic_wrong), {("sso_login_failures_total", "ldap_credentials"): 1})

        def form_login():
            self.assertEqual(FormLogin(s).post("alice", "alice-pw").status, 303)
        self.assertEqual(self.changes(form_login), {("sso_logins_total", "ldap_form"): 1})

        def denied():
            self.assertEqual(s.get("/restricted/", cookie=cookie["saml"]).status, 403)
        self.assertEqual(self.changes(denied), {("sso_access_denied_total", ""): 1})

        def logout():
            s.get("/sso/logout", cookie=cookie["saml"])
        self.assertEqual(self.changes(logout), {("sso_logouts_total", ""): 1})

    def test_families_gauges_and_the_status_document_agree(self):
        values, families = self.metrics()
        self.assertEqual(families["sso_logins_total"], "counter")
        self.assertEqual(families["sso_sessions"], "gauge")
        for key in (("sso_logins_total", "saml"), ("sso_login_failures_total", "store_unavailable"),
                    ("sso_logouts_total", ""), ("sso_sessions", ""), ("sso_seen_assertions", "")):
            self.assertIn(key, values)
        status = self.stack.get("/sso-status").json()
        counters = status["counters"]
        values, _ = self.metrics()
        self.assertEqual(counters["logins"]["saml"], values[("sso_logins_total", "saml")])
        self.assertEqual(counters["failures"]["replay"], values[("sso_login_failures_total", "replay")])
        self.assertEqual(counters["logouts"], values[("sso_logouts_total", "")])
        self.assertEqual(status["zones"]["sessions"]["entries"]["sessions"], values[("sso_sessions", "")])

    def test_build_info_names_the_version(self):
        values, families = self.metrics()
        self.assertEqual(families["sso_build_info"], "gauge")
        info = [(k[1], v) for k, v in values.items() if k[0] == "sso_build_info"]
        self.assertEqual(len(info), 1, info)
        labels, value = info[0]
        self.assertEqual(value, 1)
        self.assertEqual(set(labels), {"version", "lasso", "xmlsec1", "libxml2", "openssl"})
        self.assertEqual(labels["version"], project_version())
        self.assertEqual(labels["version"], self.stack.get("/sso-status").json()["version"])
        self.assertEqual(labels["lasso"], pkg_version("lasso"))

    def test_counters_survive_a_reload(self):
        s = self.stack
        s.login()
        before, _ = self.metrics()
        self.assertGreater(before[("sso_logins_total", "saml")], 0)
        s.reload()
        after, _ = self.metrics()
        self.assertGreaterEqual(after[("sso_logins_total", "saml")], before[("sso_logins_total", "saml")])

    def test_only_get_and_head(self):
        self.assertEqual(request(self.stack.port, "POST", "/metrics", body="x").status, 405)


if __name__ == "__main__":
    unittest.main()
