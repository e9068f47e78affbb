// ONNX Runtime (CPU, from the npm package onnxruntime-node) decoding the same
// KV-cache ONNX graph that ActSparse runs: the peer in bench/run-decode.sh.
// usage: node ort-decode.js MODEL-decode.onnx TOKENS THREADS [PROMPT_LEN]
// Decodes greedily from BOS, then times one prefill of PROMPT_LEN tokens
// (default 64) from an empty cache. Prints {"decode_ms_per_token": ...,
// "prefill_tokens_per_second": ..., "tokens": [...]} as JSON.
const ort = require('onnxruntime-node');

async function main() {
  const [model, tokensArg, threadsArg, promptArg] = process.argv.slice(2);
  const steps = Number(tokensArg || 32), threads = Number(threadsArg || 2);
  const promptLen = Number(promptArg || 64);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  // Empty caches: batch 1, no past positions, the graph's static dims.
  const emptyCache = () => {
    const feeds = {};
    for (const meta of session.inputMetadata) {
      if (!meta.name.startsWith('past_key_values.')) continue;
      const shape = meta.shape.map((d, i) => typeof d === 'number' ? d : (i === 0 ? 1 : 0));
      feeds[meta.name] = new ort.Tensor('float32', new Float32Array(0), shape);
    }
    return feeds;
  };
  const feeds = emptyCache();
  let token = 1n, pos = 0n;
  const out = [];
  let start = 0;
  for (let step = 0; step <= steps; ++step) {
    if (step === 1) start = process.hrtime.bigint(); // the first call is prefill
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from([token]), [1, 1]);
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from([pos]), [1, 1]);
    const r = await session.run(feeds);
    const logits = r.logits.data;
    let best = 0;
    for (let v = 1; v < logits.length; ++v) if (logits[v] > logits[best]) best = v;
    for (const name of Object.keys(r))
      if (name.startsWith('present.')) feeds['past_key_values.' + name.slice(8)] = r[name];
    token = BigInt(best); pos += 1n; out.push(best);
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / steps;
  // Prefill: PROMPT_LEN tokens (1, 5, 5, ...) in one call.
  const prompt = emptyCache();
  prompt.input_ids = new ort.Tensor('int64', BigInt64Array.from({ length: promptLen }, (_, i) => (i ? 5n : 1n)), [1, promptLen]);
  prompt.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: promptLen }, (_, i) => BigInt(i)), [1, promptLen]);
  const t0 = process.hrtime.bigint();
  await session.run(prompt);
  const prefill = promptLen / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(JSON.stringify({ decode_ms_per_token: ms, prefill_tokens_per_second: prefill, tokens: out }));
}
main().catch((e) => { console.error('ort-decode: ' + e.message); process.exit(1); });
