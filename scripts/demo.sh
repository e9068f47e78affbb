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

echo
echo "== make it sparse: fuse the FFN blocks, swap SiLU for ReLU, calibrate a"
echo "   per-layer threshold for 70 % zero neurons and refit the down projections"
echo "   (calibration tokens: the test suite's two stories sampled from the model)"
( cd "$out" && set -x && "$build/bin/sparse-opt" stories260K.mlir --actsparse-fuse-ffn \
    --actsparse-relufy=mode=relu \
    --actsparse-calibrate="tokens=$root/test/Transforms/Inputs/stories-calibration.txt target-sparsity=0.7 repair=true output-pack=stories260K-sparse.weights" \
    -o stories260K-sparse.mlir 2>&1 | grep -v '^calibrate:   ' )

echo
echo "== sparse-run: the sparse model's story, and how many FFN neurons were 0"
( set -x; "$build/bin/sparse-run" "$out/stories260K-sparse.mlir" --tokenizer "$tokenizer" -n 128 )

echo
echo "== the other way to 60-70 %: keep SiLU and zero the neurons |silu(g) * u|"
echo "   that contribute least (a threshold on the neuron, no repair needed)"
( cd "$out" && set -x && "$build/bin/sparse-opt" stories260K.mlir --actsparse-fuse-ffn \
    --actsparse-calibrate="tokens=$root/test/Transforms/Inputs/stories-calibration.txt target-sparsity=0.6 threshold-on=neuron quiet=true" \
    -o stories260K-neuron60.mlir )

echo
echo "== what each costs: perplexity on hand-written text (bench/sparsity/eval.txt)"
for m in stories260K stories260K-sparse stories260K-neuron60; do
  ppl=$("$build/bin/sparse-run" "$out/$m.mlir" --tokenizer "$tokenizer" \
          --perplexity "$root/bench/sparsity/eval.txt" 2> "$out/$m.stats")
  # The unfused original has no FFN statistics: nothing in it is zero.
  sparsity=$(grep -o 'ffn sparsity: [0-9.]*%' "$out/$m.stats" || echo 'ffn sparsity: 0%')
  printf '%-22s %s, %s\n' "$m:" "$ppl" "$sparsity"
done
