"""Reference encodings of a Hugging Face tokenizer.json, by the `tokenizers`
library itself, for sparse-run's byte-level BPE tokenizer to match.

  python tokenizer_cases.py TOKENIZER.json OUT.jsonl
      2000 strings (ASCII prose, Unicode scripts, emoji, whitespace runs,
      digits, code, contractions, the model's special tokens) with the ids
      tokenizers gives (with and without special tokens) and its decode.
  python tokenizer_cases.py --train OUT.json
      trains the small byte-level BPE tokenizer committed as the test
      fixture (600 tokens, on the Apache License 2.0 from Debian's
      base-files), with SmolLM2's special tokens and BOS template.

Runs in the virtual environment of scripts/smollm2/make.sh (tokenizers
0.20.3). One JSON object per line: {"text", "ids", "ids_special", "decoded"}.
"""

import json
import random
import sys

from tokenizers import Tokenizer

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

PIECES = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "It's", "they're", "we've", "I'm", "you'll", "he'd", "don't", "CAN'T",
    "  leading spaces", "trailing spaces   ", "tabs\tand\nnewlines\r\n",
    "\n\n\n", "     ", " ", "", "a", "12345", "3.14159", "1,000,000",
    "2026-12-01", "0x1F600", "$100.00", "50%", "#include <vector>",
    "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {}",
    "if a != b && c >= d:", "print(\"hi\")", "x = [1, 2, 3]",
    "caf\u00e9", "na\u00efve", "\u00fcber", "Stra\u00dfe", "\u00c5ngstr\u00f6m",
    "\u4f60\u597d\uff0c\u4e16\u754c", "\u3053\u3093\u306b\u3061\u306f",
    "\ud55c\uad6d\uc5b4", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "\u03b1\u03b2\u03b3 \u0394", "\u00bd \u00b2 \u2163 \u0661\u0662\u0663",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1eb\U0001f1f7", "\u2764\ufe0f", "\u2581underscore-like",
    "\u00a0nbsp\u00a0", "\u2003em space", "zero\u200bwidth",
    "<|im_start|>user\nHi<|im_end|>\n", "<|endoftext|>", "a<|im_end|>b",
    "<|im_start|>", "<|im_start", "|im_end|>", "<<|im_end|>>",
]


def make_strings(n, seed=0):
    rng = random.Random(seed)
    out = list(PIECES)
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                " \t\n.,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`")
    while len(out) < n:
        kind = rng.randrange(4)
        if kind == 0:  # several pieces joined
            out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(2, 5))))
        elif kind == 1:  # random ASCII
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
        elif kind == 2:  # random code points from several planes
            cps = []
            for _ in range(rng.randint(1, 12)):
                lo, hi = rng.choice([(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff),
                                     (0x400, 0x4ff), (0x4e00, 0x9fff),
                                     (0x1f300, 0x1f64f), (0x2000, 0x206f),
                                     (0x3040, 0x30ff), (0x600, 0x6ff)])
                cps.append(chr(rng.randint(lo, hi)))
            out.append("".join(cps))
        else:  # digits and whitespace runs
            out.append(rng.choice(["", " ", "  ", "\n", "\t "]).join(
                str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(rng.randint(1, 4))))
    return out[:n]


def write_cases(tokenizer_path, out_path, n=2000):
    tok = Tokenizer.from_file(tokenizer_path)
    with open(out_path, "w", encoding="utf-8") as f:
        for s in make_strings(n):
            ids = tok.encode(s, add_special_tokens=False).ids
            ids_special = tok.encode(s, add_special_tokens=True).ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            f.write(json.dumps({"text": s, "ids": ids, "ids_special": ids_special,
                                "decoded": decoded}, ensure_ascii=False) + "\n")


def train(out_path):
    from tokenizers import models, pre_tokenizers, decoders, trainers, processors
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train(["/usr/share/common-licenses/Apache-2.0"], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|im_start|> $A", pair="<|im_start|> $A <|im_start|> $B",
        special_tokens=[("<|im_start|>", tok.token_to_id("<|im_start|>"))])
    tok.save(out_path)


if __name__ == "__main__":
    if sys.argv[1] == "--train":
        train(sys.argv[2])
    else:
        write_cases(sys.argv[1], sys.argv[2])
