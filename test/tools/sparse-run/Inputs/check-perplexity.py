#!/usr/bin/env python3
"""Runs `sparse-run MODEL --perplexity` for every line of a windowed
perplexity reference (scripts/make-perplexity-refs.py; a seventh column
is --ctx-score-from) and checks the
perplexity (within 1e-4 relative), the tokens scored and the windows, from
the --stats-json file (which must parse as JSON).

usage: check-perplexity.py REF TEXT WORKDIR [--default-first] -- SPARSE-RUN ARGS...
With --default-first, the first line runs without --ctx-window /
--ctx-stride: the defaults (the model's context, half of it) must be that
line's window and stride.
"""
import json
import subprocess
import sys

sep = sys.argv.index("--")
ref, text, work = sys.argv[1:4]
default_first = "--default-first" in sys.argv[4:sep]
cmd = sys.argv[sep + 1:]
ids = open(text).read().split()
bad = 0
for k, line in enumerate(l for l in open(ref) if not l.startswith("#")):
    n, window, stride, ppl, tokens, windows, *score_from = line.split()
    part = f"{work}/ids-{k}.txt"
    with open(part, "w") as f:
        f.write(" ".join(ids[:int(n)]) + "\n")
    flags = [] if default_first and k == 0 else ["--ctx-window", window, "--ctx-stride", stride]
    flags += ["--ctx-score-from", score_from[0]] if score_from else []
    stats = f"{work}/stats-{k}.json"
    run = subprocess.run(cmd + ["--perplexity", part, "--stats-json", stats] + flags,
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(f"line {k + 1}: sparse-run failed: {run.stderr.strip()}")
        bad += 1
        continue
    got = json.load(open(stats))
    rel = abs(got["perplexity"] - float(ppl)) / float(ppl)
    ok = rel < 1e-4 and got["tokens"] == int(tokens) and got["windows"] == int(windows)
    how = f" score-from {score_from[0]}" if score_from else ""
    print(f"{'ok' if ok else 'MISMATCH'}: {n} ids, window {window} stride {stride}{how}: "
          f"perplexity {got['perplexity']:.6f} (PyTorch {ppl}, rel {rel:.1e}), "
          f"{got['tokens']} tokens, {got['windows']} windows; {run.stdout.strip()}")
    bad += not ok
sys.exit(1 if bad else 0)
