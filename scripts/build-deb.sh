#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-http-sso from this tree (debian/, debhelper and
# dh_nginx) and writes the .deb into OUT_DIR (default: dist/). The build runs in a copy of the
# tracked files, so the working tree gets no build leftovers.
#   bash scripts/deps.sh && bash scripts/build-deb.sh
#   apt-get install ./dist/libnginx-mod-http-sso_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${OUT_DIR:-dist}" && cd "${OUT_DIR:-dist}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/nginx-sso"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/nginx-sso"
else  # a source tree without its .git (a container build context): everything but build output
  tar -c --exclude='./build*' --exclude=./dist --exclude='__pycache__' . | tar -x -C "$work/nginx-sso"
fi
(cd "$work/nginx-sso" && dpkg-buildpackage -us -uc -b -j"$(nproc)")
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/*.deb
