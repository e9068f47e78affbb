#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and runs the shipped
# stories260K model end to end: its ONNX export -> sparse-opt (import, weight
# pack) -> sparse-run (JIT to native code, greedy story from BOS, speed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
out=$build/demo
"$root/scripts/build.sh"
mkdir -p "$out"
model="$root/test/Import/Inputs/llama-decode.onnx"
tokenizer="$root/models/stories260K/tok512.bin"

echo
echo "== sparse-opt: import stories260K (torch.onnx.export of the llama2.c checkpoint, KV-cache graph)"
( set -x; "$build/bin/sparse-opt" "$model" -o "$out/stories260K.mlir" )
echo "IR: $(grep -c ' = actsparse\.' "$out/stories260K.mlir") actsparse ops; $("$build/bin/sparse-run" --inspect-weights "$out/stories260K.weights" --values 0 | head -1)"

echo
echo "== sparse-run: JIT-compile for this CPU and tell a story (greedy, from BOS)"
( set -x; "$build/bin/sparse-run" "$out/stories260K.mlir" --tokenizer "$tokenizer" -n 256 )
