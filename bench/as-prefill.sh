#!/usr/bin/env bash
# Median tokens/s of RUNS warm 64-token prefills (1, 5, 5, ...) of one
# compiled model, each a sparse-run process with --warmup, 2 threads: the
# prefill figure of bench/run-smollm2.sh, run-decode.sh and run-quant.sh.
#
#   bash bench/as-prefill.sh MODEL.so RUNS STATS.json   (the last run's statistics)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}
model=$1 runs=$2 stats=$3
for i in $(seq "$runs"); do
  "$build/bin/sparse-run" "$model" --input-ids 1$(printf ',5%.0s' $(seq 63)) -n 1 --warmup \
    --stop-ids none --print-ids --threads 2 --no-stats --stats-json "$stats" >/dev/null
  python3 "$root/bench/json-get.py" "$stats" 'd["prefill_tokens_per_second"]'
done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
