"""The documentation agrees with the code.

These tests read the sources and docs/ as text; they start no nginx.

What they check:

- every directive in the module's ngx_command_t table(s) (module/*.cpp) has a
  `### name` section in docs/directives.md, every `### sso*` section names a
  directive of the table, and every section is in the contents list at the top;
- every nginx variable the module adds (the names registered in the functions of
  module/ that call ngx_http_add_variable) has a `$name` entry under
  "Embedded Variables" (the prefix variable sso_attr_ as `$sso_attr_NAME`);
- the troubleshooting table of docs/quickstart.md names the refusal reasons the
  code logs. Reasons are taken from the calls that produce them: log_reason(),
  refuse(), refuse_basic() and decide_page() in module/, and invalid()/refuse()
  in the SAML Response checks (saml/service_provider.cpp, saml/response_guard.cpp,
  saml/assertion_decryptor.cpp), whose reasons are logged after
  "SAML response refused: ". Only the leading string literal of the reason
  argument is compared (the fixed text before the first value that is pasted in);
  a reason built entirely from a variable (a reason passed up from a lower layer)
  is not seen here. Reasons of the form "<something> refused: ..." (and
  "... not started:", "... not answered:", "access denied ...") are tested as a
  family: the table must name "<something> refused", not each variant.
  Informational lines that refuse nothing (a session ended, a user signed in, an
  import ran) are listed in NOT_REFUSALS and skipped. Not covered: reasons
  that ldap/, session/ and identity/ return to the module as values (directory
  errors, users-file and token errors), SamlError reasons of the metadata loaders
  (those are `nginx -t` errors, not request refusals), and the Redis connection
  log lines.
"""

import pathlib
import re
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "module"
DIRECTIVES_MD = ROOT / "docs" / "directives.md"
QUICKSTART_MD = ROOT / "docs" / "quickstart.md"

# The reason argument's position (0-based) in each reason-producing call.
MODULE_PRODUCERS = {"log_reason": 2, "refuse": 3, "refuse_basic": 3, "decide_page": 4}
SAML_PRODUCERS = {"invalid": 0, "refuse": 0}
SAML_CHECK_FILES = ("saml/service_provider.cpp", "saml/response_guard.cpp", "saml/assertion_decryptor.cpp")

FAMILY = re.compile(r"^([A-Za-z][\w -]*? (?:refused|not started|not answered|denied))(?::| for )")

# Logged reasons that do not refuse anything: what a session or a sign-in became.
NOT_REFUSALS = (
    "signed in \"",
    "session ended by logout",
    "session of ",
    " session(s) of ",
    "single logout finished",
    "identity of ",
    "sync now: ",
    " (further store failures are counted",
    # a bad return address is replaced, the request goes on
    "IdP-initiated login: RelayState is not a same-origin URL",
    "LDAP form: return_to is not a same-origin target; using",
    "logout: return_to is not a same-origin target; showing",
    "return address longer than the RelayState may carry",
)


def read(path):
    return pathlib.Path(path).read_text(encoding="utf-8")


