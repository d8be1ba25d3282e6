#!/bin/sh
# Generate the throw-away RSA-2048 key pairs used by the SAML tests:
#   idp.key/idp.crt     the mock IdP's signing key (published in its metadata)
#   rogue.key/rogue.crt a key the SP has never seen (signature-forgery tests)
#   sp.key/sp.crt       the SP's signing key
# Usage: make_keys.sh DIR
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p "$dir"

make_pair() {
    name=$1
    cn=$2
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -subj "/O=nginx-sso tests/CN=$cn" \
        -keyout "$dir/$name.key" -out "$dir/$name.crt" 2>/dev/null
}

make_pair idp "Mock IdP"
make_pair rogue "Rogue IdP"
make_pair sp "nginx-sso SP"
