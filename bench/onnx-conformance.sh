#!/usr/bin/env bash
# The ONNX conformance suite: builds ActSparse, then runs all 932 ONNX
# backend node tests (Debian's libonnx-testdata) through sparse-run
# MODEL.onnx --check-onnx (sparse-opt where that import fails), and writes
# the per-op table into docs/Conformance.md. About 40 s on 2 cores.
#
#   bash bench/onnx-conformance.sh                   the full suite
#   bash bench/onnx-conformance.sh --write-expected  also rewrite the list
#                                                    CI keeps passing
#   bash bench/onnx-conformance.sh --filter reduce   (runner options)
#   bash bench/onnx-conformance.sh --expect test/Conformance/expected-pass.txt
#                     every test CI expects to pass (CI runs a sample of
#                     each op's: test/Conformance/onnx-node-tests.test)
#
# Results per test (category and first error line) go to
# $ACTSPARSE_BENCH_DIR/onnx-conformance/results.tsv (default under /tmp).
# Exit status 1 when a test computes a wrong value or crashes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh"
out=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}/onnx-conformance
mkdir -p "$out"
args=(--tools "${ACTSPARSE_BUILD_DIR:-$root/build}/bin"
      --results "$out/results.tsv")
if [[ ${1:-} == --write-expected ]]; then
  shift
  args+=(--write-expected "$root/test/Conformance/expected-pass.txt")
fi
# The per-op table describes the whole suite, not a filtered part.
if [[ " $* " != *" --filter "* && " $* " != *" --expect "* ]]; then
  args+=(--doc "$root/docs/Conformance.md")
fi
exec python3 "$root/bench/onnx-conformance.py" "${args[@]}" "$@"
