"""Exports SmolLM2-135M-Instruct to ONNX as a user would, and writes the
transformers references the tests and benchmarks compare against.

Run by scripts/smollm2/make.sh inside the virtual environment it creates
(versions pinned there); never by the build or the test suite.

  1. transformers builds the model with its own Llama modeling code from the
     GGUF (gguf_file=..., dequantized to f32). transformers 4.46 does not tie
     the classifier to the embedding for a GGUF without output.weight (the
     case here), so tie_word_embeddings=True is passed, as the GGUF's
     metadata implies; without it the classifier is random.
  2. optimum's ONNX exporter (the tool users run: optimum-cli export onnx)
     writes the full-sequence graph (task text-generation) and the KV-cache
     graph (text-generation-with-past). Nothing is simplified by hand.
  3. References, computed by the same transformers model in f32:
       full-N.ref.txt    logits of prompt N through the full-sequence graph
       decode-N.ref.txt  past of all but the last 2 tokens (from
                         transformers), then the last 2 tokens: logits and
                         present.* of the KV-cache graph
       greedy.txt        128 greedy tokens from a prompt (no stop token)
       chat.txt          the chat template's prompt and greedy answer
       tokenizer-cases.jsonl  2000 strings as the tokenizers library
                         encodes and decodes them
       perplexity.txt    token ids of the evaluation text, and
       perplexity.ref    its perplexity (float64 log-softmax)
     The evaluation text is the GNU GPL version 3 from Debian's base-files
     (/usr/share/common-licenses/GPL-3), English prose that may be copied
     verbatim; calibration uses the Apache License 2.0 from the same folder,
     a disjoint text.
"""

import argparse
import math
import os
import shutil
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea, there lived",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
]
GREEDY_PROMPT = "The three most important inventions of the twentieth century are"
EVAL_TEXT = "/usr/share/common-licenses/GPL-3"
CALIB_TEXT = "/usr/share/common-licenses/Apache-2.0"
EVAL_TOKENS = 512


def log(msg):
    print(f"export: {msg}", file=sys.stderr, flush=True)


def write_ref(path, inputs, outputs):
    """The reference format of scripts/make-fixtures.py: a header line
    `role name dtype rank dims...`, then one line of values (f32 with 9
    significant digits, which round-trips exactly)."""
    with open(path + ".partial", "w") as f:
        f.write("# ActSparse reference tensors (scripts/smollm2/export.py, "
                "transformers f32): role name dtype rank dims..., then values\n")
        for role, tensors in (("input", inputs), ("output", outputs)):
            for name, t in tensors.items():
                a = t.detach().cpu().numpy()
                dtype = {"float32": "f32", "int64": "i64"}[str(a.dtype)]
                f.write(f"{role} {name} {dtype} {a.ndim} "
                        f"{' '.join(map(str, a.shape))}\n")
                if dtype == "f32":
                    f.write(" ".join("%.9g" % x for x in a.reshape(-1)) + "\n")
                else:
                    f.write(" ".join(map(str, a.reshape(-1).tolist())) + "\n")
    os.replace(path + ".partial", path)


