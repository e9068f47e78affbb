#!/usr/bin/env bash
# Sparse FFN decode against the dense path, in interleaved rounds, 2 threads.
# One Llama-shaped model, relufied (shifted ReLU) and calibrated to SPARSITY
# (default 0.9) of FFN neurons per layer, then compiled three ways:
#   dense:      unbundled weights, the dense kernels (the baseline);
#   exact-gate: bundled, every gate computed, up and down of active neurons;
#   lowrank:    bundled, a rank-RANK predictor at 99 % recall chooses the
#               neurons (only where the gate decides the zeros);
#   apart:      exact gate with the gates apart (--actsparse-bundle-ffn
#               gates=apart): a dense gate MatMul, rows of up and down read
#               for active neurons only (its FFN bytes count the rows only).
# Each round decodes TOKENS tokens from BOS with each, in turn, and prints
# ms/token, the ratio to dense, the FFN bytes the kernel read per token and
# the bound dense bytes / bytes read by the sparse model.
#
#   bash bench/run-sparse.sh                # 0.24 GB synthetic model (quick)
#   SIZE=full bash bench/run-sparse.sh      # the 1.9 GB synthetic model
#   SIZE=stories bash bench/run-sparse.sh   # stories260K (a real model)
#   SIZE=smollm2 bash bench/run-sparse.sh   # SmolLM2-135M (scripts/smollm2/make.sh first)
#   ROUNDS=3 TOKENS=32 SPARSITY=0.9 RANK=64 bash bench/run-sparse.sh
#   QUANT=q8_0 SIZE=full bash bench/run-sparse.sh  # also each mode quantized
#   QUANT=q4_0 PEER=llamacpp bash bench/run-sparse.sh
#
# With PEER=llamacpp (synthetic sizes, with QUANT) each round also times
# llama.cpp (llama-bench, tg TOKENS, 2 threads) on the same-shaped dense
# model before relufication, written as a GGUF by make-synthetic-llama.py
# --gguf (the venv of scripts/smollm2/make.sh has the gguf package) and
# quantized to QUANT by llama-quantize, and prints each quantized mode's
# ratio to it: sparsity plus quantization against quantization alone.
#
# With QUANT the rounds also run the three modes with every weight in that
# format (bundles included): MODE-QUANT, with its ratio to dense-QUANT, the
# quantized dense model, besides the ratio to dense f32.
#
# Synthetic models have random weights: their figures are speed only, and
# a low-rank predictor of a random gate is poor (its singular values are
# flat). Needs python3-torch and python3-onnx (Debian) to generate them once.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
build=${ACTSPARSE_BUILD_DIR:-$root/build}
rounds=${ROUNDS:-3}
tokens=${TOKENS:-32}
sparsity=${SPARSITY:-0.9}
rank=${RANK:-64}
mkdir -p "$dir"
"$root/scripts/build.sh" >/dev/null
opt=$build/bin/sparse-opt
run=$build/bin/sparse-run

modes=(dense exact-gate lowrank apart)
prepare_modes=("${modes[@]}")
source "$root/bench/prepare-sparse-model.sh"
[ -n "${QUANT:-}" ] && modes+=("dense-$QUANT" "exact-gate-$QUANT" "lowrank-$QUANT" "apart-$QUANT")
peer=
if [ "${PEER:-}" = llamacpp ]; then
  venv_python=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}/venv-smollm2/bin/python
  [ -n "${QUANT:-}" ] && [ -n "${args+x}" ] && [ -x "$venv_python" ] ||
    { echo "bench: PEER=llamacpp needs QUANT, a synthetic SIZE and the venv of scripts/smollm2/make.sh" >&2; exit 1; }
  llama=$("$root/bench/build-llamacpp.sh" | tail -1)
  peer=$dir/$name-${QUANT^^}.gguf
  if [ ! -f "$peer" ]; then
    echo "bench: writing $name as a GGUF for llama.cpp (once)"
    "$venv_python" "$root/bench/make-synthetic-llama.py" "$dir/$name-gguf-unused" "${args[@]}" \
      --gguf "$dir/$name-F32.gguf" 2>&1 | grep -v Warning || true
    rm -f "$dir/$name-gguf-unused"*
    "$llama/llama-quantize" "$dir/$name-F32.gguf" "$peer" "${QUANT^^}" >/dev/null 2>&1
  fi
fi
# The pack each mode's model names.
pack_of() {
  case $1 in
    dense) echo "$w.pack" ;;
    exact-gate) echo "$w-bundled.pack" ;;
    lowrank) echo "$w-lowrank.pack" ;;
    apart) echo "$w-apart.pack" ;;
    *) echo "$w-$1.pack" ;;
  esac
}

