#!/usr/bin/env bash
# Perplexity change of each quantized format against f32, ActSparse and
# llama.cpp measured the same way on the same text and weights:
#   text       five licence texts of base-files (/usr/share/common-licenses:
#              GPL-2, MPL-2.0, Apache-2.0, GFDL-1.3, LGPL-2.1; 95,661
#              characters, about 21,000 tokens), or the first CHARS
#              characters of them
#   weights    SmolLM2-135M as exported (the Q4_1 GGUF dequantized to
#              f32); llama.cpp runs an f32 GGUF of the same weights and
#              Q8_0 / Q4_0 / Q4_1 / F16 / BF16 requantized from it by
#              llama-quantize
#   scoring    the same tokens in both: whole windows of 512 tokens,
#              each scoring what its logits at positions 256..510 predict
#              (llama-perplexity -c 512; sparse-run --ctx-window 512
#              --ctx-stride 512 --ctx-score-from 256)
# Each engine tokenizes the text itself (the same byte-level BPE). The
# figure to compare is each engine's ratio quantized / f32.
#
#   bash bench/quant-accuracy.sh              # the whole text (CHARS=all)
# Needs scripts/smollm2/make.sh, bench/run-quant.sh's models (it makes them
# when missing) and llama.cpp (bench/build-llamacpp.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
smol=$cache/smollm2
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}/smollm2-quant
chars=${CHARS:-all}
kinds="q8_0 q4_0 q4_1 f16 bf16"
"$root/scripts/build.sh" >/dev/null
[ -f "$smol/onnx-kv/model.onnx" ] ||
  { echo "bench: no SmolLM2 export in $smol; run scripts/smollm2/make.sh" >&2; exit 1; }
llama=$("$root/bench/build-llamacpp.sh" | tail -1)
mkdir -p "$dir"
licences=/usr/share/common-licenses
cat "$licences"/{GPL-2,MPL-2.0,Apache-2.0,GFDL-1.3,LGPL-2.1} > "$dir/eval-all.txt"
if [ "$chars" = all ]; then cp "$dir/eval-all.txt" "$dir/eval.txt"
else head -c "$chars" "$dir/eval-all.txt" > "$dir/eval.txt"; fi

[ -f "$dir/f32.mlir" ] ||
  "$build/bin/sparse-opt" "$smol/onnx-kv/model.onnx" -o "$dir/f32.mlir" --quiet
for k in $kinds; do
  [ -f "$dir/$k.mlir" ] ||
    "$build/bin/sparse-opt" "$dir/f32.mlir" -o "$dir/$k.mlir" \
      --actsparse-quantize="type=$k output-pack=$dir/$k.pack quiet=true"
done
q41=$smol/SmolLM2-135M-Instruct.Q4_1.gguf
f32=$dir/SmolLM2-135M-Instruct.F32.gguf
[ -f "$f32" ] || "$llama/llama-quantize" --allow-requantize "$q41" "$f32" F32 >/dev/null 2>&1
for t in Q8_0 Q4_0 Q4_1 F16 BF16; do
  [ -f "$dir/$t.gguf" ] || "$llama/llama-quantize" "$f32" "$dir/$t.gguf" "$t" >/dev/null 2>&1
done

ours() { # perplexity of one ActSparse variant
  "$build/bin/sparse-run" "$dir/$1.mlir" --perplexity "$dir/eval.txt" \
    --tokenizer "$smol/tokenizer.json" --ctx-window 512 --ctx-stride 512 --ctx-score-from 256 \
    --threads 2 --no-stats 2>/dev/null | awk '{ print $2 }'
}
theirs() { # perplexity of one GGUF: llama-perplexity's final estimate
  "$llama/llama-perplexity" -m "$1" -f "$dir/eval.txt" -c 512 -b 512 -t 2 2>&1 |
    sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'
}

echo "SmolLM2-135M-Instruct, $(wc -c < "$dir/eval.txt") characters of licence texts, windows of 512 scored from 256"
a32=$(ours f32)
l32=$(theirs "$f32")
[ -n "$l32" ] || { echo "bench: llama-perplexity gave no estimate: it needs at least two windows (1,024 tokens) of text; raise CHARS" >&2; exit 1; }
printf "%-5s ActSparse %8.4f           llama.cpp %8.4f\n" f32 "$a32" "$l32"
for k in $kinds; do
  t=$(echo "$k" | tr a-z A-Z)
  a=$(ours "$k")
  l=$(theirs "$dir/$t.gguf")
  awk -v k="$k" -v a="$a" -v a32="$a32" -v l="$l" -v l32="$l32" 'BEGIN {
    printf "%-5s ActSparse %8.4f (%+.2f %%)  llama.cpp %8.4f (%+.2f %%)\n",
      k, a, 100 * (a / a32 - 1), l, 100 * (l / l32 - 1) }'
done
