#!/usr/bin/python3
"""Generates a synthetic Llama-shaped ONNX model with random weights, saved
with ONNX external data, for the import and (later) decode benchmarks.
Never committed: bench/run-import.sh makes it on demand.

Defaults give about 1.5 GB of fp32 weights (dim 2048, hidden 5632,
6 layers, 16 heads, vocab 32000, tied classifier); --layers 8 gives the
1.9 GB model of the decode benchmark.
Run with Debian's interpreter: /usr/bin/python3 bench/make-synthetic-llama.py OUT.onnx
"""

import argparse
import importlib.util
import os
import sys

import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    "fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seq-len", type=int, default=2048)
    args = ap.parse_args()

    torch.manual_seed(0)
    c = dict(dim=args.dim, hidden_dim=args.hidden, n_layers=args.layers,
             n_heads=args.heads, n_kv_heads=args.kv_heads,
             vocab_size=args.vocab, seq_len=args.seq_len)
    with torch.no_grad():
        model = fixtures.Llama(c).eval()
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    n = sum(p.numel() for p in model.parameters())
    print(f"synthetic llama: {n / 1e6:.0f} M parameters, {4 * n / 1e9:.2f} GB fp32",
          file=sys.stderr)
    ids = torch.tensor([[1, 2, 3, 4]], dtype=torch.int64)
    tmp = args.out + ".tmp.onnx"
    torch.onnx.export(model, (ids,), tmp, input_names=["input_ids"],
                      output_names=["logits"], opset_version=17,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}})
    m = onnx.load(tmp)
    os.remove(tmp)
    data = os.path.basename(args.out) + ".data"
    if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(args.out)), data)):
        os.remove(os.path.join(os.path.dirname(os.path.abspath(args.out)), data))
    onnx.save_model(m, args.out, save_as_external_data=True,
                    all_tensors_to_one_file=True, location=data,
                    size_threshold=1024)
    print(f"wrote {args.out} and {data}", file=sys.stderr)


if __name__ == "__main__":
    main()
