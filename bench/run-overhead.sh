#!/usr/bin/env bash
# Per-token overhead on a model whose weights fit in cache: stories260K,
# greedy from BOS, never stopping early, ActSparse (sparse-run on the
# shipped decode graph, compiled once by sparse-opt --emit=shared-lib)
# against llama.cpp (llama-bench's text generation on the same checkpoint,
# converted to an f32 GGUF by llama.cpp's own llama2.c converter), at 64,
# 256 and 500 generated tokens, 1 and 2 threads, in interleaved rounds.
# llama.cpp is built from the llama-cpp-python sdist (bench/build-llamacpp.sh,
# bench only). Prints a markdown table of medians and ratios.
#
#   bash bench/run-overhead.sh              # ROUNDS=5
#   ROUNDS=9 LENGTHS="64 500" THREADS="1" bash bench/run-overhead.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}/overhead
build=${ACTSPARSE_BUILD_DIR:-$root/build}
rounds=${ROUNDS:-5}
lengths=${LENGTHS:-64 256 500}
threads=${THREADS:-1 2}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
llamacpp=$(bash "$root/bench/build-llamacpp.sh" | tail -n 1)
model=$root/models/stories260K
gguf=$dir/stories260K-f32.gguf
if [ ! -f "$gguf" ]; then
  "$llamacpp/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$model/tok512.bin" \
    --llama2c-model "$model/stories260K.bin" --llama2c-output-model "$gguf" >"$dir/convert.log" 2>&1
fi
"$build/bin/sparse-opt" "$root/test/Import/Inputs/llama-decode.onnx" -o "$dir/stories260K.mlir" --quiet
"$build/bin/sparse-opt" "$dir/stories260K.mlir" --emit=shared-lib -o "$dir/stories260K.so"
# The same text from both engines, as a check that they run the same model.
ours=$("$build/bin/sparse-run" "$dir/stories260K.so" --tokenizer "$model/tok512.bin" \
  --prompt "Once upon a time" -n 24 --no-stats 2>/dev/null | tr -d '\n')
theirs=$("$llamacpp/llama-simple" -m "$gguf" -n 24 "Once upon a time" 2>/dev/null | tr -d '\n')
echo "ActSparse: $ours"
echo "llama.cpp: $theirs"
: > "$dir/times.txt"
for r in $(seq "$rounds"); do
  for n in $lengths; do
    for t in $threads; do
      "$build/bin/sparse-run" "$dir/stories260K.so" -n "$n" --stop-ids none --threads "$t" \
        --print-ids --stats-json "$dir/s.json" >/dev/null 2>&1
      a=$(python3 "$root/bench/json-get.py" "$dir/s.json" 'd["decode_ms_per_token"]')
      "$llamacpp/llama-bench" -m "$gguf" -p 0 -n "$n" -t "$t" -r 1 -o json >"$dir/l.json" 2>/dev/null
      l=$(python3 -c "import json,sys; print(1000 / json.load(open(sys.argv[1]))[0]['avg_ts'])" "$dir/l.json")
      echo "$r $n $t $a $l" | tee -a "$dir/times.txt"
    done
  done
done
python3 - "$dir/times.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    _, n, t, a, l = line.split()
    rows.setdefault((int(n), int(t)), []).append((float(a), float(l)))
print("| tokens | threads | ActSparse ms/token | llama.cpp ms/token | llama.cpp / ActSparse (median of rounds) |")
print("|---|---|---|---|---|")
for (n, t), v in sorted(rows.items()):
    a = statistics.median(x for x, _ in v)
    l = statistics.median(y for _, y in v)
    ratio = statistics.median(y / x for x, y in v)
    print(f"| {n} | {t} | {a:.3f} | {l:.3f} | {ratio:.2f}x |")
PY
