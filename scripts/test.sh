#!/usr/bin/env bash
# Everything the test suite needs, then the whole suite: unit tests (GoogleTest) and the
# integration tests (real nginx + our module, mock IdP, pysaml2 IdP, headless Chromium),
# first in a normal build, then in an AddressSanitizer + UBSan build of the same suite.
# SSO_TEST_SANITIZE=0 skips the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

echo "== normal build"
BUILD_DIR=build bash scripts/build.sh
(cd build && ctest --output-on-failure -j 2)

if [ "${SSO_TEST_SANITIZE:-1}" = 1 ]; then
  echo "== AddressSanitizer + UBSan build"
  BUILD_DIR=build-asan SSO_SANITIZE=1 bash scripts/build.sh
  # nginx itself is not instrumented: the ASan runtime must be loaded before our module.
  asan_runtime=$(g++ -print-file-name=libasan.so)
  # Leak checking is on for our own test binaries (the harness turns it off for nginx, whose
  # pools are freed by process exit); t/lsan.supp names the two library leaks we accept.
  # Full unwinding, so that suppressions match whole stacks.
  (cd build-asan && NGX_SSO_PRELOAD="$asan_runtime" \
    ASAN_OPTIONS=abort_on_error=1:fast_unwind_on_malloc=0 \
    LSAN_OPTIONS="suppressions=$PWD/../t/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j 2)
fi
