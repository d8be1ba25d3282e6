"""The Dockerfile and docker-compose.yml, checked without a container engine (these machines run
none): the files the Dockerfile copies exist, its base images are pinned, it sets a USER and a
HEALTHCHECK, the image's nginx configuration passes `nginx -t` with our module, and Debian's
docker-compose validates the compose file offline."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from t.integration.harness import MODULE, REPO, make_keys, nginx_t

DOCKERFILE = os.path.join(REPO, "Dockerfile")


def instructions(path):
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            whole = (pending + stripped).strip()
            pending = ""
            word, _, rest = whole.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        self.steps = instructions(DOCKERFILE)

    def test_base_images_are_pinned(self):
        stages, bases = set(), []
        for word, args in self.steps:
            if word == "FROM":
                image, *rest = args.split()
                if image not in stages:  # an image, not an earlier stage
                    bases.append(image)
                if len(rest) == 2 and rest[0].upper() == "AS":
                    stages.add(rest[1])
        self.assertGreaterEqual(len(bases), 2, "multi-stage: a build stage and a runtime stage")
        for image in bases:
            name, _, tag = image.partition(":")
            self.assertTrue(tag, "%s: no tag means latest" % image)
            self.assertNotIn("latest", tag, image)
            self.assertRegex(tag, r"^\d+\.\d+", "%s: a point release, not a moving name" % image)
        self.assertTrue(bases[-1].endswith("-slim"), "the runtime stage is slim: " + bases[-1])

    def test_runs_unprivileged_with_a_healthcheck(self):
        final = self.steps[max(i for i, (w, _) in enumerate(self.steps) if w == "FROM"):]
        users = [args for word, args in final if word == "USER"]
        self.assertTrue(users, "the runtime stage sets USER")
        self.assertNotIn(users[-1].split(":")[0], ("root", "0"))
        self.assertTrue([a for w, a in final if w == "HEALTHCHECK" and a.startswith(("CMD", "--"))])
        self.assertTrue([a for w, a in final if w == "CMD" and "daemon off" in a], "nginx in the foreground")

    def test_every_copied_file_exists(self):
        copies = [args for word, args in self.steps if word == "COPY" and not args.startswith("--from")]
        self.assertTrue(copies)
        for args in copies:
            sources = args.split()[:-1]
            for src in sources:
                self.assertTrue(os.path.exists(os.path.join(REPO, src)), "COPY %s: no such file in the repo" % src)

    def test_the_demo_stage_has_every_file_demo_sh_runs(self):
        with open(os.path.join(REPO, "scripts", "demo.sh")) as f:
            used = set(re.findall(r"\b((?:t|conf)/[\w/.-]*\w)", f.read()))
        stage, copied = None, []
        for word, args in self.steps:
            if word == "FROM":
                stage = args.split()[-1]
            elif word == "COPY" and stage == "demo" and not args.startswith("--from"):
                copied += args.split()[:-1]
        self.assertTrue(used)
        for path in used:
            self.assertTrue(any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied),
                            "demo.sh uses %s, which the demo stage does not copy" % path)

    def test_the_image_configuration_passes_nginx_t(self):
        # container/nginx.conf with its absolute paths pointed into a temp dir, and the module
        # built here instead of the package's: the same directives the image runs.
        with tempfile.TemporaryDirectory(prefix="sso-container-") as d:
            etc = os.path.join(d, "etc")
            os.mkdir(etc)
            make_keys(etc)
            for sub in ("run", "cache", "log"):
                os.mkdir(os.path.join(d, sub))
            with open(os.path.join(REPO, "container", "nginx-sso.conf")) as f:
                site = f.read().replace("/etc/nginx-sso/", etc + "/")
            site = re.sub(r"listen 8080;", "listen 127.0.0.1:1;", site)
            with open(os.path.join(etc, "nginx-sso.conf"), "w") as f:
                f.write(site)
            with open(os.path.join(REPO, "container", "nginx.conf")) as f:
                main = f.read()
            self.assertIn("include /etc/nginx/modules-enabled/*.conf;", main)
            main = main.replace("include /etc/nginx/modules-enabled/*.conf;", "load_module %s;" % MODULE)
            main = main.replace("/etc/nginx-sso/", etc + "/").replace("/run/nginx-sso/", d + "/run/")
            main = main.replace("/var/cache/nginx-sso/", d + "/cache/")
            main = main.replace("listen 127.0.0.1:8081;", "listen 127.0.0.1:2;")
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(main)
            r = nginx_t(d, conf)
            self.assertEqual(r.returncode, 0, r.stderr)


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import yaml
        compose = shutil.which("docker-compose") or "/usr/bin/docker-compose"
        r = subprocess.run([compose, "-f", os.path.join(REPO, "docker-compose.yml"), "config"],
                           capture_output=True, text=True, cwd=REPO, env=dict(os.environ, DEMO_BIND=""))
        if r.returncode != 0:
            raise AssertionError("docker-compose config: " + r.stderr)
        cls.services = yaml.safe_load(r.stdout)["services"]
        with open(os.path.join(REPO, "scripts", "demo.sh")) as f:
            cls.demo_sh = f.read()

    def test_the_demo_stack_and_a_second_node(self):
        self.assertEqual(set(self.services), {"setup", "redis", "directory", "upstream", "idp", "nginx", "nginx-2"})

    def test_each_service_runs_the_demo_scripts_command_for_its_part(self):
        # the parts demo.sh itself starts with DEMO_REDIS (its `parts` lines) and can run
        started = set()
        for line in re.findall(r"parts=\((.*)\)", self.demo_sh):
            started |= {p for p in line.replace('"${parts[@]}"', "").split()}
        runnable = set(re.findall(r"^    ([a-z0-9-]+(?: \| [a-z0-9-]+)*)\)", self.demo_sh, re.M))
        runnable = {p for alt in runnable for p in alt.split(" | ")}
        self.assertEqual(started, {"directory", "upstream", "nginx", "idp", "redis", "nginx-2"})
        for name, svc in self.services.items():
            with self.subTest(service=name):
                if name == "setup":
                    self.assertEqual(svc["command"], ["bash", "scripts/demo.sh", "setup"])
                    continue
                self.assertEqual(svc["command"], ["bash", "scripts/demo.sh", "run", name])
                self.assertIn(name, runnable)
        self.assertEqual(set(self.services) - {"setup"}, started)

    def test_one_network_namespace_and_the_same_settings(self):
        env = self.services["redis"]["environment"]
        for name, svc in self.services.items():
            with self.subTest(service=name):
                self.assertEqual(svc["environment"], env, "every part sees the same DEMO_* settings")
                if name != "redis":
                    self.assertEqual(svc["network_mode"], "service:redis")
                self.assertIn("demo:/demo:rw", svc["volumes"])
        published = {int(p["target"]) if isinstance(p, dict) else int(str(p).split(":")[-1].split("/")[0])
                     for p in self.services["redis"]["ports"]}
        self.assertEqual(published, {int(env["DEMO_PORT"]), int(env["DEMO_IDP_PORT"]), int(env["DEMO_PORT_2"])})

    def test_ports_are_published_on_loopback_by_default(self):
        with open(os.path.join(REPO, "docker-compose.yml")) as f:
            text = f.read()
        ports = re.findall(r'- "(\$\{DEMO_BIND:-([^}]*)\}:\d+:\d+)"', text)
        self.assertEqual(len(ports), 3, text)
        self.assertEqual({default for _, default in ports}, {"127.0.0.1"})


if __name__ == "__main__":
    unittest.main()
