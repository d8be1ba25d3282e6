"""What the tests, the demo and the benchmarks need from the machine, and whether
scripts/deps.sh installs it.

A fresh Debian 12 machine has its base system and what scripts/deps.sh installs (with the
packages those depend on), nothing else. This module finds every Python module imported under
t/, bench/ and scripts/, and every program those files and the shell scripts start, resolves
each to the file this machine would use, asks dpkg which package owns that file, and reports
each one whose package a fresh machine would not have.
"""
import ast
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNED = ("t", "bench", "scripts", ".ci")
# What debootstrap's minbase variant installs besides the Essential and required packages.
BASE_EXTRA = {"apt"}
SHELL_WORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
               "in", "function", "select", "time", "exec", "command", "builtin", "local", "export",
               "declare", "readonly", "return", "exit", "set", "shift", "trap", "wait", "cd", "echo",
               "printf", "read", "eval", "source", "true", "false", "test", "[", "[[", "!", "{", "}",
               "mapfile", "kill", "unset", "break", "continue", "type", "hash", "ulimit", "umask"}
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# A fresh machine's search path: a program is looked up as the scripts would find it there, not
# through this machine's own additions (a pyenv shim, a local bin directory).
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Named like programs, but written, not started: scripts/deps.sh writes policy-rc.d itself.
NOT_STARTED = {"/usr/sbin/policy-rc.d"}


def which(name):
    return shutil.which(name, path=FRESH_PATH)


def source_files(suffixes):
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(REPO, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "build")) and d != "node_modules"]
            for name in sorted(filenames):
                if name.endswith(suffixes):
                    yield os.path.join(dirpath, name)


def relative(path):
    return os.path.relpath(path, REPO)


# --- what is used -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def python_imports():
    """{top-level module name: first file that imports it}, without the standard library and
    the repository's own modules."""
    own = {os.path.splitext(n)[0] for n in os.listdir(REPO)}
    for top in SCANNED + ("t/integration", "t/mockidp", "t/interop", "t/echo", "t/ldap"):
        d = os.path.join(REPO, top)
        if os.path.isdir(d):
            own.update(os.path.splitext(n)[0] for n in os.listdir(d))
    found = {}
    for path in source_files((".py",)):
        with open(path, encoding="utf-8", errors="replace") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, relative(path))
    return found


def _command_words(text):
    """Program names at command position in a shell script: the first word of each simple
    command, after assignments and a leading exec/command/time."""
    words = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        for part in re.split(r"\|\||&&|[;|&(]|\$\(|`|\b(?:then|do|else|elif)\b", line):
            tokens = part.split()
            while tokens and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]) or tokens[0] in ("exec", "command", "time", "!", "{")):
                tokens.pop(0)
            if tokens:
                words.append(tokens[0].strip("\"'"))
    return words


def _literal_programs(strings):
    """Programs named in string literals: absolute paths of executables anywhere in them, and the
    first word of a literal that reads like a command line ("openssl req -x509 ...")."""
    found = []
    for s in strings:
        found += re.findall(r"(?<![\w./-])(/(?:usr/)?s?bin/[A-Za-z0-9._+-]+)", s)
        m = re.match(r"^([a-z0-9][a-z0-9._+-]*) -", s)
        if m:
            found.append(m.group(1))
    return found


@functools.lru_cache(maxsize=None)
def started_programs():
    """{program as named: first file that names it}."""
    found = {}

    def add(name, path):
        if name in NOT_STARTED or name in SHELL_WORDS:
            return
        if re.match(r"^/(?:usr/(?:local/)?)?s?bin/[^/]+$", name) or (WORD.match(name) and which(name)):
            found.setdefault(name, relative(path))

    for path in source_files((".py",)):
        with open(path, encoding="utf-8", errors="replace") as f:
            tree = ast.parse(f.read(), path)
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        for name in _literal_programs(strings):
            add(name, path)
        for node in ast.walk(tree):
            # an argv literal (["openssl", "req", ...]) and a program looked up or passed by name
            # (shutil.which("wrk"), slapd.client("ldapadd", ...))
            first = None
            if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
                first = node.elts[0]
            elif isinstance(node, ast.Call) and node.args:
                first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                add(first.value, path)
    for path in list(source_files((".sh",))) + [p for p in [os.path.join(REPO, ".ci", "run")] if os.path.exists(p)]:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for word in _command_words(text) + _literal_programs([text]):
            add(word, path)
    for path in source_files((".cpp", ".hpp")):
        with open(path, encoding="utf-8", errors="replace") as f:
            strings = re.findall(r'"((?:[^"\\\n]|\\.)*)"', f.read())
        for name in _literal_programs(strings):
            add(name, path)
    return found


