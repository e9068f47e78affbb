#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# (lit + GoogleTest) under ctest. ctest's summary is the last thing printed.
#
#   bash scripts/test.sh              the suite (CI runs this)
#   bash scripts/test.sh --sanitize   the same suite built with ASan and UBSan
#                                     in build-sanitize/ (docs/Reliability.md)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ ${1:-} == --sanitize ]]; then
  export ACTSPARSE_BUILD_DIR=${ACTSPARSE_BUILD_DIR:-$root/build-sanitize}
  export ACTSPARSE_CMAKE_ARGS="-DACTSPARSE_SANITIZE=ON"
  # allocator_may_return_null: the hostile-allocation tests need malloc to
  # fail as it does without ASan (the runtime turns that into an error).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [[ $# -gt 0 ]]; then
  echo "test.sh: unknown option $1 (only --sanitize)" >&2
  exit 2
fi
build=${ACTSPARSE_BUILD_DIR:-$root/build}

"$root/scripts/build.sh"
cd "$build"
exec ctest --output-on-failure -j "$(nproc)"
