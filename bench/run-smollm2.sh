#!/usr/bin/env bash
# SmolLM2-135M decode and prefill, in interleaved rounds, 2 threads each:
#   ActSparse   sparse-run on the KV-cache ONNX export (compiled once, with
#               --actsparse-last-position-logits as sparse-run compiles
#               IR for generation)
#   ORT         ONNX Runtime 1.20.1 (PyPI) on the same ONNX file
#   llama.cpp   llama-bench on the original Q4_1 GGUF and on an f32 GGUF
#               requantized from it (the very weights ActSparse runs)
# Decode: TOKENS greedy tokens from token 1 (llama-bench: tg TOKENS);
# prefill: 64 tokens from an empty cache (llama-bench: pp 64), each engine
# warm (sparse-run --warmup; llama-bench and the ORT script time theirs
# after warm-up runs too). llama-bench's prefill computes the last
# position's logits only, ORT's all 64 (the export as it is): ActSparse's
# prefill is timed both ways ("all logits": a library compiled without the
# pass).
#
# Each prefill figure is the median of PREFILLS (default 5) timed runs of
# that engine in the round (llama-bench: -r PREFILLS, its mean): a 64-token
# prefill takes about 0.1 s, and single runs moved by 1.5x.
#
#   bash bench/run-smollm2.sh                 # ROUNDS=3 TOKENS=64 PREFILLS=5
# Needs scripts/smollm2/make.sh (model, venv) and builds llama.cpp once
# (bench/build-llamacpp.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
smol=$cache/smollm2
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}/smollm2
rounds=${ROUNDS:-3}
tokens=${TOKENS:-64}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
[ -f "$smol/onnx-kv/model.onnx" ] ||
  { echo "bench: no SmolLM2 export in $smol; run scripts/smollm2/make.sh" >&2; exit 1; }
llama=$("$root/bench/build-llamacpp.sh" | tail -1)
python=$cache/venv-smollm2/bin/python

if [ ! -f "$dir/kv.so" ] || [ ! -f "$dir/kv-all.so" ] || [ "$dir/kv.so" -ot "$build/bin/sparse-opt" ]; then
  echo "bench: compiling SmolLM2 twice (about 30 s)"
  "$build/bin/sparse-opt" "$smol/onnx-kv/model.onnx" -o "$dir/kv.mlir" --quiet
  "$build/bin/sparse-opt" "$dir/kv.mlir" --actsparse-last-position-logits \
    --emit=shared-lib -o "$dir/kv.so"
  "$build/bin/sparse-opt" "$dir/kv.mlir" --emit=shared-lib -o "$dir/kv-all.so"
fi
q41=$smol/SmolLM2-135M-Instruct.Q4_1.gguf
f32=$dir/SmolLM2-135M-Instruct.F32.gguf
[ -f "$f32" ] || "$llama/llama-quantize" --allow-requantize "$q41" "$f32" F32 >/dev/null 2>&1

prefills=${PREFILLS:-5}
prefill() { bash "$root/bench/as-prefill.sh" "$1" "$prefills" "$dir/as-prefill.json"; }

tg() { # llama-bench decode and prefill tokens/s for one GGUF: "tg pp"
  "$llama/llama-bench" -m "$1" -p 64 -n "$tokens" -t 2 -r "$prefills" -o json 2>/dev/null |
    "$python" -c 'import json,sys; r=json.load(sys.stdin)
tg=[x["avg_ts"] for x in r if x["n_gen"]>0][0]; pp=[x["avg_ts"] for x in r if x["n_prompt"]>0][0]
print(tg, pp)'
}

echo "SmolLM2-135M-Instruct: $tokens tokens decoded per round, 64-token prefill, 2 threads, $rounds rounds"
for r in $(seq "$rounds"); do
  "$build/bin/sparse-run" "$dir/kv.so" --input-ids 1 -n "$((tokens + 1))" --stop-ids none --print-ids \
    --threads 2 --no-stats --stats-json "$dir/as.json" >/dev/null
  as_pp=$(prefill "$dir/kv.so"); as_all=$(prefill "$dir/kv-all.so")
  "$python" "$root/bench/ort-decode.py" "$smol/onnx-kv/model.onnx" "$tokens" 2 64 "$prefills" > "$dir/ort.json"
  read -r q_tg q_pp < <(tg "$q41")
  read -r f_tg f_pp < <(tg "$f32")
  "$python" - "$dir" "$r" "$q_tg" "$q_pp" "$f_tg" "$f_pp" "$as_pp" "$as_all" <<'PY'
import json, sys
d, r = sys.argv[1], sys.argv[2]
q_tg, q_pp, f_tg, f_pp, as_pp, aa = map(float, sys.argv[3:])
a = json.load(open(d + "/as.json"))
o = json.load(open(d + "/ort.json"))
as_tg = 1000 / a["decode_ms_per_token"]
o_tg = 1000 / o["decode_ms_per_token"]; o_pp = o["prefill_tokens_per_second"]
print(f"round {r}: decode tok/s: ActSparse {as_tg:.1f}, ORT {o_tg:.1f}, llama.cpp f32 {f_tg:.1f}, Q4_1 {q_tg:.1f}")
print(f"         ActSparse / ORT {as_tg / o_tg:.2f}x, / llama.cpp f32 {as_tg / f_tg:.2f}x, / llama.cpp Q4_1 {as_tg / q_tg:.2f}x")
print(f"         prefill 64 tok/s: ActSparse {as_pp:.1f}, ORT {o_pp:.1f}, llama.cpp f32 {f_pp:.1f}, Q4_1 {q_pp:.1f}"
      f" (ActSparse / ORT {as_pp / o_pp:.2f}x, / llama.cpp f32 {as_pp / f_pp:.2f}x)")
print(f"         ActSparse with all 64 positions' logits {aa:.1f} tok/s (/ ORT {aa / o_pp:.2f}x)")
PY
done
