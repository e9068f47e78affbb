#!/usr/bin/env bash
# Fuzzes the parsers of untrusted files with libFuzzer, ASan and UBSan.
#
#   bash scripts/fuzz.sh [--time SECONDS] [--runs N] [--jobs J] [TARGET...]
#
# Builds build-fuzz/ with clang-22 (-DACTSPARSE_FUZZ=ON; installs clang-22,
# libclang-rt-22-dev and libfuzzer-22-dev when missing), then runs each
# target (default: all) until N executions (default 1,000,000) or SECONDS
# (default 1800) have passed, whichever comes first. The corpus grows in
# build-fuzz/corpus/<target>/, seeded from the fixtures the test suite
# replays; crashes, leaks, timeouts and out-of-memory inputs land in
# build-fuzz/artifacts/<target>/ and make the script exit 1. A line per
# target reports executions, coverage and the outcome; move every crashing
# input into test/fuzz/regressions/<target>/ once it is fixed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_FUZZ_BUILD_DIR:-$root/build-fuzz}
time_limit=1800 runs=1000000 jobs=1
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --time) time_limit=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(onnx onnxtxt weight-pack tokenizer-bin tokenizer-json tokenizer-model
     reference token-ids)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")

ACTSPARSE_EXTRA_PACKAGES="clang-22 libclang-rt-22-dev libfuzzer-22-dev" \
  bash "$root/scripts/setup.sh"

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
mkdir -p "$build"
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DACTSPARSE_FUZZ=ON > "$build/configure.log" ||
    { cat "$build/configure.log"; exit 1; }
fi
cmake --build "$build" --target "${targets[@]/#/fuzz-}"

# Generated code is not involved; the runtime's own allocations must fail
# cleanly, so a failed malloc returns null rather than aborting.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-16s %12s %8s %8s %10s  %s\n' target executions cov ft seconds outcome
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t artifacts=$build/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  rm -f "$artifacts"/* # only what this run finds is reported
  # libFuzzer takes corpus directories: copy the seeds in (seed directories
  # whole), keeping what earlier runs found.
  while read -r seed; do
    [[ -z $seed ]] && continue
    if [[ -d $seed ]]; then cp -n "$seed"/* "$corpus"/ 2>/dev/null || true
    else cp -n "$seed" "$corpus"/; fi
  done < "$build/fuzz/$t.seeds"
  parallel=()
  [[ $jobs -gt 1 ]] && parallel=(-jobs="$jobs" -workers="$jobs")
  log=$build/fuzz-$t.log
  start=$(date +%s)
  set +e
  "$build/fuzz/fuzz-$t" "$corpus" \
    -runs="$runs" -max_total_time="$time_limit" -timeout=20 \
    -rss_limit_mb=3072 -malloc_limit_mb=2048 -max_len=1048576 \
    "${parallel[@]}" -print_final_stats=1 -close_fd_mask=3 \
    -artifact_prefix="$artifacts/" > "$log" 2>&1
  rc=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  stat() { { grep -o "$1 [0-9]*" "$log" || true; } | tail -1 | awk '{print $NF}'; }
  execs=$(stat 'stat::number_of_executed_units:')
  cov=$(stat ' cov:')
  ft=$(stat ' ft:')
  outcome=clean
  if [[ $rc -ne 0 ]] || ls "$artifacts" | grep -q .; then
    outcome="FAILED (exit $rc; $(ls "$artifacts" | head -3 | tr '\n' ' '); see $log)"
    status=1
  fi
  printf '%-16s %12s %8s %8s %10s  %s\n' "$t" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "$seconds" "$outcome"
done
exit $status
