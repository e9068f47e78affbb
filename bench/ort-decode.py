"""ONNX Runtime (CPU, PyPI onnxruntime) decoding the same KV-cache ONNX graph
that ActSparse runs: the peer in bench/run-decode.sh.

usage: python ort-decode.py MODEL-decode.onnx TOKENS THREADS [PROMPT_LEN [PREFILLS]]

Decodes greedily from token 1, then times prefills of PROMPT_LEN tokens
(default 64: 1, 5, 5, ...) from an empty cache, after an untimed one: the
median of PREFILLS (default 1). Feeds attention_mask (all
ones) when the graph has one, as transformers exports do. Prints
{"decode_ms_per_token", "prefill_tokens_per_second", "tokens"} as JSON.
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    prompt_len = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    prefills = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}

    def empty_cache():
        feeds = {}
        for name, meta in inputs.items():
            if name.startswith("past_key_values."):
                shape = [d if isinstance(d, int) else (1 if k == 0 else 0)
                         for k, d in enumerate(meta.shape)]
                feeds[name] = np.zeros(shape, dtype=np.float32)
        return feeds

    def run(feeds, ids, start):
        feeds["input_ids"] = np.array([ids], dtype=np.int64)
        if "position_ids" in inputs:
            feeds["position_ids"] = np.arange(start, start + len(ids), dtype=np.int64)[None]
        if "attention_mask" in inputs:
            feeds["attention_mask"] = np.ones((1, start + len(ids)), dtype=np.int64)
        names = [o.name for o in session.get_outputs()]
        out = dict(zip(names, session.run(names, feeds)))
        for name, value in out.items():
            if name.startswith("present."):
                feeds["past_key_values." + name[len("present."):]] = value
        return out["logits"]

    feeds = empty_cache()
    token, tokens = 1, []
    start = 0.0
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # the first call is prefill
        logits = run(feeds, [token], step)
        token = int(np.argmax(logits[0, -1]))
        tokens.append(token)
    ms = (time.perf_counter() - start) * 1000 / steps
    # One untimed prefill first, as sparse-run --warmup does (the session
    # sees a prompt-sized input once), then the median of PREFILLS timed.
    prompt = [1] + [5] * (prompt_len - 1)
    run(empty_cache(), prompt, 0)
    times = []
    for _ in range(prefills):
        feeds = empty_cache()
        t0 = time.perf_counter()
        run(feeds, prompt, 0)
        times.append(time.perf_counter() - t0)
    prefill = prompt_len / sorted(times)[len(times) // 2]
    print(json.dumps({"decode_ms_per_token": ms, "prefill_tokens_per_second": prefill,
                      "tokens": tokens}))


if __name__ == "__main__":
    main()