def strip_comments(src):
    """C++ source without // and /* */ comments (string literals kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(src[i : j + 1])
            i = j + 1
        elif src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.find("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_arguments(src, start):
    """The top-level arguments of the call whose '(' is at src[start - 1]."""
    args, depth, i, begin = [], 0, start, start
    while i < len(src):
        c = src[i]
        if c == '"':
            i += 1
            while src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(src[begin:i].strip())
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append(src[begin:i].strip())
            begin = i + 1
        i += 1
    return args


LEADING_LITERAL = re.compile(r'^(?:std::string(?:_view)?\()?"((?:[^"\\]|\\.)*)"')


def unescape(literal):
    return literal.replace('\\"', '"').replace("\\\\", "\\")


def reasons(paths, producers):
    """(file, leading literal) of every reason argument that starts with a literal."""
    found = []
    call = re.compile(r"(?<![\w.>:])(" + "|".join(producers) + r")\(")
    for path in paths:
        src = strip_comments(read(path))
        for m in call.finditer(src):
            before = src[max(0, m.start() - 30) : m.start()]
            if re.search(r"(void|Error|AuthResult)\s+$", before):
                continue  # the definition, not a call
            args = call_arguments(src, m.end())
            index = producers[m.group(1)]
            if len(args) <= index:
                continue
            lit = LEADING_LITERAL.match(args[index])
            if lit:
                found.append((pathlib.Path(path).relative_to(ROOT).as_posix(), unescape(lit.group(1))))
    return found


def command_names():
    names = set()
    table = re.compile(r"ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command", re.S)
    for path in sorted(MODULE.glob("*.cpp")):
        for body in table.findall(strip_comments(read(path))):
            names.update(re.findall(r'\{\s*ngx_string\("(\w+)"\)', body))
    return names


def variable_names():
    """Names registered by the functions of module/ that call ngx_http_add_variable."""
    names, calls = set(), 0
    function = re.compile(r"\n[\w:<>*& ]+\([^;{}]*\)\s*noexcept\s*\{(.*?)\n\}", re.S)
    for path in sorted(MODULE.glob("*.cpp")):
        src = strip_comments(read(path))
        calls += src.count("ngx_http_add_variable(")
        for body in function.findall(src):
            if "ngx_http_add_variable(" in body:
                calls -= body.count("ngx_http_add_variable(")
                names.update(re.findall(r'"(sso_\w*)"', body))
    return names, calls


class DirectivesDocTest(unittest.TestCase):
    def setUp(self):
        self.text = read(DIRECTIVES_MD)
        self.sections = re.findall(r"^### (sso\w*)\s*$", self.text, re.M)
        head = self.text[: self.text.index("\n## ")]
        self.contents = re.findall(r"^\s*- \[(sso\w*)\]\(#(sso\w*)\)", head, re.M)
        self.commands = command_names()

    def test_the_sources_are_read(self):
        # a parser that finds nothing would make the tests below pass vacuously
        self.assertGreater(len(self.commands), 60)
        self.assertIn("sso", self.commands)
        self.assertIn("sso_idp_metadata_url", self.commands)

    def test_every_directive_has_a_section(self):
        missing = sorted(self.commands - set(self.sections))
        self.assertEqual(missing, [], "directives without a ### section in docs/directives.md")

    def test_every_section_names_a_directive(self):
        unknown = sorted(set(self.sections) - self.commands)
        self.assertEqual(unknown, [], "### sections in docs/directives.md that name no directive")

    def test_sections_are_not_repeated(self):
        repeated = sorted({s for s in self.sections if self.sections.count(s) > 1})
        self.assertEqual(repeated, [])

    def test_every_section_is_in_the_contents_list(self):
        for text, anchor in self.contents:
            self.assertEqual(text, anchor, "contents entry links elsewhere than it says")
        missing = sorted(set(self.sections) - {t for t, _ in self.contents})
        self.assertEqual(missing, [], "sections missing from the contents list of docs/directives.md")
        stale = sorted({t for t, _ in self.contents} - set(self.sections))
        self.assertEqual(stale, [], "contents entries without a section")


class VariablesDocTest(unittest.TestCase):
    def test_every_variable_is_documented(self):
        names, unparsed_calls = variable_names()
        self.assertEqual(unparsed_calls, 0, "an ngx_http_add_variable call outside the functions this test reads")
        self.assertGreaterEqual(len(names), 9)
        text = read(DIRECTIVES_MD)
        section = text[text.index("\n## Embedded Variables") : text.index("\n## Identity headers")]
        entries = set(re.findall(r"`\$(sso_\w+)`", section))
        missing = []
        for name in sorted(names):
            documented = name + "NAME" if name.endswith("_") else name
            if documented not in entries:
                missing.append(name)
        self.assertEqual(missing, [], "variables without an entry under Embedded Variables")


class TroubleshootingTableTest(unittest.TestCase):
    def setUp(self):
        text = read(QUICKSTART_MD)
        start = text.index("\n## Troubleshooting")
        end = text.find("\n## ", start + 1)
        self.table = text[start : end if end > 0 else len(text)]

    def missing(self, found):
        missing = set()
        for path, literal in found:
            if any(literal.startswith(p) for p in NOT_REFUSALS):
                continue
            family = FAMILY.match(literal)
            key = family.group(1) if family else literal.strip()
            if key not in self.table:
                missing.add(f"{key!r} ({path})")
        return sorted(missing)

    def test_module_refusals_are_in_the_table(self):
        found = reasons(sorted(MODULE.glob("*.cpp")), MODULE_PRODUCERS)
        self.assertGreater(len(found), 60)
        self.assertEqual(self.missing(found), [], "refusal reasons missing from the troubleshooting table")

    def test_saml_response_checks_are_in_the_table(self):
        found = reasons([ROOT / f for f in SAML_CHECK_FILES], SAML_PRODUCERS)
        self.assertGreater(len(found), 40)
        self.assertEqual(self.missing(found), [], "SAML Response checks missing from the troubleshooting table")


if __name__ == "__main__":
    unittest.main()
