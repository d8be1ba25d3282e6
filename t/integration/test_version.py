"""The version: written once (project(VERSION) in CMakeLists.txt), named by the top entry of
CHANGELOG.md, and reported by the module in one line at load (here), in sso_status
(test_status.py) and as sso_build_info (test_metrics.py)."""
import os
import re
import ssl
import subprocess
import unittest

from t.integration.harness import REPO, StackTest

VERSION_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$")


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"^project\(\w+ VERSION (\d+\.\d+\.\d+)\b", f.read(), re.M)
    assert m, "CMakeLists.txt has no project(... VERSION x.y.z)"
    return m.group(1)


def changelog_problem(changelog, version):
    """Why the changelog's top version entry does not name `version` (None when it does). An
    "## [Unreleased]" section may come first: changes not yet in any version."""
    for line in changelog.splitlines():
        if not line.startswith("## "):
            continue
        if line == "## [Unreleased]":
            continue
        m = VERSION_HEADING.match(line)
        if not m:
            return "heading %r is not \"## [x.y.z] - YYYY-MM-DD\" or \"## [x.y.z] - Unreleased\"" % line
        if m.group(1) != version:
            return "the top entry is %s but CMakeLists.txt says %s" % (m.group(1), version)
        return None
    return "no \"## [x.y.z]\" entry"


def pkg_version(module):
    return subprocess.run(["pkg-config", "--modversion", module], check=True, capture_output=True,
                          text=True).stdout.strip()


class ChangelogTest(unittest.TestCase):
    def test_top_entry_names_the_cmake_version(self):
        with open(os.path.join(REPO, "CHANGELOG.md")) as f:
            changelog = f.read()
        self.assertIsNone(changelog_problem(changelog, project_version()))

    def test_a_changelog_behind_the_version_is_named(self):
        # The check itself: a bump in CMakeLists.txt without its entry, or a malformed heading.
        text = "# Changelog\n\n## [Unreleased]\n\n## [0.9.0] - 2026-12-02\n\n- first\n"
        self.assertIsNone(changelog_problem(text, "0.9.0"))
        self.assertEqual(changelog_problem(text, "0.10.0"), "the top entry is 0.9.0 but CMakeLists.txt says 0.10.0")
        self.assertIn("is not", changelog_problem("## 0.9.0\n", "0.9.0"))
        self.assertEqual(changelog_problem("# Changelog\n", "0.9.0"), "no \"## [x.y.z]\" entry")


class LoadLineTest(StackTest):
    """One notice line per load, from the master (not one per worker)."""

    def expected(self):
        openssl = re.match(r"OpenSSL (\S+)", ssl.OPENSSL_VERSION).group(1)  # the same libssl3 as nginx's
        return "sso: ngx_http_sso_module %s (Lasso %s, xmlsec1 %s, libxml2 %s, OpenSSL %s)" % (
            project_version(), pkg_version("lasso"), pkg_version("xmlsec1"), pkg_version("libxml-2.0"), openssl)

    def load_lines(self, log):
        return [l for l in log.splitlines() if "sso: ngx_http_sso_module " in l]

    def test_start_and_reload_each_log_the_version_once(self):
        s = self.stack
        lines = self.load_lines(s.error_log())
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("[notice]", lines[0])
        self.assertTrue(lines[0].endswith(self.expected()), lines[0])
        before = len(s.error_log())
        s.reload(wait_for_old_workers=True)
        lines = self.load_lines(s.error_log()[before:])
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].endswith(self.expected()), lines[0])


if __name__ == "__main__":
    unittest.main()
