"""sso_status: the zones' usage and entry counts as JSON."""
import json
import os
import unittest

from t.integration.harness import DEFAULT_LOCATIONS, REPO, StackTest
from t.integration.test_version import project_version

LOCATIONS = DEFAULT_LOCATIONS + """
        location = /sso-status { sso_status; }
"""


class StatusTest(StackTest):
    STACK_ARGS = {"locations": LOCATIONS, "http_extra": "sso_zone sessions:1m; sso_replay_zone seen:512k;"}

    def status(self):
        r = self.stack.get("/sso-status")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        return r.json()

    def test_document_shape(self):
        z = self.status()["zones"]
        self.assertEqual(set(z), {"sessions", "replay"})
        self.assertEqual((z["sessions"]["name"], z["sessions"]["size"]), ("sessions", 1024 * 1024))
        self.assertEqual((z["replay"]["name"], z["replay"]["size"]), ("seen", 512 * 1024))
        self.assertEqual(set(z["sessions"]["entries"]), {"sessions", "pending_requests", "cached_credentials",
                                                     "slo_index", "slo_subjects"})
        self.assertEqual(set(z["replay"]["entries"]), {"seen_assertions"})
        for zone in z.values():
            self.assertGreater(zone["used_bytes"], 0)
            self.assertLessEqual(zone["used_bytes"], zone["size"])

    def test_version_and_schema(self):
        import jsonschema
        st = self.status()
        self.assertEqual(st["version"], project_version())
        with open(os.path.join(REPO, "docs", "status-schema.json")) as f:
            jsonschema.validate(st, json.load(f))

    def test_counts_follow_a_login_and_a_logout(self):
        s = self.stack
        before = self.status()["zones"]
        location = s.start_login("/app/")
        mid = self.status()["zones"]
        # the AuthnRequest carries its own state: starting a login stores nothing
        self.assertEqual(mid["sessions"]["entries"], before["sessions"]["entries"])
        answer = s.idp_response(location, "alice")
        r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
        self.assertEqual(r.status, 303)
        after = self.status()["zones"]
        self.assertEqual(after["sessions"]["entries"]["pending_requests"],
                         before["sessions"]["entries"]["pending_requests"])
        self.assertEqual(after["sessions"]["entries"]["sessions"], before["sessions"]["entries"]["sessions"] + 1)
        # the assertion ID and the AuthnRequest ID, each admitted once
        self.assertEqual(after["replay"]["entries"]["seen_assertions"],
                         before["replay"]["entries"]["seen_assertions"] + 2)
        cookie = [v for v in r.all("Set-Cookie") if v.startswith("sso_session=")][0].split(";")[0]
        s.get("/sso/logout", cookie=cookie)
        self.assertEqual(self.status()["zones"]["sessions"]["entries"]["sessions"],
                         before["sessions"]["entries"]["sessions"])

    def test_post_is_refused(self):
        from t.integration.harness import request
        self.assertEqual(request(self.stack.port, "POST", "/sso-status", body="x").status, 405)


if __name__ == "__main__":
    unittest.main()
