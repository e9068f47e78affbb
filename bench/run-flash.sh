#!/usr/bin/env bash
# Flash-resident FFN weights (sparse-run --dram-budget) against three
# baselines at the same budget, in interleaved rounds, 2 threads:
#   dram:     every weight in DRAM (the upper bound; no budget);
#   windowed: the predictor's neurons read with O_DIRECT, kept for WINDOW
#             tokens (ActSparse's flash mode);
#   naive:    every FFN row of a layer read for every token, same direct I/O;
#   mmap:     the pack mapped, each layer's pages dropped after use
#             (madvise + posix_fadvise DONTNEED): the OS's own paging.
# Budgets are BUDGETS percent of the weights the model uses. For each run:
# ms/token and the ratio to naive, FFN bytes read per token against what
# windowing predicts, read throughput against fio randread at the same
# block size and queue depth (measured in the same round), cache hit rate,
# share of I/O hidden behind compute, peak RSS against the budget.
#
#   bash bench/run-flash.sh                   # the 2.1 GB FFN-heavy synthetic model
#   SIZE=smollm2 bash bench/run-flash.sh      # SmolLM2-135M (scripts/smollm2/make.sh first)
#   SIZE=stories BUDGETS="60 80" bash bench/run-flash.sh
#   ROUNDS=3 TOKENS=16 WINDOW=4 QD=64 SPARSITY=0.9 RANK=64 bash bench/run-flash.sh
#
# Synthetic weights are random (their gates made rank 48, so a predictor
# can work): consecutive tokens share fewer active neurons than in trained
# models, so windowing looks worse on them. Needs python3-torch and
# python3-onnx (Debian) to generate the synthetic model once, and fio.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
build=${ACTSPARSE_BUILD_DIR:-$root/build}
rounds=${ROUNDS:-3}
tokens=${TOKENS:-16}
sparsity=${SPARSITY:-0.9}
rank=${RANK:-64}
window=${WINDOW:-4}
qd=${QD:-64}
budgets=${BUDGETS:-50 25}
SIZE=${SIZE:-flash}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
opt=$build/bin/sparse-opt
run=$build/bin/sparse-run
if ! command -v fio >/dev/null; then
  echo "bench: installing fio"
  sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq fio >/dev/null
fi
prepare_modes=(lowrank)
source "$root/bench/prepare-sparse-model.sh"
model=$w-lowrank.so
pack=$w-lowrank.pack

json() { python3 "$root/bench/json-get.py" "$@"; }

echo "model: $name at FFN sparsity $sparsity, rank-$rank predictor; pack $(( $(stat -c %s "$pack") >> 20 )) MiB"
echo "$tokens tokens from BOS per run, 2 threads, window $window, queue depth $qd; $rounds rounds"
for r in $(seq "$rounds"); do
  "$run" "$model" --weights "$pack" --input-ids 1 -n "$tokens" --stop-ids none --threads 2 \
    --stats-json "$dir/flash-dram.json" > "$dir/flash-dram.ids" 2> /dev/null
  dram_ms=$(json "$dir/flash-dram.json" "d['decode_ms_per_token']")
  printf 'round %d: dram %.1f ms/token, peak RSS %.0f MiB\n' "$r" "$dram_ms" \
    "$(json "$dir/flash-dram.json" "d['peak_rss_kib'] / 1024")"
  for b in $budgets; do
    for m in naive windowed mmap; do
      "$run" "$model" --weights "$pack" --input-ids 1 -n "$tokens" --stop-ids none --threads 2 \
        --dram-budget "$b%" --flash-mode "$m" --flash-window "$window" --flash-queue-depth "$qd" \
        --stats-json "$dir/flash-$m.json" > "$dir/flash-$m.ids" 2> "$dir/flash-$m.log" || {
          printf '  budget %s%%: %s refused: %s\n' "$b" "$m" "$(tail -1 "$dir/flash-$m.log")"; continue; }
      cmp -s "$dir/flash-dram.ids" "$dir/flash-$m.ids" || echo "  WARNING: $m printed other tokens than dram"
    done
    [ -f "$dir/flash-windowed.json" ] && [ -f "$dir/flash-naive.json" ] || continue
    # fio randread at each direct-I/O mode's mean read size, same queue depth.
    fio_mbs=
    for m in naive windowed; do
      bs=$(json "$dir/flash-$m.json" "max(4096, (d['flash']['bytes_read'] // max(1, d['flash']['reads'])) // 4096 * 4096)")
      fio --name=flash --filename="$pack" --readonly --rw=randread --bs="$bs" --iodepth="$qd" \
        --ioengine=io_uring --direct=1 --runtime=5 --time_based --output-format=json > "$dir/fio.json" 2>/dev/null
      fio_mbs+="$m:$bs:$(json "$dir/fio.json" "d['jobs'][0]['read']['bw_bytes'] / 1e6") "
    done
    /usr/bin/python3 - "$dir" "$b" "$dram_ms" "$fio_mbs" <<'PY'
import json, sys
d, budget, dram_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
fio = {m: (int(bs), float(mbs)) for m, bs, mbs in (x.split(":") for x in sys.argv[4].split())}
runs = {}
for m in ("naive", "windowed", "mmap"):
    try:
        runs[m] = json.load(open(f"{d}/flash-{m}.json"))
    except (OSError, ValueError):
        pass
naive = runs.get("naive", {}).get("decode_ms_per_token")
print(f"  budget {budget}%: " + ", ".join(
    f"fio randread {bs // 1024} KiB: {mbs:.0f} MB/s" for bs, mbs in fio.values()))
for m, r in runs.items():
    ms, tok = r["decode_ms_per_token"], r["generated_tokens"] + r["prompt_tokens"]
    f = r["flash"]
    line = f"    {m:8s} {ms:8.1f} ms/token ({dram_ms / ms:.2f}x dram"
    line += f", {naive / ms:.2f}x naive)" if naive else ")"
    line += f"; storage {r['storage_read_bytes'] / tok / 1048576:.2f} MiB/token"
    line += f"; peak RSS {r['peak_rss_kib'] / 1024:.0f} MiB (budget {f['budget_bytes'] / 1048576:.0f})"
    if m != "mmap" and f["tokens"]:
        io = f["io_seconds"]
        line += f"; read {f['bytes_read'] / f['tokens'] / 1048576:.2f} MiB/token"
        if m == "windowed":
            line += f" (window predicts {f['window_predicted_bytes'] / f['tokens'] / 1048576:.2f})"
        line += (f"; hits {100 * f['hits'] / max(1, f['needed']):.0f}%"
                 f"; {f['bytes_read'] / io / 1e6 if io else 0:.0f} MB/s"
                 f" ({100 * f['bytes_read'] / io / 1e6 / fio[m][1] if io else 0:.0f}% of fio)"
                 f"; I/O hidden {100 * max(0, 1 - f['wait_seconds'] / io) if io else 0:.0f}%")
    print(line)
PY
    rm -f "$dir"/flash-{naive,windowed,mmap}.json
  done
done