def export_onnx(hf_dir, out_dir, task):
    from optimum.exporters.onnx import main_export
    if os.path.exists(os.path.join(out_dir, "model.onnx")):
        log(f"{out_dir}/model.onnx exists, not exported again")
        return
    tmp = out_dir + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"optimum: exporting {task} to {out_dir}")
    main_export(hf_dir, output=tmp, task=task, framework="pt",
                do_validation=False)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True,
                    help="directory holding the GGUF; everything is written there")
    args = ap.parse_args()
    cache = args.cache
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())

    log("transformers: loading the GGUF (dequantized to f32)")
    tok = AutoTokenizer.from_pretrained(cache, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(
        cache, gguf_file=GGUF, torch_dtype=torch.float32,
        attn_implementation="eager", tie_word_embeddings=True)
    model.eval()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()

    hf_dir = os.path.join(cache, "hf")
    if not os.path.exists(os.path.join(hf_dir, "model.safetensors")):
        log(f"saving the transformers model to {hf_dir}")
        model.save_pretrained(hf_dir)
        tok.save_pretrained(hf_dir)
        # save_pretrained copies the GGUF as the 'vocab file'; it is not one.
        try:
            os.remove(os.path.join(hf_dir, "tokenizer.model"))
        except FileNotFoundError:
            pass
    shutil.copy(os.path.join(hf_dir, "tokenizer.json"),
                os.path.join(cache, "tokenizer.json"))

    export_onnx(hf_dir, os.path.join(cache, "onnx-full"), "text-generation")
    export_onnx(hf_dir, os.path.join(cache, "onnx-kv"), "text-generation-with-past")

    refs = os.path.join(cache, "refs")
    os.makedirs(refs, exist_ok=True)
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        tokenize=False, add_generation_prompt=True)
    prompts = PROMPTS + [chat]
    with torch.no_grad():
        for i, p in enumerate(prompts):
            ids = tok(p, return_tensors="pt", add_special_tokens=False).input_ids
            n = ids.shape[1]
            mask = torch.ones_like(ids)
            pos = torch.arange(n, dtype=torch.int64)[None]
            out = model(input_ids=ids, attention_mask=mask, position_ids=pos)
            write_ref(os.path.join(refs, f"full-{i}.ref.txt"),
                      {"input_ids": ids, "attention_mask": mask,
                       "position_ids": pos},
                      {"logits": out.logits})
            # KV-cache graph: the past of all but the last two tokens, then
            # the last two.
            k = n - 2
            first = model(input_ids=ids[:, :k], attention_mask=mask[:, :k],
                          position_ids=pos[:, :k], use_cache=True)
            past = first.past_key_values
            if hasattr(past, "to_legacy_cache"):
                past = past.to_legacy_cache()
            inputs = {"input_ids": ids[:, k:], "attention_mask": mask,
                      "position_ids": pos[:, k:]}
            for layer, (key, value) in enumerate(past):
                inputs[f"past_key_values.{layer}.key"] = key
                inputs[f"past_key_values.{layer}.value"] = value
            second = model(input_ids=ids[:, k:], attention_mask=mask,
                           position_ids=pos[:, k:],
                           past_key_values=first.past_key_values, use_cache=True)
            present = second.past_key_values
            if hasattr(present, "to_legacy_cache"):
                present = present.to_legacy_cache()
            outputs = {"logits": second.logits}
            for layer, (key, value) in enumerate(present):
                outputs[f"present.{layer}.key"] = key
                outputs[f"present.{layer}.value"] = value
            write_ref(os.path.join(refs, f"decode-{i}.ref.txt"), inputs, outputs)
            log(f"references for prompt {i} ({n} tokens)")

        # 128 greedy tokens, no stop token.
        ids = tok(GREEDY_PROMPT, return_tensors="pt", add_special_tokens=False).input_ids
        gen = model.generate(ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=128, min_new_tokens=128,
                             do_sample=False, eos_token_id=None, pad_token_id=0)
        new = gen[0, ids.shape[1]:].tolist()
        with open(os.path.join(refs, "greedy.txt"), "w") as f:
            f.write("# 128 greedy tokens of SmolLM2-135M-Instruct (transformers f32)\n")
            f.write("prompt " + " ".join(map(str, ids[0].tolist())) + "\n")
            f.write("tokens " + " ".join(map(str, new)) + "\n")
            f.write(tok.decode(new) + "\n")
        log("greedy reference: " + repr(tok.decode(new)[:80]))

        # Chat: SmolLM2's template (with its default system turn) and the
        # greedy answer up to <|im_end|>.
        ids = tok(chat, return_tensors="pt", add_special_tokens=False).input_ids
        end = tok.convert_tokens_to_ids("<|im_end|>")
        gen = model.generate(ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=64, do_sample=False,
                             eos_token_id=end, pad_token_id=0)
        answer = [t for t in gen[0, ids.shape[1]:].tolist() if t != end]
        with open(os.path.join(refs, "chat.txt"), "w") as f:
            f.write("prompt " + " ".join(map(str, ids[0].tolist())) + "\n")
            f.write("answer " + " ".join(map(str, answer)) + "\n")
            f.write(tok.decode(answer) + "\n")
        log("chat reference: " + repr(tok.decode(answer)))

        # Perplexity of the evaluation text.
        text = open(EVAL_TEXT, encoding="utf-8").read()
        ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids[:, :EVAL_TOKENS]
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        nll = -sum(float(logp[i, ids[0, i + 1]]) for i in range(ids.shape[1] - 1))
        ppl = math.exp(nll / (ids.shape[1] - 1))
        with open(os.path.join(refs, "perplexity.txt"), "w") as f:
            f.write(" ".join(map(str, ids[0].tolist())) + "\n")
        with open(os.path.join(refs, "perplexity.ref"), "w") as f:
            f.write(f"{ppl:.9g}\n")
        log(f"perplexity of the first {ids.shape[1]} tokens of {EVAL_TEXT}: {ppl:.4f}")

        # Calibration tokens, disjoint from the evaluation text.
        text = open(CALIB_TEXT, encoding="utf-8").read()
        ids = tok(text, add_special_tokens=False).input_ids
        with open(os.path.join(refs, "calibration.txt"), "w") as f:
            for s in range(0, len(ids) - 128 + 1, 128):
                f.write(" ".join(map(str, ids[s:s + 128])) + "\n")
    # The tokenizers library's own encodings of 2000 strings.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tokenizer_cases
    tokenizer_cases.write_cases(os.path.join(cache, "tokenizer.json"),
                                os.path.join(refs, "tokenizer-cases.jsonl"))
    log("done")


if __name__ == "__main__":
    main()
