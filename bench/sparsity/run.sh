#!/bin/bash
# Accuracy of every sparsification method on stories260K: FFN sparsity on
# the evaluation text, perplexity, its change against the original model,
# and the start of the greedy story. Writes a markdown table (docs/Sparsity.md
# holds a copy with the conditions of the run).
#
#   bash bench/sparsity/run.sh [OUT_DIR]
#
# Calibration text: 8 stories sampled from the original model (temperature
# 1, seeds 1..8, up to 256 tokens each). Evaluation text:
# bench/sparsity/eval.txt, written by hand, so it is disjoint from the
# calibration text. JOBS=N runs N methods at once (default 2).
#
# MODEL=smollm2: SmolLM2-135M-Instruct (after scripts/smollm2/make.sh), with
# the methods that keep its SiLU or swap it, at 50-90 %. Calibration text:
# the Apache License 2.0 (2176 tokens, refs/calibration.txt); evaluation
# text: the first 511 tokens of the GNU GPL v3 (refs/perplexity.txt), as in
# docs/SmolLM2.md. Each method compiles the 135M model, so JOBS=1 is the
# default there (about 4 minutes a method on 2 cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
OUT=${1:-/tmp/actsparse-sparsity}
mkdir -p "$OUT"
cd "$OUT"
[ -x "$BIN/sparse-opt" ] || { echo "build first: bash scripts/build.sh" >&2; exit 1; }

if [ "${MODEL:-stories260K}" = smollm2 ]; then
  JOBS=${JOBS:-1}
  SMOL=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}/smollm2
  [ -f "$SMOL/onnx-kv/model.onnx" ] || { echo "run scripts/smollm2/make.sh first" >&2; exit 1; }
  MODEL=$SMOL/onnx-kv/model.onnx
  TOK=$SMOL/tokenizer.json
  EVAL=$SMOL/refs/perplexity.txt   # token ids
  if [ -z "${TABLE_ONLY:-}" ]; then
    "$BIN/sparse-opt" "$MODEL" --weight-pack base.pack --quiet -o base.mlir
    cp "$SMOL/refs/calibration.txt" calib.txt
  fi
  METHODS=("original SiLU|-|-" "ReLU swap|mode=relu|-")
  for pct in 50 60 70 80 90; do
    s=0.$((pct / 10))
    METHODS+=("SiLU threshold (TEAL/CATS), $pct %|-|target-sparsity=$s")
    METHODS+=("SiLU threshold on the neuron, $pct %|-|target-sparsity=$s threshold-on=neuron")
  done
  METHODS+=("SiLU threshold (TEAL/CATS), 70 % + repair|-|target-sparsity=0.7 repair=true")
  METHODS+=("SiLU threshold on the neuron, 70 % + repair|-|target-sparsity=0.7 threshold-on=neuron repair=true")
  METHODS+=("shifted ReLU, 70 % (per layer) + repair|mode=relu|tune=shift target-sparsity=0.7 repair=true")
  # One recording of all 30 blocks (sequential calibration compiles the
  # model once per block); the evaluation text is token ids; the sample is
  # a chat answer.
  EXTRA_CAL=${EXTRA_CAL:-sequential=false}
  EVAL_ARGS=()
  SAMPLE_ARGS=(--tokenizer "$TOK" --chat --prompt "Write a haiku about the sea.")
  JOIN_SAMPLE=1
else
JOBS=${JOBS:-2}
MODEL=$ROOT/test/Import/Inputs/llama-decode.onnx
TOK=$ROOT/models/stories260K/tok512.bin
EVAL=$ROOT/bench/sparsity/eval.txt
EVAL_ARGS=(--tokenizer "$TOK")
SAMPLE_ARGS=(--tokenizer "$TOK")
if [ -z "${TABLE_ONLY:-}" ]; then
  "$BIN/sparse-opt" "$MODEL" --weight-pack base.pack --quiet -o base.mlir
  "$BIN/sparse-opt" base.mlir --actsparse-fuse-ffn --emit=shared-lib -o base.so
  for seed in 1 2 3 4 5 6 7 8; do
    echo "1 $("$BIN/sparse-run" base.so --weights base.pack -n 255 --temperature 1 \
              --seed $seed --print-ids --no-stats)"
  done > calib.txt
  echo "calibration: $(wc -w < calib.txt) tokens in 8 sequences" >&2
fi

