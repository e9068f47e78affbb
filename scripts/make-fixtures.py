#!/usr/bin/python3
"""Regenerates the ONNX fixtures under test/Import/Inputs/ and their PyTorch
reference outputs.

Three decoder families, each exported by torch.onnx.export (Debian's
python3-torch 1.13) twice: a full-sequence graph (input_ids -> logits) and a
KV-cache decode graph (input_ids, position_ids, past_key_values.N.key/value
-> logits, present.N.key/value).

  llama     the real stories260K checkpoint (RMSNorm, interleaved RoPE, GQA,
            SwiGLU, classifier tied to the embedding)
  gpt2      GPT-2 style, random weights: LayerNorm, learned positions, GELU in
            its tanh form (gelu_new); gpt2_erf is the same with exact GELU
            and an older opset (LayerNorm decomposed)
  opt       OPT style, random weights: ReLU FFN, learned positions offset by 2;
            saved with ONNX external data to exercise that path

For every graph the script writes <name>.onnx and <name>.ref.txt: the
inputs it fed and the outputs PyTorch computed, for the end-to-end tests.
For stories260K it also writes llama-greedy.txt: the tokens and text of
greedy decoding from BOS as llama2.c's run.c does it (stop at BOS or after
200 tokens), computed by the PyTorch model.
Run with Debian's interpreter: /usr/bin/python3 scripts/make-fixtures.py
"""

import argparse
import math
import shutil
import tempfile
import os
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------
# Llama (llama2.c semantics)
# --------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# --------------------------------------------------------------------------
# Sparsity transforms: the semantics of actsparse.ffn and of the
# --actsparse-relufy modes (ActSparseOps.td, Passes.td), written again in
# PyTorch as the independent reference for the compiled transformed models.
# --------------------------------------------------------------------------

ACTIVATIONS = {"silu": F.silu, "gelu_tanh": None, "gelu_erf": F.gelu, "relu": F.relu}


def sparse_neurons(pre, up, act, cfg):
    """h of one FFN block: pre is the gate projection of a gated block (up its
    up projection) or the up projection of a plain block (up is None)."""
    mode = cfg.get("mode")
    if mode in ("relu", "shifted-relu", "fatrelu"):
        act = "relu"
    if mode == "shifted-relu":
        pre = pre - cfg["shift"]
    a = gelu_new(pre) if act == "gelu_tanh" else ACTIVATIONS[act](pre)
    if up is not None and cfg.get("drelu"):
        up = F.relu(up)
    h = a if up is None else a * up
    if mode in ("fatrelu", "threshold"):
        # threshold-on=neuron compares |h| (the neuron), else |a|.
        v = h if cfg.get("threshold_on") == "neuron" else a
        h = torch.where(v.abs() >= cfg["threshold"], h, torch.zeros((), dtype=h.dtype))
    return h


def stage2(h, cfg):
    """Stage 2 of ReLU Strikes Back: ReLU after the norms feeding attention
    and the FFN (not the final norm)."""
    return F.relu(h) if cfg.get("stage2") else h


