#!/usr/bin/env bash
# Chooses the flash defaults by measurement: windowed decode at one budget
# with each window (WINDOWS), queue depth (DEPTHS) and read size (READS),
# one setting changed at a time from the defaults, in interleaved rounds.
# The model is made (once) as bench/run-flash.sh makes it, same SIZE.
#
#   bash bench/sweep-flash.sh                       # synthetic 2.0 GiB model, 50 %
#   SIZE=smollm2 SPARSITY=0.7 BUDGET=60 bash bench/sweep-flash.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
build=${ACTSPARSE_BUILD_DIR:-$root/build}
rounds=${ROUNDS:-2}
tokens=${TOKENS:-16}
sparsity=${SPARSITY:-0.9}
rank=${RANK:-64}
budget=${BUDGET:-50}
SIZE=${SIZE:-flash}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
opt=$build/bin/sparse-opt
run=$build/bin/sparse-run
prepare_modes=(lowrank)
source "$root/bench/prepare-sparse-model.sh"
settings=()
for k in ${WINDOWS:-0 1 2 4 8 16}; do settings+=("--flash-window $k"); done
for q in ${DEPTHS:-8 64 128}; do settings+=("--flash-queue-depth $q"); done
for r in ${READS:-32K 512K}; do settings+=("--flash-read-size $r"); done
for g in ${GAPS:-16K 64K}; do settings+=("--flash-merge-gap $g"); done
echo "model: $name at $sparsity, budget $budget %, $tokens tokens, 2 threads; defaults: window 4, queue depth 64, read size 128K, gap 0"
for r in $(seq "$rounds"); do
  for s in "${settings[@]}"; do
    # shellcheck disable=SC2086
    "$run" "$w-lowrank.so" --weights "$w-lowrank.pack" --input-ids 1 -n "$tokens" --stop-ids none \
      --threads 2 --dram-budget "$budget%" $s --stats-json "$dir/sweep.json" > /dev/null 2>&1
    /usr/bin/python3 - "$dir/sweep.json" "$r" "$s" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); f = d["flash"]
io = f["io_seconds"] or 1e-9
print(f"round {sys.argv[2]} {sys.argv[3]:26s} {d['decode_ms_per_token']:8.1f} ms/token, "
      f"read {f['bytes_read'] / f['tokens'] / 1048576:7.2f} MiB/token in {f['reads'] / f['tokens']:6.0f} reads, "
      f"hits {100 * f['hits'] / max(1, f['needed']):4.1f}%, {f['bytes_read'] / io / 1e6:5.0f} MB/s")
PY
  done
done