# name | relufy options (or -) | calibrate options (or -)
METHODS=(
  "original SiLU|-|-"
  "ReLU swap|mode=relu|-"
  "ReLU + repair|mode=relu|repair=true"
  "shifted ReLU, 70 % (per layer)|mode=relu|tune=shift target-sparsity=0.7"
  "shifted ReLU, 70 % (per layer) + repair|mode=relu|tune=shift target-sparsity=0.7 repair=true"
  "shifted ReLU, 70 % (per neuron)|mode=relu|tune=shift granularity=neuron target-sparsity=0.7"
  "shifted ReLU, 70 % (per neuron) + repair|mode=relu|tune=shift granularity=neuron target-sparsity=0.7 repair=true"
  "FATReLU threshold, 50 %|mode=relu|target-sparsity=0.5"
  "FATReLU threshold, 50 % + repair|mode=relu|target-sparsity=0.5 repair=true"
  "FATReLU threshold, 70 %|mode=relu|target-sparsity=0.7"
  "FATReLU threshold, 70 % + repair|mode=relu|target-sparsity=0.7 repair=true"
  "FATReLU threshold, 90 %|mode=relu|target-sparsity=0.9"
  "FATReLU threshold, 90 % + repair|mode=relu|target-sparsity=0.9 repair=true"
  "SiLU threshold (TEAL/CATS), 50 %|-|target-sparsity=0.5"
  "SiLU threshold (TEAL/CATS), 50 % + repair|-|target-sparsity=0.5 repair=true"
  "SiLU threshold (TEAL/CATS), 70 %|-|target-sparsity=0.7"
  "SiLU threshold (TEAL/CATS), 70 % + repair|-|target-sparsity=0.7 repair=true"
  "SiLU threshold (TEAL/CATS), 90 %|-|target-sparsity=0.9"
  "SiLU threshold (TEAL/CATS), 90 % + repair|-|target-sparsity=0.9 repair=true"
  "SiLU threshold on the neuron, 50 %|-|target-sparsity=0.5 threshold-on=neuron"
  "SiLU threshold on the neuron, 50 % + repair|-|target-sparsity=0.5 threshold-on=neuron repair=true"
  "SiLU threshold on the neuron, 60 %|-|target-sparsity=0.6 threshold-on=neuron"
  "SiLU threshold on the neuron, 65 %|-|target-sparsity=0.65 threshold-on=neuron"
  "SiLU threshold on the neuron, 70 %|-|target-sparsity=0.7 threshold-on=neuron"
  "SiLU threshold on the neuron, 70 % + repair|-|target-sparsity=0.7 threshold-on=neuron repair=true"
  "SiLU threshold on the neuron, 90 %|-|target-sparsity=0.9 threshold-on=neuron"
  "SiLU threshold on the neuron, 90 % + repair|-|target-sparsity=0.9 threshold-on=neuron repair=true"
  "FATReLU threshold on the neuron, 70 % + repair|mode=relu|target-sparsity=0.7 threshold-on=neuron repair=true"
  "dReLU (ReLU on gate and up) + repair|mode=relu drelu=true|repair=true"
  "ReLU + stage 2 (after the norms) + repair|mode=relu stage2=true|repair=true"
)
fi
EXTRA_CAL=${EXTRA_CAL:-}

run_method() {
  local i=$1 spec=$2
  IFS='|' read -r name relufy calibrate <<< "$spec"
  local passes=(--actsparse-fuse-ffn) pack=base.pack
  [ "$relufy" != - ] && passes+=("--actsparse-relufy=$relufy")
  if [ "$calibrate" != - ]; then
    local cal="tokens=calib.txt quiet=true report=m$i.report $calibrate $EXTRA_CAL"
    if [[ "$calibrate" == *repair=true* ]]; then
      cal="$cal output-pack=m$i.pack"; pack=m$i.pack
    fi
    passes+=("--actsparse-calibrate=$cal")
  fi
  "$BIN/sparse-opt" base.mlir "${passes[@]}" --emit=shared-lib -o m$i.so
  "$BIN/sparse-run" m$i.so --weights $pack "${EVAL_ARGS[@]}" --perplexity "$EVAL" \
    --no-stats --stats-json m$i.json > /dev/null
  "$BIN/sparse-run" m$i.so --weights $pack "${SAMPLE_ARGS[@]}" -n 48 --no-stats \
    | { if [ -n "${JOIN_SAMPLE:-}" ]; then tr '\n' ' '; else head -1; fi; } > m$i.sample
  echo "done: $name" >&2
}

# TABLE_ONLY=1: only tabulate the results already in OUT_DIR.
i=0
[ -n "${TABLE_ONLY:-}" ] || for spec in "${METHODS[@]}"; do
  run_method $i "$spec" &
  i=$((i + 1))
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
done
wait

jget() { python3 "$ROOT/bench/json-get.py" "$@"; }
base=$(jget m0.json 'd["perplexity"]')
{
echo "| method | FFN sparsity (eval) | perplexity | change | new active, k=1 | active in 8 tokens | greedy sample (48 tokens) |"
echo "|---|---|---|---|---|---|---|"
i=0
for spec in "${METHODS[@]}"; do
  IFS='|' read -r name relufy calibrate <<< "$spec"
  ppl=$(jget m$i.json 'd["perplexity"]')
  sp=$(jget m$i.json 'd["ffn"]["sparsity"]')
  # Windowing: of a token's active neurons, the share its predecessor did
  # not need (new_active[0]); the share of neurons 8 consecutive tokens
  # need together (window_density[7]).
  new1=$(jget m$i.json 'd["ffn"]["new_active"][0]')
  win8=$(jget m$i.json 'd["ffn"]["window_density"][7]')
  sample=$(tr '|' '/' < m$i.sample)
  awk -v n="$name" -v p="$ppl" -v b="$base" -v s="$sp" -v t="$sample" \
      -v a="$new1" -v w="$win8" 'BEGIN {
    printf "| %s | %.1f %% | %.3f | %+.1f %% | %.1f %% | %.1f %% | %s |\n",
      n, 100 * s, p, 100 * (p / b - 1), 100 * a, 100 * w, t }'
  i=$((i + 1))
done
} | tee table.md
