#!/usr/bin/env bash
# The benchmark, in one command (Debian 12, as root):
#
#   bash bench/run.sh [options]
#
# Installs the packages (scripts/deps.sh: wrk, valgrind, nginx, ...), builds the module in
# release mode into build-release/, then runs bench/bench.py: every server on 127.0.0.1 free
# ports in temp dirs, stopped by PID at the end. Prints the results table and writes it to
# bench/RESULTS.md. Options go to bench.py (`/usr/bin/python3 bench/bench.py --help`), e.g.
# `--only gate,instructions` or `--results ''` to leave RESULTS.md alone. About 5 minutes on
# 2 cores. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
echo "Building the release module into build-release/ ..." >&2
build_log=$(mktemp /tmp/sso-bench-build.XXXXXX)
BUILD_DIR=build-release BUILD_TYPE=Release bash scripts/build.sh > "$build_log" 2>&1 \
  || { tail -50 "$build_log"; echo "(whole build log: $build_log)" >&2; exit 1; }
rm -f "$build_log"
# bench.py stops every process it started (by PID) when it ends, also on Ctrl-C or SIGTERM.
command="bash bench/run.sh"
for a in "$@"; do command+=" $(printf '%q' "$a")"; done
exec /usr/bin/python3 bench/bench.py --command "$command" "$@"
