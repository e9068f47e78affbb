#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# (lit + GoogleTest) under ctest. ctest's summary is the last thing printed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}

"$root/scripts/build.sh"
cd "$build"
exec ctest --output-on-failure -j "$(nproc)"
