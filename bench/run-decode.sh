#!/usr/bin/env bash
# Decode benchmark: ActSparse's decode speed on a synthetic Llama-shaped
# model against the memory-bandwidth limit measured in the same run
# (bench/stream-read over the model's weight bytes), in interleaved rounds.
#
#   bash bench/run-decode.sh                  # 0.24 GB model (quick)
#   SIZE=full bash bench/run-decode.sh        # the 1.9 GB model of the issue
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

if [ "${SIZE:-small}" = full ]; then
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

echo "model: $name, weight pack $((bytes / 1048576)) MiB; $tokens tokens per round, $rounds rounds"
for r in $(seq "$rounds"); do
  gbs=$("$build/bin/stream-read" "$bytes" 2 3)
  "$build/bin/sparse-run" "$prefix-decode.mlir" --input-ids 1 -n "$tokens" --print-ids \
    --no-stats --stats-json "$dir/stats.json" >/dev/null
  ms=$(sed -E 's/.*"decode_ms_per_token": ([0-9.]+).*/\1/' "$dir/stats.json")
  awk -v b="$bytes" -v ms="$ms" -v g="$gbs" -v r="$r" 'BEGIN {
    tps = 1000 / ms; implied = b * tps / 1e9; limit = g * 1e9 / b
    printf "round %d: decode %.2f ms/token = %.2f tokens/s, %.2f GB/s of weights; stream-read %.2f GB/s (limit %.2f tokens/s); ratio %.3f\n", r, ms, tps, implied, g, limit, implied / g
  }'
done
