#!/usr/bin/python3
"""Windowed perplexity references for sparse-run --perplexity, from PyTorch.

Texts longer than a model's context are scored as transformers documents it
("Perplexity of fixed-length models") and llama.cpp does: windows of
WINDOW tokens starting STRIDE apart, each run on its own; a window scores
the tokens after the previous window's end (the first window all of its
own but the first token), so every token but the first is scored once.

Writes, into test/tools/sparse-run/Inputs/:
  perplexity-long-llama.txt / .ref   stories260K (context 512), 1600 ids
  perplexity-long-gpt2.txt / .ref    the gpt2 fixture (context 128), 400 ids
Each .ref line: "IDS WINDOW STRIDE PERPLEXITY TOKENS WINDOWS [SCORE-FROM]":
the first IDS ids of the text scored with those windows (the whole text,
exactly the context, and one token more; with SCORE-FROM, as llama.cpp's
perplexity tool scores, sparse-run --ctx-score-from). The models are the fixtures' own (scripts/make-fixtures.py);
the script checks that they still reproduce the committed fixture
references before writing anything.
Run with Debian's interpreter: /usr/bin/python3 scripts/make-perplexity-refs.py
"""

import importlib.util
import math
import os
import random
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    "fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)
INPUTS = os.path.join(ROOT, "test", "Import", "Inputs")
OUT = os.path.join(ROOT, "test", "tools", "sparse-run", "Inputs")


def windowed_nll(model, ids, window, stride, score_from=0):
    """Summed NLL (float64), tokens scored, windows.

    With score_from > 0, llama.cpp's perplexity tool instead: whole windows
    only, each scoring the tokens its logits at positions score_from ..
    window - 2 predict."""
    n = len(ids)
    if score_from:
        nll, count, windows = 0.0, 0, 0
        for begin in range(0, n - window + 1, stride):
            with torch.no_grad():
                logits = model(torch.tensor([ids[begin:begin + window]],
                                            dtype=torch.int64))[0]
            logp = torch.log_softmax(logits.double(), dim=-1)
            for j in range(score_from, window - 1):
                nll -= float(logp[j, ids[begin + j + 1]])
                count += 1
            windows += 1
        return nll, count, windows
    if window <= 0 or window >= n:
        window = n
    nll, count, windows, scored_to = 0.0, 0, 0, 1
    begin = 0
    while True:
        end = min(begin + window, n)
        with torch.no_grad():
            logits = model(torch.tensor([ids[begin:end - 1]], dtype=torch.int64))[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        for p in range(max(scored_to, begin + 1), end):
            nll -= float(logp[p - 1 - begin, ids[p]])
            count += 1
        scored_to = end
        windows += 1
        if end == n:
            return nll, count, windows
        begin += stride


def check_fixture(model, name):
    """The model must still give the fixture's reference logits."""
    path = os.path.join(INPUTS, f"{name}-full.ref.txt")
    lines = open(path).read().split("\n")
    ids = [int(x) for x in lines[2].split()]
    want = torch.tensor([float(x) for x in lines[4].split()])
    with torch.no_grad():
        got = model(torch.tensor([ids], dtype=torch.int64)).reshape(-1)
    err = float((got - want).abs().max())
    if err > 1e-5:
        sys.exit(f"{name}: the model no longer matches {path} (max error {err})")


def main():
    llama = fixtures.load_stories260k(
        os.path.join(ROOT, "models", "stories260K", "stories260K.bin"))
    gpt2 = fixtures.random_decoder("gelu_tanh", 0, 1)
    check_fixture(llama, "llama")
    check_fixture(gpt2, "gpt2")

    # stories260K: the greedy story (real text) repeated with a different
    # stretch in each copy, from BOS, 1600 ids; 3x the context and more.
    story = [int(x) for x in open(os.path.join(INPUTS, "llama-greedy.txt"))
             .read().split("\n")[1].split()[1:]]
    rng = random.Random(5)
    ids = []
    while len(ids) < 1600:
        copy = list(story)
        at = rng.randrange(1, len(copy) - 8)
        copy[at:at + 6] = [rng.randrange(3, 512) for _ in range(6)]
        ids += copy
    ids = ids[:1600]
    # (ids, window, stride[, score_from]): the last ones score as
    # llama-perplexity -c WINDOW does (sparse-run --ctx-score-from).
    cases = {"llama": (llama, ids, [(1600, 512, 256), (1600, 512, 512),
                                    (1600, 300, 100), (512, 512, 256),
                                    (513, 512, 256), (1600, 512, 512, 256),
                                    (1600, 300, 300, 150)]),
             # gpt2 fixture: vocabulary 128, random weights, random ids.
             "gpt2": (gpt2, [rng.randrange(0, 128) for _ in range(400)],
                      [(400, 128, 64), (400, 128, 128), (400, 100, 30),
                       (128, 128, 64), (129, 128, 64), (400, 128, 128, 64)])}
    os.makedirs(OUT, exist_ok=True)
    for name, (model, tokens, windows) in cases.items():
        with open(os.path.join(OUT, f"perplexity-long-{name}.txt"), "w") as f:
            f.write(" ".join(map(str, tokens)) + "\n")
        with open(os.path.join(OUT, f"perplexity-long-{name}.ref"), "w") as f:
            f.write("# ids window stride perplexity tokens windows [score-from] "
                    "(scripts/make-perplexity-refs.py, PyTorch float64 log-softmax)\n")
            for n, window, stride, *score_from in windows:
                nll, count, nwin = windowed_nll(model, tokens[:n], window, stride,
                                                *score_from)
                extra = f" {score_from[0]}" if score_from else ""
                f.write(f"{n} {window} {stride} {math.exp(nll / count):.6f} {count} {nwin}{extra}\n")
                print(f"{name}: {n} ids, window {window} stride {stride}: "
                      f"perplexity {math.exp(nll / count):.4f} over {count} tokens, "
                      f"{nwin} windows")


if __name__ == "__main__":
    main()