# --- where it comes from ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def owner(path):
    """The Debian package that installed path ('' when none did), trying the paths that the
    merged /usr and alternatives symlinks make equivalent."""
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        if p.startswith("/usr/"):
            candidates.append(p[4:])
        elif p.startswith(("/bin/", "/sbin/", "/lib")):
            candidates.append("/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            pkgs, _, file = line.partition(": ")
            if file.strip() == p and not pkgs.startswith("diversion by"):
                return pkgs.split(",")[0].split(":")[0].strip()
    return ""


def module_file(name):
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.origin not in (None, "namespace", "built-in", "frozen"):
        return spec.origin
    return next(iter(spec.submodule_search_locations or []), None)


def deps_packages(sets=()):
    out = subprocess.run(["bash", os.path.join(REPO, "scripts", "deps.sh"), "--list", *sets],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@functools.lru_cache(maxsize=None)
def installed_packages():
    """{package: (essential_or_required, provides, [[alternatives] of Depends and Pre-Depends])}"""
    fmt = "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Provides}\t${Pre-Depends}\t${Depends}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True).stdout
    db = {}
    for line in out.splitlines():
        pkg, status, essential, priority, provides, predepends, depends = (line.split("\t") + [""] * 7)[:7]
        if not status.startswith("ii"):
            continue
        groups = [[re.split(r"[\s(:]", alt.strip())[0] for alt in group.split("|")]
                  for group in (predepends + "," + depends).split(",") if group.strip()]
        provided = [re.split(r"[\s(]", p.strip())[0] for p in provides.split(",") if p.strip()]
        db[pkg] = (essential == "yes" or priority == "required", provided, groups)
    return db


def closure(roots, db):
    """The packages a fresh machine has: the base system and roots, with what they depend on
    (for each dependency, the alternative that is installed here)."""
    providers = {}
    for pkg, (_, provided, _) in db.items():
        for v in provided:
            providers.setdefault(v, []).append(pkg)
    todo = [p for p, (base, _, _) in db.items() if base] + sorted(BASE_EXTRA) + sorted(roots)
    have = set()
    while todo:
        pkg = todo.pop()
        if pkg in have:
            continue
        have.add(pkg)
        for group in db.get(pkg, (False, [], []))[2]:
            for alt in group:
                chosen = [alt] if alt in db else providers.get(alt, [])
                if chosen:
                    todo.extend(chosen)
                    break
    return have


def problems(packages=None):
    """One line per import or program that a fresh machine with packages (default: everything
    scripts/deps.sh lists) would not have, naming it and the package to add."""
    packages = deps_packages() if packages is None else set(packages)
    db = installed_packages()
    have = closure(packages, db)
    lines = []
    def judge(what, path):
        # what: "Python module NAME (imported by FILE)" or "program NAME (started by FILE)"
        pkg = owner(path)
        if not pkg:
            lines.append("%s is %s, which no Debian package installed (installed by hand?): install it "
                         "from scripts/deps.sh" % (what, path))
        elif pkg not in have:
            lines.append("%s comes from the package %s, which scripts/deps.sh does not install: add %s to "
                         "scripts/deps.sh" % (what, pkg, pkg))

    for name, where in sorted(python_imports().items()):
        what = "Python module %s (imported by %s)" % (name, where)
        path = module_file(name)
        if path:
            judge(what, path)
        else:
            lines.append("%s is not importable by %s: add its Debian package (python3-%s?) to scripts/deps.sh"
                         % (what, sys.executable, name.lower()))
    for name, where in sorted(started_programs().items()):
        what = "program %s (started by %s)" % (name, where)
        path = name if name.startswith("/") else which(name)
        if path and os.path.exists(path):
            judge(what, path)
        else:
            lines.append("%s is not on this machine: add its Debian package to scripts/deps.sh" % what)
    return lines


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "every import and program comes from scripts/deps.sh")
    sys.exit(1 if found else 0)
