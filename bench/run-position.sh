#!/bin/bash
# Decode cost against the position: how much a token costs at position p,
# measured as the difference of whole decode times, (T(n2) - T(n1)) / (n2 -
# n1), between runs of n1 and n2 generated tokens (greedy from BOS, never
# stopping early), medians of interleaved rounds. Writes a markdown table
# and an SVG plot of ms/token against position.
#
#   bash bench/run-position.sh MODEL.so|MODEL.mlir [OUT_DIR]
#
# POSITIONS (default "16 64 128 256 384 500"), ROUNDS (3), THREADS (1),
# WEIGHTS (the pack the model names) and EXTRA (more sparse-run flags, e.g.
# --input-ids for a model without BOS 1) as environment variables.
#
# MODE=prompt measures each position directly instead: a prompt of p
# tokens (BOS, then token 5) is prefilled, and the next STEPS (16) decode
# steps, positions p to p + STEPS, are timed. Runs are short, so a round
# visits every position within a minute or two and the machine's drift
# between rounds cancels in the per-round ratios (the table gives their
# median); the difference method needs runs of minutes, over which a shared
# machine's speed drifts by a third.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
MODEL=${1:?usage: run-position.sh MODEL.so|MODEL.mlir [OUT_DIR]}
OUT=${2:-/tmp/actsparse-position}
POSITIONS=${POSITIONS:-16 64 128 256 384 500}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
mkdir -p "$OUT"
args=(--stop-ids none --print-ids --no-stats --threads "$THREADS")
[ -n "${WEIGHTS:-}" ] && args+=(--weights "$WEIGHTS")
# shellcheck disable=SC2206
[ -n "${EXTRA:-}" ] && args+=($EXTRA)
# Compile (or load from the cache) once before measuring.
"$BIN/sparse-run" "$MODEL" "${args[@]}" -n 2 > /dev/null
: > "$OUT/times.txt"
MODE=${MODE:-difference}
STEPS=${STEPS:-16}
for r in $(seq "$ROUNDS"); do
  for n in $POSITIONS; do
    if [ "$MODE" = prompt ]; then
      ids=1$(printf ',5%.0s' $(seq $((n - 1))))
      "$BIN/sparse-run" "$MODEL" "${args[@]}" --input-ids "$ids" -n "$((STEPS + 1))" \
        --stats-json "$OUT/s.json" > /dev/null
      t=$(python3 "$ROOT/bench/json-get.py" "$OUT/s.json" 'd["decode_ms_per_token"]')
    else
      "$BIN/sparse-run" "$MODEL" "${args[@]}" -n "$n" --stats-json "$OUT/s.json" > /dev/null
      t=$(python3 "$ROOT/bench/json-get.py" "$OUT/s.json" 'd["decode_seconds"]')
    fi
    echo "$r $n $t" | tee -a "$OUT/times.txt"
  done
done
python3 - "$OUT" "$MODEL" "$THREADS" "$MODE" "$STEPS" <<'PY'
import statistics, sys
out, model, threads, mode, steps = sys.argv[1:6]
times, by_round = {}, {}
for line in open(f"{out}/times.txt"):
    r, n, t = line.split()
    times.setdefault(int(n), []).append(float(t))
    by_round.setdefault(r, {})[int(n)] = float(t)
ns = sorted(times)
med = {n: statistics.median(times[n]) for n in ns}
rows, prev = [], 0
if mode == "prompt":
    # Each run's decode ms/token at positions n..n+steps; the ratio is the
    # median over rounds of the run's cost against the same round's first.
    for n in ns:
        ratios = [t[n] / t[ns[0]] for t in by_round.values()
                  if n in t and ns[0] in t]
        rows.append((n, n + int(steps), med[n], statistics.median(ratios)))
else:
    for n in ns:
        # Generating n tokens runs n - 1 decode steps after the prompt's.
        lo = 1 if prev == 0 else prev
        steps_n = (n - 1) - (lo - 1 if prev else 0)
        cost = (med[n] - (med[prev] if prev else 0)) / max(1, steps_n) * 1000
        rows.append((lo, n, cost, None))
        prev = n
    rows = [(lo, n, c, c / rows[0][2]) for lo, n, c, _ in rows]
with open(f"{out}/table.md", "w") as f:
    f.write(f"| positions | ms/token | vs the first |\n|---|---|---|\n")
    for lo, n, c, ratio in rows:
        f.write(f"| {lo}-{n} | {c:.3f} | {ratio:.2f}x |\n")
print(open(f"{out}/table.md").read())
# The plot: each segment's cost at its midpoint.
W, H, L, B = 560, 320, 60, 40
xs = [(lo + n) / 2 for lo, n, _, _ in rows]
ys = [c for _, _, c, _ in rows]
xmax, ymax = max(n for _, n, _, _ in rows), max(ys) * 1.1
px = lambda x: L + (W - L - 20) * x / xmax
py = lambda y: H - B - (H - B - 20) * y / ymax
pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{L}" y2="20" stroke="black"/>',
       f'<text x="{(W+L)/2}" y="{H-8}" text-anchor="middle">position (tokens)</text>',
       f'<text x="14" y="{H/2}" transform="rotate(-90 14 {H/2})" text-anchor="middle">decode ms/token</text>',
       f'<text x="{W-20}" y="16" text-anchor="end">{model.split("/")[-1]}, {threads} thread(s)</text>']
for k in range(5):
    y = ymax * k / 4
    svg.append(f'<text x="{L-6}" y="{py(y)+4:.1f}" text-anchor="end">{y:.2f}</text>')
    svg.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W-20}" y2="{py(y):.1f}" stroke="#ddd"/>')
for x in [0] + [n for _, n, _, _ in rows]:
    svg.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x}</text>')
svg.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
for x, y in zip(xs, ys):
    svg.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#1f77b4"/>')
svg.append("</svg>")
open(f"{out}/position.svg", "w").write("\n".join(svg) + "\n")
print(f"wrote {out}/table.md and {out}/position.svg")
PY
