#!/usr/bin/env bash
# Decode benchmark on a synthetic Llama-shaped model, in interleaved rounds:
# ActSparse (sparse-run, KV-cache graph compiled once by sparse-opt
# --emit=shared-lib, with --actsparse-last-position-logits as sparse-run
# compiles IR for generation) against ONNX Runtime's CPU library on the same ONNX
# file (PyPI onnxruntime 1.20.1 in a virtual environment made on first use:
# bench/ort-decode.py) and against the memory-bandwidth limit measured in the same round
# (bench/stream-read over the model's weight bytes). Both engines use
# 2 threads and decode greedily from BOS; their token streams are compared.
#
#   bash bench/run-decode.sh                  # 0.24 GB model (quick)
#   SIZE=full bash bench/run-decode.sh        # the 1.9 GB model (dim 2048, hidden 5632, 8 layers)
#   SIZE=stories bash bench/run-decode.sh     # the shipped stories260K (decode graph)
#   SIZE=smollm2 bash bench/run-decode.sh     # SmolLM2-135M (scripts/smollm2/make.sh first)
# Each round also times a 64-token prefill from an empty cache (1, 5, 5, ...),
# each engine warm (sparse-run --warmup, ORT after an untimed one), the
# median of PREFILLS (default 5) runs of each. ORT runs
# the export as it is, which computes the logits of all 64 positions;
# ActSparse's prefill is also timed that way (a second library compiled
# without the pass, "every position's logits").
#   ROUNDS=3 TOKENS=32 bash bench/run-decode.sh
#
# Needs python3-torch and python3-onnx (Debian) to generate the model once;
# installs them when run as root.
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
elif [ "${SIZE:-small}" = smollm2 ]; then
  name=smollm2
  src=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}/smollm2/onnx-kv/model.onnx
  [ -f "$src" ] || { echo "bench: no $src; run scripts/smollm2/make.sh" >&2; exit 1; }
  [ -f "$dir/$name-decode.onnx" ] || ln -s "$src" "$dir/$name-decode.onnx"
elif [ "${SIZE:-small}" = full ]; then
  name=llama-1.9g; args=(--layers 8)
else
  name=llama-0.24g; args=(--dim 1024 --hidden 2816 --layers 4 --heads 8 --kv-heads 8 --vocab 8000 --seq-len 512)
fi
prefix=$dir/$name
if [ ! -f "$prefix-decode.onnx" ]; then
  if ! /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
    [ "$(id -u)" -eq 0 ] ||
      { echo "bench: python3-torch and python3-onnx are needed (apt-get install python3-torch python3-onnx)" >&2; exit 1; }
    echo "bench: installing python3-torch and python3-onnx (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-onnx >/dev/null
  fi
  echo "bench: generating $prefix (once)"
  /usr/bin/python3 "$root/bench/make-synthetic-llama.py" "$prefix" "${args[@]}" 2>&1 | grep -v Warning
fi
[ -f "$prefix-decode.mlir" ] || "$build/bin/sparse-opt" "$prefix-decode.onnx" -o "$prefix-decode.mlir" --quiet
if [ ! -f "$prefix-all.so" ] || [ ! -f "$prefix-decode.so" ] || [ "$prefix-decode.so" -ot "$build/bin/sparse-opt" ]; then
  echo "bench: compiling $prefix-decode.so and $prefix-all.so"
  "$build/bin/sparse-opt" "$prefix-decode.mlir" --actsparse-last-position-logits \
    --emit=shared-lib -o "$prefix-decode.so"
  "$build/bin/sparse-opt" "$prefix-decode.mlir" --emit=shared-lib -o "$prefix-all.so"
fi
bytes=$(stat -c %s "$prefix-decode.weights")
venv=$dir/ort-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnxruntime' 2>/dev/null; then
  echo "bench: installing onnxruntime 1.20.1 from PyPI into $venv (once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime==1.20.1 numpy==1.26.4
fi

prefills=${PREFILLS:-5}
prefill() { bash "$root/bench/as-prefill.sh" "$1" "$prefills" "$dir/prefill.json"; }

echo "model: $name, weight pack $((bytes / 1048576)) MiB; $tokens tokens per round, $rounds rounds"
for r in $(seq "$rounds"); do
  gbs=$("$build/bin/stream-read" "$bytes" 2 3)
  "$venv/bin/python" "$root/bench/ort-decode.py" "$prefix-decode.onnx" "$tokens" 2 64 "$prefills" > "$dir/ort.json"
  ort_ms=$(python3 "$root/bench/json-get.py" "$dir/ort.json" 'd["decode_ms_per_token"]')
  ort_pf=$(python3 "$root/bench/json-get.py" "$dir/ort.json" 'd["prefill_tokens_per_second"]')
  as_pf=$(prefill "$prefix-decode.so"); as_all=$(prefill "$prefix-all.so")
  ort_ids=$(python3 "$root/bench/json-get.py" "$dir/ort.json" '" ".join(map(str, d["tokens"]))')
  as_ids=$("$build/bin/sparse-run" "$prefix-decode.so" --input-ids 1 -n "$((tokens + 1))" --stop-ids none --print-ids \
    --threads 2 --no-stats --stats-json "$dir/stats.json")
  ms=$(python3 "$root/bench/json-get.py" "$dir/stats.json" 'd["decode_ms_per_token"]')
  same=$([ "$(echo $as_ids)" = "$(echo $ort_ids)" ] && echo same || echo DIFFERENT)
  awk -v b="$bytes" -v ms="$ms" -v om="$ort_ms" -v g="$gbs" -v r="$r" -v same="$same" -v apf="$as_pf" -v aall="$as_all" -v opf="$ort_pf" 'BEGIN {
    tps = 1000 / ms; otps = 1000 / om; implied = b * tps / 1e9; limit = g * 1e9 / b
    printf "round %d: ActSparse %.2f ms/token (%.2f tok/s, %.2f GB/s); ONNX Runtime %.2f ms/token (%.2f tok/s); stream-read %.2f GB/s = limit %.2f tok/s\n", r, ms, tps, implied, om, otps, g, limit
    printf "         ActSparse / ORT %.2fx; ActSparse / bandwidth limit %.2f; greedy tokens %s\n", tps / otps, tps / limit, same
    printf "         prefill (64 tokens): ActSparse %.1f tok/s, ORT %.1f tok/s, ratio %.2fx; ActSparse with every position'"'"'s logits %.1f tok/s, %.2fx\n", apf, opf, apf / opf, aall, aall / opf
  }'
done
