#!/usr/bin/env bash
# Decode benchmark on a synthetic Llama-shaped model, in interleaved rounds:
# ActSparse (sparse-run, KV-cache graph) against ONNX Runtime's CPU library
# on the same ONNX file (npm package onnxruntime-node, installed on first
# use) and against the memory-bandwidth limit measured in the same round
# (bench/stream-read over the model's weight bytes). Both engines use
# 2 threads and decode greedily from BOS; their token streams are compared.
#
#   bash bench/run-decode.sh                  # 0.24 GB model (quick)
#   SIZE=full bash bench/run-decode.sh        # the 1.9 GB model (dim 2048, hidden 5632, 8 layers)
#   SIZE=stories bash bench/run-decode.sh     # the shipped stories260K (decode graph)
# Each round also times a 64-token prefill from an empty cache (1, 5, 5, ...).
#   ROUNDS=3 TOKENS=32 bash bench/run-decode.sh
#
# Needs python3-torch and python3-onnx (Debian) to generate the model once.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
build=${ACTSPARSE_BUILD_DIR:-$root/build}
rounds=${ROUNDS:-3}
tokens=${TOKENS:-32}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null

if [ "${SIZE:-small}" = stories ]; then
  name=stories260K
  [ -f "$dir/$name-decode.onnx" ] || cp "$root/test/Import/Inputs/llama-decode.onnx" "$dir/$name-decode.onnx"
elif [ "${SIZE:-small}" = full ]; then
  name=llama-1.9g; args=(--layers 8)
else
  name=llama-0.24g; args=(--dim 1024 --hidden 2816 --layers 4 --heads 8 --kv-heads 8 --vocab 8000 --seq-len 512)
fi
prefix=$dir/$name
if [ ! -f "$prefix-decode.onnx" ]; then
  echo "bench: generating $prefix (once)"
  /usr/bin/python3 "$root/bench/make-synthetic-llama.py" "$prefix" "${args[@]}" 2>&1 | grep -v Warning
fi
[ -f "$prefix-decode.mlir" ] || "$build/bin/sparse-opt" "$prefix-decode.onnx" -o "$prefix-decode.mlir" --quiet
bytes=$(stat -c %s "$prefix-decode.weights")
if [ ! -d "$dir/ort/node_modules/onnxruntime-node" ]; then
  echo "bench: installing onnxruntime-node into $dir/ort (once)"
  mkdir -p "$dir/ort"
  (cd "$dir/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent onnxruntime-node >/dev/null 2>&1)
fi
export NODE_PATH=$dir/ort/node_modules

echo "model: $name, weight pack $((bytes / 1048576)) MiB; $tokens tokens per round, $rounds rounds"
for r in $(seq "$rounds"); do
  gbs=$("$build/bin/stream-read" "$bytes" 2 3)
  node "$root/bench/ort-decode.js" "$prefix-decode.onnx" "$tokens" 2 64 > "$dir/ort.json"
  ort_ms=$(sed -E 's/.*"decode_ms_per_token":([0-9.]+).*/\1/' "$dir/ort.json")
  ort_pf=$(sed -E 's/.*"prefill_tokens_per_second":([0-9.]+).*/\1/' "$dir/ort.json")
  "$build/bin/sparse-run" "$prefix-decode.mlir" --input-ids 1$(printf ',5%.0s' $(seq 63)) -n 1 \
    --print-ids --threads 2 --no-stats --stats-json "$dir/prefill.json" >/dev/null
  as_pf=$(sed -E 's/.*"prefill_tokens_per_second": ([0-9.]+).*/\1/' "$dir/prefill.json")
  ort_ids=$(sed -E 's/.*"tokens":\[([0-9,]*)\].*/\1/' "$dir/ort.json" | tr ',' ' ')
  as_ids=$("$build/bin/sparse-run" "$prefix-decode.mlir" --input-ids 1 -n "$((tokens + 1))" --print-ids \
    --threads 2 --no-stats --stats-json "$dir/stats.json")
  ms=$(sed -E 's/.*"decode_ms_per_token": ([0-9.]+).*/\1/' "$dir/stats.json")
  same=$([ "$(echo $as_ids)" = "$(echo $ort_ids)" ] && echo same || echo DIFFERENT)
  awk -v b="$bytes" -v ms="$ms" -v om="$ort_ms" -v g="$gbs" -v r="$r" -v same="$same" -v apf="$as_pf" -v opf="$ort_pf" 'BEGIN {
    tps = 1000 / ms; otps = 1000 / om; implied = b * tps / 1e9; limit = g * 1e9 / b
    printf "round %d: ActSparse %.2f ms/token (%.2f tok/s, %.2f GB/s); ONNX Runtime %.2f ms/token (%.2f tok/s); stream-read %.2f GB/s = limit %.2f tok/s\n", r, ms, tps, implied, om, otps, g, limit
    printf "         ActSparse / ORT %.2fx; ActSparse / bandwidth limit %.2f; greedy tokens %s\n", tps / otps, tps / limit, same
    printf "         prefill (64 tokens): ActSparse %.1f tok/s, ORT %.1f tok/s, ratio %.2fx\n", apf, opf, apf / opf
  }'
done
