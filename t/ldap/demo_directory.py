"""The demo's directory: a real slapd with the test users of t/ldap/, started until SIGTERM.

Writes the nginx configuration that points at it (an sso_ldap_directory block named "demo")
to --conf-out once the directory answers, so nginx starts after it.

    /usr/bin/python3 t/ldap/demo_directory.py --conf-out /tmp/nginx-sso-demo/ldap.conf
"""
import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from t.integration.ldap_server import Slapd  # noqa: E402

BLOCK = """sso_ldap_directory demo {
    url %(url)s;
    starttls on;
    ca_file %(ca)s;
    bind_dn "%(service_dn)s";
    bind_password "%(service_pw)s";
    base_dn "%(base)s";
    user_filter "(|(uid=%%u)(sAMAccountName=%%u))";
    name_attribute cn;
    group_attribute memberOf;
}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conf-out", required=True)
    args = ap.parse_args()
    slapd = Slapd().start()
    try:
        os.chmod(slapd.dir, 0o755)  # nginx's workers (nobody) read the CA file
        os.chmod(slapd.ca_file, 0o644)
        text = BLOCK % {"url": slapd.ldap_url, "ca": slapd.ca_file, "service_dn": slapd.service_dn,
                        "service_pw": slapd.service_password, "base": slapd.base_dn}
        tmp = args.conf_out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.conf_out)
        print("directory at %s (users: alice/alice-pw, bob/bob-pw, dscully/dana-pw)" % slapd.ldap_url, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    finally:
        slapd.stop()


if __name__ == "__main__":
    main()
