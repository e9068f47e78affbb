#!/usr/bin/env bash
# Quantized SmolLM2-135M decode and prefill against llama.cpp, interleaved
# rounds, 2 threads each:
#   ActSparse   sparse-run on the KV-cache ONNX export: f32, and after
#               --actsparse-quantize with type q8_0, q4_0 and q4_1
#               (classifier q8_0), f16 and bf16 (classifier the same)
#   llama.cpp   llama-bench on the original Q4_1 GGUF, and on Q8_0, Q4_0,
#               F16 and BF16 GGUFs requantized from an f32 conversion of
#               it (the weights ActSparse's export holds)
# Decode: TOKENS greedy tokens from token 1 (llama-bench: tg TOKENS);
# prefill: 64 tokens from an empty cache (llama-bench: pp 64), each engine
# warm (sparse-run --warmup; llama-bench times its runs after a warm-up
# run too), the median of PREFILLS (default 3) sparse-run prefills and
# llama-bench's mean of as many repetitions. Both compute the logits of
# the prompt's last position only (the libraries are compiled with
# --actsparse-last-position-logits, as sparse-run compiles IR for
# generation; llama.cpp's batches ask for the last row by default).
#
#   bash bench/run-quant.sh                   # ROUNDS=3 TOKENS=64 PREFILLS=3
#   SIZE=full bash bench/run-quant.sh         # the 1.9 GB synthetic model
# Needs scripts/smollm2/make.sh (model, venv) and builds llama.cpp once
# (bench/build-llamacpp.sh). SIZE=full needs the model of
# `SIZE=full bash bench/run-decode.sh` and writes the same weights as an
# f32 GGUF (bench/make-synthetic-llama.py --gguf), which llama-quantize
# turns into Q8_0, Q4_0 and Q4_1; both engines decode the same greedy
# tokens from the f32 weights.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
smol=$cache/smollm2
bench=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
dir=$bench/smollm2-quant
model=$smol/onnx-kv/model.onnx
title=SmolLM2-135M-Instruct
if [ "${SIZE:-smollm2}" = full ]; then
  dir=$bench/llama-1.9g-quant
  model=$bench/llama-1.9g-decode.onnx
  title="the 1.9 GB synthetic Llama"
  [ -f "$model" ] ||
    { echo "bench: no $model; run SIZE=full bash bench/run-decode.sh first" >&2; exit 1; }
fi
rounds=${ROUNDS:-3}
tokens=${TOKENS:-64}
prefills=${PREFILLS:-3}
kinds="q8_0 q4_0 q4_1 f16 bf16"
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
[ -x "$cache/venv-smollm2/bin/python" ] && { [ "${SIZE:-smollm2}" = full ] || [ -f "$model" ]; } ||
  { echo "bench: no SmolLM2 export or venv in $smol; run scripts/smollm2/make.sh" >&2; exit 1; }
llama=$("$root/bench/build-llamacpp.sh" | tail -1)
python=$cache/venv-smollm2/bin/python

if [ ! -f "$dir/f32.so" ] || [ "$dir/f32.so" -ot "$build/bin/sparse-opt" ]; then
  echo "bench: compiling $title, f32 and $kinds (about 15 s each)"
  "$build/bin/sparse-opt" "$model" -o "$dir/f32.mlir" --quiet
  for k in $kinds; do
    "$build/bin/sparse-opt" "$dir/f32.mlir" -o "$dir/$k.mlir" \
      --actsparse-quantize="type=$k output-pack=$dir/$k.pack"
    "$build/bin/sparse-opt" "$dir/$k.mlir" --actsparse-last-position-logits \
      --emit=shared-lib -o "$dir/$k.so"
  done
  "$build/bin/sparse-opt" "$dir/f32.mlir" --actsparse-last-position-logits \
    --emit=shared-lib -o "$dir/f32.so"
