#!/usr/bin/env bash
# Installs dependencies, then configures and builds ActSparse in build/
# (or $ACTSPARSE_BUILD_DIR; extra configure options in $ACTSPARSE_CMAKE_ARGS).
# Shared by the demo and test commands.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    ${ACTSPARSE_CMAKE_ARGS:-} >"$build.cmake.log" 2>&1 ||
    { cat "$build.cmake.log" >&2; exit 1; }
  rm -f "$build.cmake.log"
fi
echo "build: compiling in $build"
ninja -C "$build"
