#!/usr/bin/env bash
# ctest `install-consumer`: installs the build tree into a fresh prefix, then
# configures, builds and runs an out-of-tree consumer (consumer/) that finds
# ActSparse with find_package(ActSparse CONFIG) and nothing else. The
# installed tools and the mlir-opt plugin are exercised from the prefix too.
#
#   check-install.sh BUILD_DIR WORK_DIR FILECHECK MLIR_OPT [SANITIZE]
set -euo pipefail
build=$1 work=$2 filecheck=$3 mlir_opt=$4 sanitize=${5:-OFF}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
input=$here/consumer/ffn.mlir

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
for f in include/actsparse/Dialect/ActSparseOps.h.inc \
         include/actsparse/Transforms/Passes.h.inc \
         include/actsparse/runtime/WeightPack.h \
         lib/cmake/ActSparse/ActSparseConfig.cmake \
         lib/libActSparseDialect.a lib/libActSparseRuntime.a \
         lib/ActSparsePlugin.so bin/sparse-opt bin/sparse-run; do
  [[ -e $prefix/$f ]] || { echo "not installed: $f" >&2; exit 1; }
done
# The installed package must not point back into the build or source tree.
if grep -rl -e "$build" -e "$(cd "$here/../.." && pwd)/include" \
     "$prefix/lib/cmake/ActSparse"; then
  echo "the installed CMake package refers to the build or source tree" >&2
  exit 1
fi

echo "== dependency direction (docs/Rationale.md, Libraries)"
python3 "$here/check-deps.py" "$prefix/lib/cmake/ActSparse/ActSparseTargets.cmake"
src=$(cd "$here/../.." && pwd)
if grep -rn '#include "actsparse/Import/' "$src/lib/Dialect" \
     "$src/lib/Transforms" "$src/lib/Conversion" "$src/lib/Execution" \
     "$src/include/actsparse/Dialect" "$src/include/actsparse/Transforms" \
     "$src/include/actsparse/Conversion" "$src/include/actsparse/Execution"; then
  echo "only the tools include the importer" >&2
  exit 1
fi

echo "== configure and build the consumer against $prefix"
cmake -S "$here/consumer" -B "$work/consumer" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
      > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" 2>&1 ||
  { cat "$work/build.log"; exit 1; }

echo "== run the consumer"
"$work/consumer/actsparse-consumer" "$input" | "$filecheck" "$input"

echo "== installed sparse-opt and the plugin in mlir-opt"
"$prefix/bin/sparse-opt" "$input" --actsparse-fuse-ffn --actsparse-relufy |
  "$filecheck" "$input"
plugin=$prefix/lib/ActSparsePlugin.so
if [[ $sanitize == ON ]]; then
  # An ASan-instrumented plugin cannot load into the uninstrumented mlir-opt.
  echo "(mlir-opt plugin skipped: sanitized build)"
else
  "$mlir_opt" --load-dialect-plugin="$plugin" --load-pass-plugin="$plugin" \
    "$input" --pass-pipeline='builtin.module(actsparse-fuse-ffn,actsparse-relufy)' |
    "$filecheck" "$input"
fi
"$prefix/bin/sparse-run" --help > /dev/null
echo "installed package OK"
