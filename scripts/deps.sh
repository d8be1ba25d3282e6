#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need. Idempotent.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config nginx nginx-dev
  liblasso3-dev libxmlsec1-dev libxml2-dev libssl-dev libglib2.0-dev
  libgtest-dev libgmock-dev libldap-dev libcurl4-openssl-dev libhiredis-dev
  # JSON (sso_status) and the signed identity token (sso_jwt_*): jansson and libjwt on it
  libjwt-dev libjansson-dev
  # Argon2id password hashes of internal accounts (the users file)
  libargon2-dev
  # tests and demo: the mock IdP (python3-lasso), an IdP we did not write (pysaml2),
  # a browser for the end-to-end test
  python3 python3-lasso python3-pysaml2 xmlsec1 openssl chromium chromium-driver
  # password hashes for users files: the argon2 CLI and passlib (tests and docs use both)
  argon2 python3-passlib
  # a real directory for the LDAP tests: slapd, and ldapadd/ldapsearch to load and inspect it
  slapd ldap-utils
  # the shared session store of several nodes: a real Redis for the tests
  redis-server
  # benchmarks (bench/run.sh)
  wrk valgrind linux-perf
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Debian's nginx package would start a system nginx on port 80; the demo and tests run
  # their own, so keep the service from starting during installation.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
