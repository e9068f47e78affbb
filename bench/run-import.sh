#!/usr/bin/env bash
# Import benchmark: peak RSS and wall time of `sparse-opt model.onnx` on a
# synthetic Llama-shaped model of about 1.5 GB with external data, against
# a plain copy of the same external-data file in the same run (the least
# any importer that writes a weight pack must do).
#
#   bash bench/run-import.sh            # generates the model on first use
#   ACTSPARSE_BENCH_DIR=/big/disk bash bench/run-import.sh
#
# Needs python3-torch and python3-onnx (Debian) to generate the model.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${ACTSPARSE_BENCH_DIR:-/tmp/actsparse-bench}
build=${ACTSPARSE_BUILD_DIR:-$root/build}
model=$dir/llama-1.5g.onnx
mkdir -p "$dir"

"$root/scripts/build.sh" >/dev/null
if [ ! -f "$model" ]; then
  echo "bench: generating $model (about a minute)"
  /usr/bin/python3 "$root/bench/make-synthetic-llama.py" "$model" 2>&1 | grep -v Warning
fi
data=$model.data
bytes=$(stat -c %s "$data")
cat "$data" >/dev/null # same page-cache state for both runs

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/time.$label" "$@" >/dev/null 2>"$dir/log.$label"
  read -r secs rss <"$dir/time.$label"
  echo "$secs $rss"
}
read -r copy_s copy_kb < <(measure copy cp "$data" "$dir/copy.data")
read -r imp_s imp_kb < <(measure import "$build/bin/sparse-opt" "$model" -o "$dir/llama.mlir" --quiet)
rm -f "$dir/copy.data"

awk -v b="$bytes" -v cs="$copy_s" -v ck="$copy_kb" -v is="$imp_s" -v ik="$imp_kb" 'BEGIN {
  printf "external data:        %.0f MiB\n", b / 1048576
  printf "plain copy (cp):      %6.2f s, peak RSS %4.0f MiB\n", cs, ck / 1024
  printf "sparse-opt import:    %6.2f s, peak RSS %4.0f MiB\n", is, ik / 1024
  printf "import / copy time:   %.2fx\n", (cs > 0 ? is / cs : 0)
  printf "peak RSS / weights:   %.3f\n", ik * 1024 / b
}'
