"""A fresh Debian 12 machine has only what scripts/deps.sh installs: every Python module the
tests, the demo and the benchmarks import, every program they start and every library the build
needs must come from a package it lists (or one those depend on)."""
import os
import re
import subprocess
import unittest

from t.integration import dependencies as deps

REPO = deps.REPO


class DepsScriptTest(unittest.TestCase):
    def test_every_import_and_program_comes_from_deps_sh(self):
        found = deps.problems()
        self.assertEqual(found, [], "\n" + "\n".join(found))

    def test_a_package_missing_from_deps_sh_is_named(self):
        # The check itself: without python3-jsonschema (the package a fresh machine once lacked)
        # or redis-server, it names the import or the program and the package to add.
        # (docker-compose depends on python3-jsonschema, so it goes too.)
        listed = deps.deps_packages()
        found = deps.problems(listed - {"python3-jsonschema", "docker-compose"})
        self.assertTrue(any(l.startswith("Python module jsonschema ") and "add python3-jsonschema" in l for l in found),
                        found)
        found = deps.problems(listed - {"redis-server"})
        self.assertTrue(any(l.startswith("program redis-server ") and "add redis-server" in l for l in found), found)

    def test_the_build_set_has_every_library_cmake_requires(self):
        # `bash scripts/deps.sh build` (what docs/quickstart.md tells an administrator to run)
        # must be enough for CMakeLists.txt's pkg-config checks.
        with open(os.path.join(REPO, "CMakeLists.txt")) as f:
            cmake = f.read()
        modules = []
        for args in re.findall(r"pkg_check_modules\(([^)]*)\)", cmake):
            words = args.split()[1:]
            modules += [w for w in words if w not in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL")]
        self.assertIn("lasso", modules)
        have = deps.closure(deps.deps_packages(["build"]), deps.installed_packages())
        for module in modules:
            pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", module],
                                   capture_output=True, text=True).stdout.strip()
            self.assertTrue(pcdir, "pkg-config does not know %s, which CMakeLists.txt requires" % module)
            pkg = deps.owner(os.path.join(pcdir, module + ".pc"))
            self.assertIn(pkg, have, "CMakeLists.txt requires %s (package %s), which `scripts/deps.sh build` "
                          "does not install: add %s to its build set" % (module, pkg, pkg))

    def test_the_docs_install_packages_through_deps_sh(self):
        # One list: a document that names packages to install by hand drifts from deps.sh.
        # Installing our own .deb (`apt-get install ./dist/….deb`) names a file, not packages.
        for top in ("docs", "README.md", "bench/README.md"):
            path = os.path.join(REPO, top)
            files = [os.path.join(path, n) for n in os.listdir(path)] if os.path.isdir(path) else [path]
            for file in files:
                if not file.endswith(".md"):
                    continue
                with open(file) as f:
                    text = f.read()
                self.assertNotRegex(text, r"apt(-get)? install(?! +(-y +)?\./\S+\.deb\b)", "%s installs packages by hand; use "
                                    "`bash scripts/deps.sh build` (or plain deps.sh)" % os.path.relpath(file, REPO))
        with open(os.path.join(REPO, "docs", "quickstart.md")) as f:
            self.assertIn("bash scripts/deps.sh build", f.read())


if __name__ == "__main__":
    unittest.main()
