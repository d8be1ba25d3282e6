"""A minimal W3C WebDriver client over HTTP (stdlib only) for Debian's chromedriver."""
import base64
import json
import os
import shutil
import tempfile
import urllib.request

from t.integration.harness import Process, free_port, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def available():
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


class Browser:
    def __init__(self, workdir):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
        self.driver = Process([CHROMEDRIVER, "--port=%d" % self.port], workdir, "chromedriver")
        self.driver.wait_ready(self.port)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + self.profile, "--window-size=1100,800"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]

    def _s(self, method, path, body=None):
        return self._call(method, "/session/%s%s" % (self.session, path), body)

    def go(self, url):
        self._s("POST", "/url", {"url": url})

    def url(self):
        return self._s("GET", "/url")

    def source(self):
        return self._s("GET", "/source")

    def click_link(self, text):
        el = self._s("POST", "/element", {"using": "link text", "value": text})
        self._s("POST", "/element/%s/click" % list(el.values())[0], {})

    def text(self):
        el = self._s("POST", "/element", {"using": "css selector", "value": "body"})
        return self._s("GET", "/element/%s/text" % list(el.values())[0])

    def wait_for_url(self, predicate, what):
        wait_until(lambda: predicate(self.url()), what)

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self._s("GET", "/screenshot")))

    def quit(self):
        try:
            self._s("DELETE", "")
        finally:
            self.driver.stop()
            shutil.rmtree(self.profile, ignore_errors=True)
