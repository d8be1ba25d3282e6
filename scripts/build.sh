#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default: build). SSO_SANITIZE=1 builds with ASan+UBSan;
# SSO_BUILD_TARGET builds one target only (the demo: ngx_http_sso_module).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
sanitize=${SSO_SANITIZE:-0}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DSSO_SANITIZE="$([ "$sanitize" = 1 ] && echo ON || echo OFF)" > "$build_dir.cmake.log" 2>&1 \
  || { cat "$build_dir.cmake.log"; exit 1; }
cmake --build "$build_dir" -j "$(nproc)" ${SSO_BUILD_TARGET:+--target "$SSO_BUILD_TARGET"}
