#!/usr/bin/env bash
# The one list of the Debian 12 packages that building, testing, the demo and the benchmarks
# need, and their installer. Idempotent.
#   bash scripts/deps.sh                  everything: the build set and the tools set (what
#                                         scripts/test.sh, scripts/demo.sh and bench/run.sh use)
#   bash scripts/deps.sh build            only what building the module needs (docs/quickstart.md)
#   bash scripts/deps.sh package          that and what building the Debian package needs
#   bash scripts/deps.sh tools            what the tests, the demo and the benchmarks run
#   bash scripts/deps.sh --list [SET...]  prints the packages, one a line, installs nothing
# t/integration/test_dependencies.py checks that every Python module the tests, the demo and
# the benchmarks import, and every program they start, comes from one of these packages or
# from a package they depend on.
set -euo pipefail

build=(
  cmake g++ make pkg-config nginx nginx-dev
  # SAML: Lasso, and the XML and signature libraries under it
  liblasso3-dev libxmlsec1-dev libxml2-dev libssl-dev libglib2.0-dev
  # directories, metadata URLs, the shared session store
  libldap-dev libcurl4-openssl-dev libhiredis-dev
  # JSON (sso_status) and the signed identity token (sso_jwt_*): jansson and libjwt on it
  libjwt-dev libjansson-dev
  # Argon2id password hashes of internal accounts (the users file)
  libargon2-dev
  # the unit tests (GoogleTest); -DSSO_TESTS=OFF builds without them
  libgtest-dev libgmock-dev
)
package=(
  # the Debian package (scripts/build-deb.sh): dpkg-buildpackage, its own build set, and
  # debhelper (dh_nginx comes with nginx-dev, in the build set)
  build-essential debhelper dpkg-dev
)
tools=(
  # the tests, the demo and the benchmarks:
  # the mock IdP (python3-lasso), an IdP we did not write (pysaml2), keys and signatures
  python3 python3-lasso python3-pysaml2 xmlsec1 openssl
  # keys and tokens made in the tests themselves (test_jwt.py)
  python3-cryptography
  # the status document is checked against docs/status-schema.json
  python3-jsonschema
  # a browser for the end-to-end tests
  chromium chromium-driver
  # password hashes for users files: the argon2 CLI and passlib (tests and docs use both)
  argon2 python3-passlib
  # a real directory for the LDAP tests and the demo: slapd, and ldapadd/ldapsearch
  slapd ldap-utils
  # the shared session store of several nodes: a real Redis
  redis-server
  # test_debian_package checks the package it builds with lintian; test_container validates
  # docker-compose.yml offline with Debian's docker-compose (no container engine runs here)
  lintian docker-compose
  # bench/run.sh: load, instruction counts and profiles; git names the commit measured
  wrk valgrind linux-perf git
)

list=0
if [ "${1:-}" = --list ]; then list=1; shift; fi
sets=("$@")
((${#sets[@]})) || sets=(build tools)
packages=()
for s in "${sets[@]}"; do
  case "$s" in
    build) packages+=("${build[@]}") ;;
    package) packages+=("${build[@]}" "${package[@]}") ;;
    tools) packages+=("${tools[@]}" "${package[@]}") ;;
    *) echo "deps.sh: unknown set \"$s\" (build, package, tools)" >&2; exit 2 ;;
  esac
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
if ((list)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

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