def rope_tables(head_dim, max_seq, theta=10000.0):
    # llama2.c: freq = 1 / theta^(i / head_dim) for even i, rotation of the
    # interleaved pair (i, i + 1) by pos * freq.
    freqs = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(max_seq).float(), freqs)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x, cos, sin):
    # x: [B, H, S, hd]; cos/sin: [B, 1, S, hd/2]
    b, h, s, hd = x.shape
    xr = x.reshape(b, h, s, hd // 2, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], dim=-1).reshape(b, h, s, hd)


class LlamaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.n_kv = c["n_heads"], c["n_kv_heads"]
        self.hd = c["dim"] // c["n_heads"]
        dim, hidden = c["dim"], c["hidden_dim"]
        self.attention_norm = RMSNorm(dim)
        self.wq = nn.Linear(dim, self.n_heads * self.hd, bias=False)
        self.wk = nn.Linear(dim, self.n_kv * self.hd, bias=False)
        self.wv = nn.Linear(dim, self.n_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_heads * self.hd, dim, bias=False)
        self.ffn_norm = RMSNorm(dim)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.sparse = {}
        self.act = "silu"

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, s, _ = x.shape
        h = stage2(self.attention_norm(x), self.sparse)
        q = self.wq(h).view(b, s, self.n_heads, self.hd).transpose(1, 2)
        k = self.wk(h).view(b, s, self.n_kv, self.hd).transpose(1, 2)
        v = self.wv(h).view(b, s, self.n_kv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        # GQA: query head h reads kv head h // rep (HF's repeat_kv).
        rep = self.n_heads // self.n_kv
        t = k.shape[2]
        kr = k[:, :, None].expand(b, self.n_kv, rep, t, self.hd).reshape(b, self.n_heads, t, self.hd)
        vr = v[:, :, None].expand(b, self.n_kv, rep, t, self.hd).reshape(b, self.n_heads, t, self.hd)
        att = q @ kr.transpose(2, 3) / math.sqrt(self.hd) + mask
        att = F.softmax(att, dim=-1)
        o = (att @ vr).transpose(1, 2).reshape(b, s, self.n_heads * self.hd)
        x = x + self.wo(o)
        h = stage2(self.ffn_norm(x), self.sparse)
        x = x + self.w2(sparse_neurons(self.w1(h), self.w3(h), self.act, self.sparse))
        return x, present


def causal_mask(s, past, dtype=torch.float32):
    # Query i sits at absolute position past + i and sees keys 0..past + i.
    # Built from shapes only, as exported LLMs do.
    q = torch.arange(s).unsqueeze(1) + past
    k = torch.arange(s + past).unsqueeze(0)
    return torch.where(k <= q, torch.zeros((), dtype=dtype),
                       torch.full((), float("-inf"), dtype=dtype))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c["vocab_size"], c["dim"])
        self.layers = nn.ModuleList(LlamaBlock(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["dim"])
        cos, sin = rope_tables(c["dim"] // c["n_heads"], c["seq_len"])
        self.register_buffer("rope_cos", cos)
        self.register_buffer("rope_sin", sin)

    def forward(self, input_ids, position_ids=None, past=None):
        b, s = input_ids.shape
        p = 0 if past is None else past[0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(s).unsqueeze(0)
        cos = self.rope_cos[position_ids].unsqueeze(1)
        sin = self.rope_sin[position_ids].unsqueeze(1)
        mask = causal_mask(s, p)
        x = self.tok_embeddings(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = (None, None) if past is None else (past[2 * i], past[2 * i + 1])
            x, kv = layer(x, cos, sin, mask, pk, pv)
            presents += kv
        logits = self.norm(x) @ self.tok_embeddings.weight.t()
        return (logits, *presents) if past is not None else logits


def load_stories260k(path):
    with open(path, "rb") as f:
        dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("7i", f.read(28))
        data = np.frombuffer(f.read(), dtype=np.float32)
    shared = vocab > 0
    vocab = abs(vocab)
    c = dict(dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads,
             n_kv_heads=n_kv, vocab_size=vocab, seq_len=seq_len)
    hd = dim // n_heads
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        t = torch.from_numpy(data[off:off + n].copy()).reshape(shape)
        off += n
        return t

    m = Llama(c)
    with torch.no_grad():
        m.tok_embeddings.weight.copy_(take(vocab, dim))
        L = m.layers
        for name, shape in [("attention_norm", (dim,)), ("wq", (n_heads * hd, dim)),
                            ("wk", (n_kv * hd, dim)), ("wv", (n_kv * hd, dim)),
                            ("wo", (dim, n_heads * hd)), ("ffn_norm", (dim,)),
                            ("w1", (hidden, dim)), ("w2", (dim, hidden)),
                            ("w3", (hidden, dim))]:
            for layer in L:
                getattr(layer, name).weight.copy_(take(*shape))
        m.norm.weight.copy_(take(dim))
    assert shared, "stories260K shares its classifier with the embedding"
    return m.eval()


# --------------------------------------------------------------------------
# GPT-2 and OPT (pre-LayerNorm decoders with learned positions)
# --------------------------------------------------------------------------

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class PreLNBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h = c["dim"], c["n_heads"]
        self.hd = d // self.h
        self.act = c["act"]
        self.ln_1 = nn.LayerNorm(d)
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, c["hidden_dim"])
        self.fc2 = nn.Linear(c["hidden_dim"], d)
        self.sparse = {}

    def forward(self, x, mask, past_k=None, past_v=None):
        b, s, d = x.shape
        h = stage2(self.ln_1(x), self.sparse)
        q = self.q_proj(h).view(b, s, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, s, self.h, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, s, self.h, self.hd).transpose(1, 2)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        att = F.softmax(q @ k.transpose(2, 3) / math.sqrt(self.hd) + mask, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.out_proj(o)
        f = self.fc1(stage2(self.ln_2(x), self.sparse))
        return x + self.fc2(sparse_neurons(f, None, self.act, self.sparse)), (k, v)


class PreLNDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c["vocab_size"], c["dim"])
        self.wpe = nn.Embedding(c["max_pos"] + c["pos_offset"], c["dim"])
        self.layers = nn.ModuleList(PreLNBlock(c) for _ in range(c["n_layers"]))
        self.ln_f = nn.LayerNorm(c["dim"])
        self.lm_head = nn.Linear(c["dim"], c["vocab_size"], bias=False)

    def forward(self, input_ids, position_ids=None, past=None):
        b, s = input_ids.shape
        p = 0 if past is None else past[0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(s).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(position_ids + self.c["pos_offset"])
        mask = causal_mask(s, p)
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = (None, None) if past is None else (past[2 * i], past[2 * i + 1])
            x, kv = layer(x, mask, pk, pv)
            presents += kv
        logits = self.lm_head(self.ln_f(x))
        return (logits, *presents) if past is not None else logits


def random_decoder(act, pos_offset, seed):
    torch.manual_seed(seed)
    c = dict(vocab_size=128, dim=32, n_heads=4, n_layers=2, hidden_dim=128,
             max_pos=128, pos_offset=pos_offset, act=act)
    m = PreLNDecoder(c)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.08)
        for layer in m.layers:
            layer.ln_1.weight.add_(1.0)
            layer.ln_2.weight.add_(1.0)
        m.ln_f.weight.add_(1.0)
    return m.eval()


def random_llama_mha(seed):
    """A Llama with as many key/value heads as query heads: its export still
    writes repeat_kv, one repeat per head (the 1.9 GB synthetic model's
    shape, in small)."""
    torch.manual_seed(seed)
    c = dict(dim=64, hidden_dim=172, n_layers=2, n_heads=4, n_kv_heads=4,
             vocab_size=128, seq_len=64)
    m = Llama(c)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.08)
    return m.eval()


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def kv_shape(model, batch, past):
    c = model.c
    heads = c.get("n_kv_heads", c["n_heads"])
    return (batch, heads, past, c["dim"] // c["n_heads"])


def write_ref(path, inputs, outputs):
    """Reference tensors as text: a header line `role name dtype rank dims...`
    then one line of values (fp32 printed with 9 significant digits, which
    round-trips exactly)."""
    with open(path, "w") as f:
        f.write("# ActSparse reference tensors (scripts/make-fixtures.py): "
                "role name dtype rank dims..., then values\n")
        for role, tensors in (("input", inputs), ("output", outputs)):
            for name, t in tensors.items():
                a = t.detach().cpu().numpy()
                dtype = {"float32": "f32", "int64": "i64"}[str(a.dtype)]
                f.write(f"{role} {name} {dtype} {a.ndim} {' '.join(map(str, a.shape))}\n")
                fmt = (lambda x: "%.9g" % x) if dtype == "f32" else str
                f.write(" ".join(fmt(x) for x in a.reshape(-1).tolist()) + "\n")


def export_full(model, name, out_dir, opset, external_data, ids_t):
    """Full-sequence graph. torch writes models over 2 GB as one file per
    tensor, so it exports into a scratch directory and finish() saves the
    final file (with at most one external-data file)."""
    scratch = tempfile.mkdtemp(prefix="actsparse-export-")
    path = os.path.join(out_dir, f"{name}-full.onnx")
    with torch.no_grad():
        logits = model(ids_t)
    torch.onnx.export(model, (ids_t,), os.path.join(scratch, "model.onnx"), input_names=["input_ids"],
                      output_names=["logits"], opset_version=opset,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}})
    return finish(scratch, path, external_data, {"input_ids": ids_t}, {"logits": logits})


def export_pair(model, name, out_dir, opset, external_data, ids):
    written = []
    n = model.c["n_layers"]
    ids_t = torch.tensor([ids], dtype=torch.int64)
    written.append(export_full(model, name, out_dir, opset, external_data, ids_t))

    # KV-cache decode graph: the prefix fills the cache, the last token decodes.
    prefix, last = ids_t[:, :-1], ids_t[:, -1:]
    with torch.no_grad():
        empty = [torch.zeros(kv_shape(model, 1, 0)) for _ in range(2 * n)]
        out = model(prefix, torch.arange(prefix.shape[1]).unsqueeze(0), empty)
        past = list(out[1:])
        pos = torch.tensor([[prefix.shape[1]]], dtype=torch.int64)
        dec = model(last, pos, past)
    kv_in = [f"past_key_values.{i}.{kind}" for i in range(n) for kind in ("key", "value")]
    kv_out = [f"present.{i}.{kind}" for i in range(n) for kind in ("key", "value")]
    axes = {"input_ids": {0: "batch", 1: "sequence"},
            "position_ids": {0: "batch", 1: "sequence"},
            "logits": {0: "batch", 1: "sequence"}}
    axes.update({k: {0: "batch", 2: "past_sequence"} for k in kv_in})
    axes.update({k: {0: "batch", 2: "total_sequence"} for k in kv_out})
    path = os.path.join(out_dir, f"{name}-decode.onnx")
    scratch = tempfile.mkdtemp(prefix="actsparse-export-")
    torch.onnx.export(model, (last, pos, past), os.path.join(scratch, "model.onnx"),
                      input_names=["input_ids", "position_ids"] + kv_in,
                      output_names=["logits"] + kv_out, opset_version=opset,
                      dynamic_axes=axes)
    inputs = {"input_ids": last, "position_ids": pos}
    inputs.update(dict(zip(kv_in, past)))
    outputs = {"logits": dec[0]}
    outputs.update(dict(zip(kv_out, dec[1:])))
    written.append(finish(scratch, path, external_data, inputs, outputs))
    return written


def finish(scratch, path, external_data, inputs, outputs):
    exported = os.path.join(scratch, "model.onnx")
    onnx.checker.check_model(exported)  # the path form allows > 2 GB
    model = onnx.load(exported)
    shutil.rmtree(scratch)
    if not external_data:
        onnx.save_model(model, path)
    else:
        data = os.path.basename(path) + ".data"
        if os.path.exists(os.path.join(os.path.dirname(path), data)):
            os.remove(os.path.join(os.path.dirname(path), data))
        onnx.save_model(model, path, save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data,
                        size_threshold=1024)
    write_ref(path[:-len(".onnx")] + ".ref.txt", inputs, outputs)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"  {os.path.relpath(path, ROOT)}: opset "
          f"{model.opset_import[0].version}, {len(model.graph.node)} nodes, ops {' '.join(ops)}")
    return path


def read_tokenizer(path, vocab_size):
    """llama2.c tokenizer.bin: int32 max_token_length, then per token a
    float32 score, an int32 length and the bytes."""
    pieces = []
    with open(path, "rb") as f:
        struct.unpack("i", f.read(4))
        for _ in range(vocab_size):
            _score, n = struct.unpack("fi", f.read(8))
            pieces.append(f.read(n))
    return pieces


def decode_piece(pieces, prev, tok):
    # run.c's decode(): strip the leading space after BOS, map <0xXX> bytes.
    piece = pieces[tok]
    if prev == 1 and piece.startswith(b" "):
        piece = piece[1:]
    if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
        piece = bytes([int(piece[3:5], 16)])
    return piece


def greedy_reference(model, tokenizer, out_path, steps=200):
    pieces = read_tokenizer(tokenizer, model.c["vocab_size"])
    tokens = [1]
    text = b""
    with torch.no_grad():
        for pos in range(steps):
            logits = model(torch.tensor([tokens], dtype=torch.int64))
            nxt = int(torch.argmax(logits[0, -1]))
            if nxt == 1:  # run.c stops at BOS
                break
            text += decode_piece(pieces, tokens[-1], nxt)
            tokens.append(nxt)
    # Perplexity reference: the first 48 tokens with a stretch replaced by
    # other ids, so the model is surprised somewhere.
    scored = tokens[:48]
    scored[20:26] = [300, 301, 302, 303, 304, 305]
    with torch.no_grad():
        logits = model(torch.tensor([scored[:-1]], dtype=torch.int64))[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        nll = -sum(float(logp[i, scored[i + 1]]) for i in range(len(scored) - 1))
    ppl = math.exp(nll / (len(scored) - 1))
    with open(out_path, "w") as f:
        f.write("# greedy decoding of stories260K from BOS (PyTorch, run.c rules)\n")
        f.write("tokens " + " ".join(map(str, tokens)) + "\n")
        f.write(text.decode("utf-8", errors="replace") + "\n")
    with open(out_path.replace("greedy", "perplexity"), "w") as f:
        f.write(" ".join(map(str, scored)) + "\n")
    with open(out_path.replace("greedy.txt", "perplexity.ref"), "w") as f:
        f.write("%.6f\n" % ppl)
    print(f"  {os.path.relpath(out_path, ROOT)}: {len(tokens) - 1} tokens")


# Transformed models: (fixture, suffix, relufy options as sparse-opt takes
# them, the same transform for the PyTorch model).
VARIANTS = [
    ("llama", "relu", "mode=relu", dict(mode="relu")),
    ("llama", "shifted", "mode=shifted-relu shift=0.25", dict(mode="shifted-relu", shift=0.25)),
    ("llama", "fatrelu", "mode=fatrelu threshold=0.1", dict(mode="fatrelu", threshold=0.1)),
    ("llama", "drelu", "mode=relu drelu=true", dict(mode="relu", drelu=True)),
    ("llama", "stage2", "mode=relu stage2=true", dict(mode="relu", stage2=True)),
    ("llama", "threshold", "mode=threshold threshold=0.05", dict(mode="threshold", threshold=0.05)),
    ("llama", "threshold-neuron", "mode=threshold threshold=0.05 threshold-on=neuron",
     dict(mode="threshold", threshold=0.05, threshold_on="neuron")),
    ("llama", "fatrelu-neuron-drelu", "mode=fatrelu threshold=0.02 threshold-on=neuron drelu=true",
     dict(mode="fatrelu", threshold=0.02, threshold_on="neuron", drelu=True)),
    ("gpt2", "relu-stage2", "mode=relu stage2=true", dict(mode="relu", stage2=True)),
    ("gpt2", "threshold", "mode=threshold threshold=0.05", dict(mode="threshold", threshold=0.05)),
    ("gpt2_erf", "fatrelu", "mode=fatrelu threshold=0.05", dict(mode="fatrelu", threshold=0.05)),
    ("opt", "fatrelu-stage2", "mode=fatrelu threshold=0.1 stage2=true",
     dict(mode="fatrelu", threshold=0.1, stage2=True)),
]


def write_variant_refs(models, out_dir):
    """<fixture>-<suffix>.ref.txt: outputs of the transformed PyTorch model for
    the inputs of <fixture>-full.ref.txt; the lit test applies the same
    transform with sparse-opt to <fixture>-full.onnx."""
    with open(os.path.join(out_dir, "variants.txt"), "w") as listing:
        listing.write("# fixture suffix relufy-options (scripts/make-fixtures.py)\n")
        for fixture, suffix, options, cfg in VARIANTS:
            model = models[fixture]
            ids = read_ref_ids(os.path.join(out_dir, f"{fixture}-full.ref.txt"))
            for layer in model.layers:
                layer.sparse = cfg
            with torch.no_grad():
                logits = model(ids)
            for layer in model.layers:
                layer.sparse = {}
            write_ref(os.path.join(out_dir, f"{fixture}-{suffix}.ref.txt"),
                      {"input_ids": ids}, {"logits": logits})
            listing.write(f"{fixture} {suffix} {options}\n")
            print(f"  {fixture}-{suffix}.ref.txt ({options})")


def write_ffn_zeros(model, fixture, out_dir):
    """<fixture>-full.ffn-zeros.txt: per FFN block, how many neurons (inputs of
    the down projection) are exactly 0 for the inputs of the full-graph
    reference; sparse-run's statistics must count the same."""
    ids = read_ref_ids(os.path.join(out_dir, f"{fixture}-full.ref.txt"))
    counts = []
    hooks = [layer.fc2.register_forward_hook(
        lambda mod, inp, out, i=i: counts.append((i, int((inp[0] == 0).sum()), inp[0].numel())))
        for i, layer in enumerate(model.layers)]
    with torch.no_grad():
        model(ids)
    for h in hooks:
        h.remove()
    with open(os.path.join(out_dir, f"{fixture}-full.ffn-zeros.txt"), "w") as f:
        f.write("# layer zeros values (scripts/make-fixtures.py)\n")
        for layer, zeros, total in counts:
            f.write(f"{layer} {zeros} {total}\n")
    print(f"  {fixture}-full.ffn-zeros.txt")


def export_relufied_llama(llama, out_dir):
    """llama_relu-full.onnx: stories260K with ReLU in place of SiLU, exported
    as a model of its own (a GLU with ReLU, as relufied checkpoints ship).
    Its reference equals llama-relu.ref.txt, what --actsparse-relufy must
    compute from the original model."""
    ids = read_ref_ids(os.path.join(out_dir, "llama-full.ref.txt"))
    for layer in llama.layers:
        layer.act = "relu"
    export_full(llama, "llama_relu", out_dir, 17, False, ids)
    for layer in llama.layers:
        layer.act = "silu"


def read_ref_ids(path):
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[1].split()
    assert header[:2] == ["input", "input_ids"], path
    shape = [int(d) for d in header[4:4 + int(header[3])]]
    return torch.tensor([int(v) for v in lines[2].split()], dtype=torch.int64).reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "Import", "Inputs"))
    ap.add_argument("--stories", default=os.path.join(ROOT, "models", "stories260K", "stories260K.bin"))
    ap.add_argument("--variants-only", action="store_true",
                    help="only rewrite the references of transformed models")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    models = {"llama": load_stories260k(args.stories),
              "gpt2": random_decoder("gelu_tanh", 0, 1),
              "gpt2_erf": random_decoder("gelu_erf", 0, 2),
              "opt": random_decoder("relu", 2, 3)}
    if args.variants_only:
        write_variant_refs(models, args.out)
        export_relufied_llama(models["llama"], args.out)
        write_ffn_zeros(models["opt"], "opt", args.out)
        return 0

    print("llama (stories260K):")
    llama = models["llama"]
    export_pair(llama, "llama", args.out, 17, False,
                [1, 403, 407, 261, 378, 267, 280, 438])
    greedy_reference(llama, os.path.join(os.path.dirname(args.stories), "tok512.bin"),
                     os.path.join(args.out, "llama-greedy.txt"))
    print("gpt2 (tanh GELU):")
    export_pair(models["gpt2"], "gpt2", args.out, 17, False,
                [5, 17, 99, 3, 120, 42, 7, 64])
    print("gpt2_erf (exact GELU, opset 13):")
    export_pair(models["gpt2_erf"], "gpt2_erf", args.out, 13, False,
                [1, 2, 3, 4, 5, 6, 7, 8])
    print("opt (ReLU, external data):")
    export_pair(models["opt"], "opt", args.out, 15, True,
                [2, 31, 41, 59, 26, 53, 58, 97])
    print("llama_mha (4 heads, 4 KV heads):")
    export_pair(random_llama_mha(5), "llama_mha", args.out, 17, False,
                [1, 9, 27, 81, 115, 37, 111, 77])
    print("transformed models:")
    write_variant_refs(models, args.out)
    export_relufied_llama(models["llama"], args.out)
    write_ffn_zeros(models["opt"], "opt", args.out)


if __name__ == "__main__":
    sys.exit(main())
