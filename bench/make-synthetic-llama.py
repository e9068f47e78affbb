#!/usr/bin/python3
"""Generates a synthetic Llama-shaped ONNX model with random weights, saved
with ONNX external data, for the import and (later) decode benchmarks.
Never committed: bench/run-import.sh makes it on demand.

Defaults give about 1.5 GB of fp32 weights (dim 2048, hidden 5632,
6 layers, 16 heads, vocab 32000, tied classifier); --layers 8 gives the
1.9 GB model of the decode benchmark.
Run with Debian's interpreter: /usr/bin/python3 bench/make-synthetic-llama.py OUT
(writes OUT-full.onnx and OUT-decode.onnx, each with external data)
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
    ap.add_argument("out", help="path prefix: writes OUT-full.onnx and OUT-decode.onnx")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--gate-rank", type=int, default=0,
                    help="give each FFN gate weight this rank (plus GATE_NOISE "
                         "of full-rank noise), so that a low-rank predictor "
                         "can predict it as in trained models; 0: fully random")
    ap.add_argument("--gate-noise", type=float, default=0.2)
    ap.add_argument("--gguf", metavar="FILE",
                    help="instead of ONNX, write the same weights as an f32 GGUF "
                         "for llama.cpp, with VOCAB placeholder tokens (needs the "
                         "gguf package: run with a venv's python)")
    args = ap.parse_args()

    torch.manual_seed(0)
    c = dict(dim=args.dim, hidden_dim=args.hidden, n_layers=args.layers,
             n_heads=args.heads, n_kv_heads=args.kv_heads,
             vocab_size=args.vocab, seq_len=args.seq_len)
    with torch.no_grad():
        model = fixtures.Llama(c).eval()
        for p in model.parameters():
            p.normal_(0.0, 0.02)
        if args.gate_rank > 0:
            # Trained gates have fast-decaying spectra; random ones are flat.
            for layer in model.layers:
                w = layer.w1.weight  # [hidden, dim]
                a = torch.randn(w.shape[0], args.gate_rank)
                b = torch.randn(args.gate_rank, w.shape[1])
                low = a @ b / args.gate_rank ** 0.5 * 0.02
                w.copy_(low + torch.randn_like(w) * 0.02 * args.gate_noise)
    n = sum(p.numel() for p in model.parameters())
    print(f"synthetic llama: {n / 1e6:.0f} M parameters, {4 * n / 1e9:.2f} GB fp32",
          file=sys.stderr)
    if args.gguf:
        write_gguf(model, c, args.gguf)
        return
    # Full-sequence and KV-cache decode graphs, external data, and PyTorch
    # reference outputs, exactly as for the test fixtures.
    out_dir = os.path.dirname(os.path.abspath(args.out)) or "."
    name = os.path.basename(args.out)
    fixtures.export_pair(model, name, out_dir, 17, True, [1, 2, 3, 4, 5, 6, 7, 8])


def write_gguf(model, c, path):
    """llama.cpp's llama architecture holds the same model: RMSNorm eps 1e-5,
    RoPE on interleaved pairs (its default for llama, as in llama2.c), the
    classifier tied to the embedding (no output.weight). Tokens are
    placeholders: <unk>, <s>, </s>, the 256 byte tokens, then t<i>."""
    import gguf

    hd = c["dim"] // c["n_heads"]
    w = gguf.GGUFWriter(path, "llama")
    w.add_context_length(c["seq_len"])
    w.add_embedding_length(c["dim"])
    w.add_block_count(c["n_layers"])
    w.add_feed_forward_length(c["hidden_dim"])
    w.add_rope_dimension_count(hd)
    w.add_head_count(c["n_heads"])
    w.add_head_count_kv(c["n_kv_heads"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    words = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    words += ["t%d" % i for i in range(len(words), c["vocab_size"])]
    types = ([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
             + [gguf.TokenType.BYTE] * 256)
    types += [gguf.TokenType.NORMAL] * (c["vocab_size"] - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(words[:c["vocab_size"]])
    w.add_token_scores([-float(i) for i in range(c["vocab_size"])])
    w.add_token_types(types[:c["vocab_size"]])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def put(name, t):
        w.add_tensor(name, t.detach().contiguous().numpy().astype("float32"))

    put("token_embd.weight", model.tok_embeddings.weight)
    names = {"attention_norm": "attn_norm", "wq": "attn_q", "wk": "attn_k",
             "wv": "attn_v", "wo": "attn_output", "ffn_norm": "ffn_norm",
             "w1": "ffn_gate", "w2": "ffn_down", "w3": "ffn_up"}
    for i, layer in enumerate(model.layers):
        for ours, theirs in names.items():
            put(f"blk.{i}.{theirs}.weight", getattr(layer, ours).weight)
    put("output_norm.weight", model.norm.weight)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
