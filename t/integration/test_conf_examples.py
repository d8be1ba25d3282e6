"""Every configuration in conf/ is loaded by the stock nginx with our module (nginx -t).

Paths in the examples are rewritten to a temp dir holding real keys and IdP metadata, so the
test checks the directives and their values exactly as the examples write them.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from t.integration.harness import MODULE, MOCK_IDP, PYTHON, REPO, make_keys, nginx_t


class ConfExamplesTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sso-conf-")
        make_keys(self.dir)
        for name in ("tls.key", "tls.crt"):
            shutil.copy(os.path.join(self.dir, "sp" + name[3:]), os.path.join(self.dir, name))
        md = subprocess.run([PYTHON, MOCK_IDP, "metadata", "--entity-id", "https://idp.example/md",
                             "--base-url", "https://idp.example", "--cert", os.path.join(self.dir, "idp.crt")],
                            check=True, capture_output=True).stdout
        with open(os.path.join(self.dir, "idp-metadata.xml"), "wb") as f:
            f.write(md)
        # what scripts/demo.sh has t/ldap/demo_directory.py write for the demo's include
        with open(os.path.join(self.dir, "ldap.conf"), "w") as f:
            f.write('sso_ldap_directory demo { url ldap://127.0.0.1:1; starttls on; base_dn "dc=example,dc=test"; }\n')

        # where the demo keeps its sessions (empty: shared memory)
        open(os.path.join(self.dir, "store.conf"), "w").close()
        # the demo's identity token key, made by scripts/demo.sh
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                        os.path.join(self.dir, "jwt.key")], check=True, capture_output=True)
        # the internal accounts of conf/sources.conf
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write('scan-robot@example.org user=scanbot name="Scan Robot" groups=devices\n')

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def nginx_t(self, text):
        d = self.dir
        for old, new in (("@MODULE@", MODULE), ("@DIR@", d), ("@PORT@", "1"), ("@HOST@", "127.0.0.1"), ("@LISTEN@", "127.0.0.1:1"), ("@RUN@", d), ("@UPSTREAM_PORT@", "2"),
                         ("/usr/lib/nginx/modules/ngx_http_sso_module.so", MODULE),
                         ("/etc/nginx/sso", d), ("/var/log/nginx", d)):
            text = text.replace(old, new)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        # keep nginx -t away from /run/nginx.pid
        return nginx_t(d, conf, [] if "\npid " in text else ["-g", "pid %s/nginx.pid;" % d])

    def test_every_example_loads(self):
        examples = sorted(glob.glob(os.path.join(REPO, "conf", "*.conf")))
        self.assertGreaterEqual(len(examples), 2)
        for path in examples:
            with self.subTest(example=os.path.basename(path)):
                with open(path) as f:
                    text = f.read()
                result = self.nginx_t(text)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn("test is successful", result.stderr)


if __name__ == "__main__":
    unittest.main()