echo "model: $name, FFN sparsity target $sparsity, rank $rank; $tokens tokens per round, $rounds rounds, 2 threads"
[ -f "$w-lowrank.report" ] && sed 's/^/  predictor: /' "$w-lowrank.report"
for r in $(seq "$rounds"); do
  line="round $r:"
  dense_ms=
  quant_ms=
  for m in "${modes[@]}"; do
    pack=$(pack_of "$m")
    "$run" "$w-$m.so" --weights "$pack" --input-ids 1 -n "$tokens" --stop-ids none --threads 2 \
      --stats-json "$dir/sparse-$m.json" > /dev/null 2> "$dir/sparse-$m.log"
    ms=$(python3 "$root/bench/json-get.py" "$dir/sparse-$m.json" 'd["decode_ms_per_token"]')
    [ -z "$dense_ms" ] && dense_ms=$ms
    [ "$m" = "dense-${QUANT:-}" ] && quant_ms=$ms
    read_kib=$(sed -n 's/.*bytes read per token: \([0-9.]*\) KiB (dense: \([0-9.]*\) KiB.*/\1 \2/p' "$dir/sparse-$m.log")
    line+=$(awk -v m="$m" -v ms="$ms" -v d="$dense_ms" -v q="$quant_ms" -v rk="$read_kib" 'BEGIN {
      split(rk, k, " "); s = sprintf(" %s %.2f ms (%.2fx", m, ms, d / ms)
      if (q != "" && m !~ /^dense/) s = s sprintf(", %.2fx quantized dense", q / ms)
      s = s ")"
      if (k[2] > 0) s = s sprintf(" [ffn read %.0f%% = %.0f KiB]", 100 * k[1] / k[2], k[1])
      printf "%s", s }')
  done
  echo "$line"
  if [ -n "$peer" ]; then
    tg=$("$llama/llama-bench" -m "$peer" -p 0 -n "$tokens" -t 2 -r 1 -o json 2>/dev/null |
      python3 -c 'import json,sys; print([x["avg_ts"] for x in json.load(sys.stdin) if x["n_gen"]>0][0])')
    line="         llama.cpp ${QUANT^^} dense: $(awk -v t="$tg" 'BEGIN { printf "%.2f ms", 1000 / t }');"
    for m in "dense-$QUANT" "exact-gate-$QUANT" "lowrank-$QUANT" "apart-$QUANT"; do
      ms=$(python3 "$root/bench/json-get.py" "$dir/sparse-$m.json" 'd["decode_ms_per_token"]')
      line+=$(awk -v m="$m" -v ms="$ms" -v t="$tg" 'BEGIN { printf " %s %.2fx", m, 1000 / t / ms }')
    done
    echo "$line (ActSparse / llama.cpp speed)"
  fi
  # Prefill of 64 tokens: dense kernels, the sparse kernel token by token
  # (--sparse-dense-rows 0) and with its default crossover.
  pf=
  for v in "dense -1" "exact-gate 0" "exact-gate -1"; do
    set -- $v
    pack=$w.pack
    [ "$1" = exact-gate ] && pack=$w-bundled.pack
    "$run" "$w-$1.so" --weights "$pack" --input-ids 1$(printf ',5%.0s' $(seq 63)) -n 1 --stop-ids none \
      --threads 2 --no-stats --sparse-dense-rows "$2" --stats-json "$dir/sparse-prefill.json" > /dev/null
    pf+=" $(python3 "$root/bench/json-get.py" "$dir/sparse-prefill.json" 'd["prefill_tokens_per_second"]')"
  done
  echo "$pf" | awk '{ printf "         prefill 64 tokens: dense %.1f tok/s; exact-gate token by token %.1f tok/s (%.2fx), with the dense crossover %.1f tok/s (%.2fx)\n", $1, $2, $2 / $1, $3, $3 / $1 }'
done
# The bound: dense bytes / (non-FFN bytes + FFN bytes read), from the pack
# sizes and the last round's figures.
for m in exact-gate lowrank; do
  awk -v total="$(stat -c %s "$w.pack")" -v m="$m" '
    /bytes read per token/ { gsub(/[(),%]/, " "); read = $7 * 1024; dense = $10 * 1024 }
    END { if (dense > 0) { other = total - dense; printf "bound for %s: dense bytes / bytes read = %.2fx (FFN %.0f MiB of %.0f MiB, reads %.1f%% of it)\n", m, total / (other + read), dense / 1048576, total / 1048576, 100 * read / dense } }' \
    "$dir/sparse-$m.log"
done
