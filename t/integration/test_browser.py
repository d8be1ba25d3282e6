"""End to end in a real browser: headless Chromium through the demo's login flow."""
import os
import unittest

from t.integration import webdriver
from t.integration.harness import StackTest


class BrowserLoginTest(StackTest):

    def setUp(self):
        # No skip: scripts/deps.sh installs both, and a missing browser must fail the suite.
        self.assertTrue(webdriver.available(), "chromium and chromium-driver are missing")
        self.browser = webdriver.Browser(self.stack.dir)

    def tearDown(self):
        self.browser.quit()

    def test_protected_url_idp_pick_user_back_on_upstream_with_identity_headers(self):
        s, b = self.stack, self.browser
        b.go(s.base + "/app/reports/q3?page=2")
        b.wait_for_url(lambda u: u.startswith(s.idp_base + "/sso?"), "the mock IdP's user page")
        self.assertIn("choose a test user", b.source())
        b.click_link("zoe")
        b.wait_for_url(lambda u: u == s.base + "/app/reports/q3?page=2", "the original URL")
        text = b.text()
        b.screenshot(os.path.join(s.dir, "upstream.png"))
        self.assertIn("you are signed in as zoe@example.org", text)
        self.assertIn("X-SSO-Groups", text)
        self.assertIn("Zo%C3%AB %C3%86r%C3%B8sk%C3%B8bing", text)  # header-safe encoding
        # the session cookie works for the next page without another trip to the IdP
        b.go(s.base + "/app/other")
        b.wait_for_url(lambda u: u == s.base + "/app/other", "a second protected page")
        self.assertIn("you are signed in as zoe@example.org", b.text())

    def test_logout_sends_the_next_visit_back_to_the_idp(self):
        s, b = self.stack, self.browser
        b.go(s.base + "/app/")
        b.wait_for_url(lambda u: u.startswith(s.idp_base), "the IdP")
        b.click_link("bob")
        b.wait_for_url(lambda u: u == s.base + "/app/", "the upstream")
        b.go(s.base + "/sso/logout")
        self.assertIn("Signed out", b.text())
        b.go(s.base + "/app/")
        b.wait_for_url(lambda u: u.startswith(s.idp_base), "the IdP again after logout")


if __name__ == "__main__":
    unittest.main()
