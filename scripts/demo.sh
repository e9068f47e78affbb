#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and runs the main job.
# Until code generation and the runtime land, the main job is the compiler
# front half on the shipped stories260K model: import its ONNX export (weights
# into a pack), name the activations, and show the result.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
out=$build/demo
"$root/scripts/build.sh"
mkdir -p "$out"
model="$root/test/Import/Inputs/llama-full.onnx"

echo
echo "== sparse-opt: import stories260K (torch.onnx.export of the llama2.c checkpoint)"
( set -x; "$build/bin/sparse-opt" "$model" -o "$out/stories260K.mlir" )
echo "IR: $(grep -c ' = actsparse\.' "$out/stories260K.mlir") actsparse ops; weight pack:"
"$build/bin/sparse-run" --inspect-weights "$out/stories260K.weights" --values 0 | head -1

echo
echo "== sparse-opt --actsparse-graph-cleanup: exporter arithmetic becomes named activations"
( set -x; "$build/bin/sparse-opt" "$out/stories260K.mlir" --actsparse-graph-cleanup -o "$out/stories260K.clean.mlir" )
grep -oE 'actsparse\.(silu|gelu|relu)' "$out/stories260K.clean.mlir" | sort | uniq -c
echo "IR: $(grep -c ' = actsparse\.' "$out/stories260K.clean.mlir") actsparse ops after clean-up"

echo
echo "== layer 0 FFN, as imported and cleaned up"
grep -m1 -B1 -A3 'actsparse.silu' "$out/stories260K.clean.mlir"

echo
echo "sparse-run cannot execute models yet (code generation is the next step)."