fi
if [ "${SIZE:-smollm2}" = full ]; then
  f32=$dir/F32.gguf
  q41=$dir/Q4_1.gguf
  [ -f "$f32" ] || "$python" "$root/bench/make-synthetic-llama.py" "$dir/unused" --layers 8 \
    --gguf "$f32" 2>&1 | grep -v Warning
  [ -f "$q41" ] || "$llama/llama-quantize" "$f32" "$q41" Q4_1 >/dev/null 2>&1
else
  q41=$smol/SmolLM2-135M-Instruct.Q4_1.gguf
  f32=$dir/SmolLM2-135M-Instruct.F32.gguf
  [ -f "$f32" ] || "$llama/llama-quantize" --allow-requantize "$q41" "$f32" F32 >/dev/null 2>&1
fi
for t in Q8_0 Q4_0 F16 BF16; do
  [ -f "$dir/$t.gguf" ] || "$llama/llama-quantize" "$f32" "$dir/$t.gguf" "$t" >/dev/null 2>&1
done

tg() { # llama-bench decode and prefill tokens/s for one GGUF: "tg pp"
  "$llama/llama-bench" -m "$1" -p 64 -n "$tokens" -t 2 -r "$prefills" -o json 2>/dev/null |
    "$python" -c 'import json,sys; r=json.load(sys.stdin)
tg=[x["avg_ts"] for x in r if x["n_gen"]>0][0]; pp=[x["avg_ts"] for x in r if x["n_prompt"]>0][0]
print(tg, pp)'
}
as() { # sparse-run decode and prefill tokens/s for one variant: "tg pp"
  "$build/bin/sparse-run" "$dir/$1.so" --input-ids 1 -n "$((tokens + 1))" --stop-ids none \
    --print-ids --threads 2 --no-stats --stats-json "$dir/as.json" >/dev/null
  pp=$(bash "$root/bench/as-prefill.sh" "$dir/$1.so" "$prefills" "$dir/as-prefill.json")
  "$python" -c 'import json,sys; a=json.load(open(sys.argv[1]))
print(1000 / a["decode_ms_per_token"], sys.argv[2])' "$dir/as.json" "$pp"
}

echo "$title: $tokens tokens decoded per round, 64-token prefill, 2 threads, $rounds rounds"
echo "tokens/s decode (prefill); ratio = ActSparse / llama.cpp at the same format"
for r in $(seq "$rounds"); do
  read -r a32 p32 < <(as f32)
  read -r a8 p8 < <(as q8_0)
  read -r l8 lp8 < <(tg "$dir/Q8_0.gguf")
  read -r a40 p40 < <(as q4_0)
  read -r l40 lp40 < <(tg "$dir/Q4_0.gguf")
  read -r a41 p41 < <(as q4_1)
  read -r l41 lp41 < <(tg "$q41")
  read -r lf lpf < <(tg "$f32")
  read -r a16 p16 < <(as f16)
  read -r l16 lp16 < <(tg "$dir/F16.gguf")
  read -r ab16 pb16 < <(as bf16)
  read -r lb16 lpb16 < <(tg "$dir/BF16.gguf")
  "$python" - "$r" "$a32" "$p32" "$lf" "$lpf" "$a8" "$p8" "$l8" "$lp8" \
    "$a40" "$p40" "$l40" "$lp40" "$a41" "$p41" "$l41" "$lp41" \
    "$a16" "$p16" "$l16" "$lp16" "$ab16" "$pb16" "$lb16" "$lpb16" <<'PY'
import sys
r = sys.argv[1]
v = list(map(float, sys.argv[2:]))
print(f"round {r}:")
for i, name in enumerate(["f32", "q8_0", "q4_0", "q4_1", "f16", "bf16"]):
    a, ap, l, lp = v[4 * i: 4 * i + 4]
    print(f"  {name:5s} ActSparse {a:6.1f} ({ap:6.1f})  llama.cpp {l:6.1f} ({lp:6.1f})"
          f"  decode {a / l:.2f}x, prefill {ap / lp:.2f}x")
print(f"  ActSparse q8_0 / f32 decode {v[4] / v[0]:.2f}x, q4_0 / f32 {v[8] / v[0]:.2f}x")
PY
done
