//===- SparseFfn.cpp - FFN blocks on bundled weights, active neurons only -===//
//
// The kernel behind every lowered actsparse.sparse_ffn. Each neuron's gate
// row, up row, down column and scalars are one contiguous bundle row
// (FfnBundle.h); the kernel decides per (token, neuron) whether the neuron
// is computed, and reads the rest of its row only when it is:
//
//   lowrank:    s = (x A) B + c is computed first; neurons with s <= 0 are
//               taken as 0 without reading anything of their row;
//   exact gate: the gate is computed for every neuron; where the
//               activation makes the neuron 0, up and down are not read;
//   none:       gate and up are computed for every neuron (dense).
//
// A computed neuron gets the block's exact activation, shift and threshold
// (actsparse.ffn semantics), so a predictor's false positives cost time,
// never accuracy. Neurons are split over the thread pool; every thread
// accumulates its down columns into rows of its own, summed at the end.
//
// Quantized bundles (q8_0, q4_0, q4_1) go through the same neuron loop:
// the activations are quantized to 8 bits per block once per call, the
// gate and up rows are integer dot products (Quant.h, as the dense
// quantized kernels take them) and the down column is dequantized as it is
// added. The bytes a neuron costs shrink with its format.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Flash.h"
#include "actsparse/runtime/Quant.h"
#include "ThreadPool.h"

#include <atomic>
#include <cmath>
#include <cstring>

namespace actsparse::runtime {
namespace {

std::atomic<bool> checking{false};

/// By default, blocks without a predictor run through denseBlock from this
/// many tokens per call on (the same numbers, by kernels blocked for the
/// cache). Blocks with a predictor skip rows token by token at any length:
/// the neuron loop reads each bundle row once per call anyway, and on the
/// 1.9 GB model at 90 % sparsity a 64-token prefill ran 1.20-1.27x faster
/// that way than through denseBlock (bench/run-sparse.sh, 2026-12-01).
constexpr int64_t kDenseRowsDefault = 8;

struct Block {
  FfnKernelConfig config;
  FfnBundleLayout layout;
  float threshold; // 0: none
  int64_t d, e, h, t;
  const float *x;
  int64_t ldx;
  /// Row i at bundle + i * layout.rowBytes() bytes (64-byte multiples,
  /// so an f32 row is float-aligned).
  const float *bundle;
  /// Quantized bundles: the activations as the integer dots take them.
  const QuantizedActivations *xq = nullptr;
  /// The gate apart: pre-activations [t, h] (row stride ldg), and the rows
  /// hold no gate.
  const float *gatePre = nullptr;
  int64_t ldg = 0;
  /// lowrank: scores [t, h]; a neuron is computed where its score is > 0.
  const float *scores;
  /// lowrank: the predictor that gave the scores.
  LowRankPredictor predictor;

  /// A gated block, its gate in the rows or apart.
  bool gated() const { return layout.gate >= 0 || config.gatePre; }
};

/// What one thread did over its neurons.
struct Tally {
  /// (token, neuron) pairs the predictor let through, and those whose up
  /// row and down column were used.
  int64_t predicted = 0, computed = 0;
  /// Bundle rows used whole, and rows of which only the gate was read.
  int64_t rowsRead = 0, gateOnlyRows = 0;
};

const float *rowOf(const Block &b, int64_t i) {
  return reinterpret_cast<const float *>(
      reinterpret_cast<const char *>(b.bundle) + i * b.layout.rowBytes());
}

/// Scalar field `at` of a bundle row (0 when absent): f32 in either kind
/// of bundle, at a float index or a byte offset.
inline float scalarAt(const Block &b, const float *row, int64_t at) {
  if (at < 0)
    return 0.0f;
  if (!b.layout.quant)
    return row[at];
  float v;
  std::memcpy(&v, reinterpret_cast<const char *>(row) + at, sizeof v);
  return v;
}

/// The activation stage of neuron `row` for one token: act(pre + bias -
/// shift), where `pre` is x . gate row (x . up row in a plain block), 0
/// below a threshold on the activation.
inline float activationOf(const Block &b, const float *row, float pre) {
  const FfnBundleLayout &l = b.layout;
  pre += scalarAt(b, row, b.gated() ? l.gateBias : l.upBias);
  float a = activate(b.config.activation, pre - scalarAt(b, row, l.shift));
  if (b.threshold > 0.0f && !b.config.thresholdOnNeuron &&
      a * a < b.threshold * b.threshold)
    return 0.0f;
  return a;
}

/// The neuron from its activation `a` and, in a gated block, `up` = x . up
/// row: a * (up + bias) (ReLU on the up side with relu_up), 0 below a
/// threshold on the neuron.
inline float neuronOf(const Block &b, const float *row, float a, float up) {
  const FfnBundleLayout &l = b.layout;
  float h = a;
  if (b.gated()) {
    float u = up + scalarAt(b, row, l.upBias);
    h = a * (b.config.reluUp && u < 0.0f ? 0.0f : u);
  }
  if (b.threshold > 0.0f && b.config.thresholdOnNeuron &&
      h * h < b.threshold * b.threshold)
    return 0.0f;
  return h;
}

/// Neuron `i` of `b`, whose bundle row is `row`, for every token:
/// y[t] += h[t, i] * down_i, and hOut[t, i] = h[t, i] when hOut is given.
/// `mode` may differ from the block's (the exact pass of
/// --check-predictor). `Quantized`: the row holds quantized weights.
/// Inlined into the callers below.
template <bool Quantized>
[[gnu::always_inline]] inline void
neuronAt(const Block &b, FfnPredictorKind mode, int64_t i,
         const float *__restrict row, float *y, float *hOut, Tally &tally) {
  const FfnBundleLayout &l = b.layout;
  const bool gated = b.gated();
  const int64_t preAt = l.gate >= 0 ? l.gate : l.up;
  const int64_t d = b.d, e = b.e;
  const auto *bytes = reinterpret_cast<const uint8_t *>(row);
  // Token t's activations . the field at `at`.
  auto dot = [&](int64_t t, int64_t at) -> float {
    if constexpr (Quantized) {
      return quantizedDot(*l.quant, bytes + at, *b.xq, t);
    } else {
      const float *__restrict a = b.x + t * b.ldx;
      const float *__restrict w = row + at;
      float acc[16] = {};
      int64_t k = 0;
      for (; k + 16 <= d; k += 16)
        for (int j = 0; j < 16; ++j)
          acc[j] += a[k + j] * w[k + j];
      float sum = 0;
      for (int j = 0; j < 16; ++j)
        sum += acc[j];
      for (; k < d; ++k)
        sum += a[k] * w[k];
      return sum;
    }
  };
  bool touched = false, full = false;
  for (int64_t t = 0; t < b.t; ++t) {
    float hv = 0.0f;
    if (mode != FfnPredictorKind::LowRank || b.scores[t * b.h + i] > 0.0f) {
      touched = true;
      ++tally.predicted;
      float a = activationOf(
          b, row, b.gatePre ? b.gatePre[t * b.ldg + i] : dot(t, preAt));
      if (a != 0.0f || mode == FfnPredictorKind::None) {
        full = true;
        hv = neuronOf(b, row, a, gated ? dot(t, l.up) : 0.0f);
        if (hv != 0.0f) {
          float *__restrict yt = y + t * e;
          if constexpr (Quantized) {
            addScaledRow(*l.quant, hv, bytes + l.down, e, yt);
          } else {
            const float *__restrict down = row + l.down;
            for (int64_t k = 0; k < e; ++k)
              yt[k] += hv * down[k];
          }
        }
        ++tally.computed;
      }
    }
    if (hOut)
      hOut[t * b.h + i] = hv;
  }
  tally.rowsRead += full;
  tally.gateOnlyRows += touched && !full && !b.gatePre;
}

/// Neurons [n0, n1) of `b`, rows from the bundle in DRAM.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void neuronRange(const Block &b, FfnPredictorKind mode, int64_t n0,
                 int64_t n1, float *y, float *hOut, Tally &tally) {
  if (b.layout.quant)
    for (int64_t i = n0; i < n1; ++i)
      neuronAt<true>(b, mode, i, rowOf(b, i), y, hOut, tally);
  else
    for (int64_t i = n0; i < n1; ++i)
      neuronAt<false>(b, mode, i, rowOf(b, i), y, hOut, tally);
}

/// Neurons ids[0..count) of `b` with their rows where the flash cache
/// holds them, in list order.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void neuronList(const Block &b, FfnPredictorKind mode, const int32_t *ids,
                const float *const *rows, int64_t count, float *y,
                float *hOut, Tally &tally) {
  if (b.layout.quant)
    for (int64_t k = 0; k < count; ++k)
      neuronAt<true>(b, mode, ids[k], rows[k], y, hOut, tally);
  else
    for (int64_t k = 0; k < count; ++k)
      neuronAt<false>(b, mode, ids[k], rows[k], y, hOut, tally);
}

/// Per-thread output rows, reused across calls (one model call runs at a
/// time, as for the thread pool).
std::vector<std::vector<float>> &scratch() {
  static std::vector<std::vector<float>> buffers;
  return buffers;
}

/// Threads a block runs on, and thread j's neurons [n0, n1).
int threadsFor(const Block &b) {
  return b.t * b.h * b.d < (1 << 16) ? 1 : pool().size();
}
std::pair<int64_t, int64_t> neuronsOf(const Block &b, int threads, int j) {
  int64_t chunk = (b.h + threads - 1) / threads;
  int64_t n0 = std::min(b.h, j * chunk);
  return {n0, std::min(b.h, n0 + chunk)};
}

/// Zeroed output rows for `threads` threads.
std::vector<std::vector<float>> &threadRows(const Block &b, int threads) {
  std::vector<std::vector<float>> &rows = scratch();
  if (int(rows.size()) < threads)
    rows.resize(threads);
  for (int j = 0; j < threads; ++j)
    rows[j].assign(b.t * b.e, 0.0f);
  return rows;
}

/// y = the sum of the first `threads` threads' rows, in thread order (y
/// is overwritten).
void sumThreadRows(const Block &b, int threads, float *y, int64_t ldy) {
  std::vector<std::vector<float>> &rows = scratch();
  for (int64_t t = 0; t < b.t; ++t) {
    float *yt = y + t * ldy;
    std::memcpy(yt, rows[0].data() + t * b.e, b.e * sizeof(float));
    for (int thread = 1; thread < threads; ++thread) {
      const float *src = rows[thread].data() + t * b.e;
      for (int64_t k = 0; k < b.e; ++k)
        yt[k] += src[k];
    }
  }
}

/// sumThreadRows, and the threads' tallies summed.
Tally reduceThreads(const Block &b, const std::vector<Tally> &tallies,
                    float *y, int64_t ldy) {
  sumThreadRows(b, int(tallies.size()), y, ldy);
  Tally total;
  for (const Tally &t : tallies) {
    total.predicted += t.predicted;
    total.computed += t.computed;
    total.rowsRead += t.rowsRead;
    total.gateOnlyRows += t.gateOnlyRows;
  }
  return total;
}

/// Runs `mode` over all neurons: y = sum of every thread's rows (y is
/// overwritten), h written when given.
Tally runBlock(const Block &b, FfnPredictorKind mode, float *y, int64_t ldy,
               float *h) {
  int threads = threadsFor(b);
  std::vector<Tally> tallies(threads);
  std::vector<std::vector<float>> &rows = threadRows(b, threads);
  auto body = [&](int thread) {
    auto [n0, n1] = neuronsOf(b, threads, thread);
    neuronRange(b, mode, n0, n1, rows[thread].data(), h, tallies[thread]);
  };
  if (threads == 1)
    body(0);
  else
    pool().run(body);
  return reduceThreads(b, tallies, y, ldy);
}

/// runBlock with the bundle on flash: the same neurons in the same order
/// and partition over threads (so the same sums), each thread's neurons
/// listed for `layer`, which makes them resident and calls back with
/// batches of rows. Neurons every token's score rules out are not listed
/// (runBlock would read nothing of them either), except in naive mode.
struct FlashRun {
  const Block *b;
  FfnPredictorKind mode;
  std::vector<std::vector<float>> *rows;
  float *h;
  std::vector<Tally> tallies;
};

void flashBatch(void *context, int thread, const int32_t *ids,
                const float *const *rows, int64_t count) {
  FlashRun &r = *static_cast<FlashRun *>(context);
  neuronList(*r.b, r.mode, ids, rows, count, (*r.rows)[thread].data(), r.h,
             r.tallies[thread]);
}

Status runFlash(const Block &b, FlashLayer &layer, float *y, int64_t ldy,
                float *h, Tally &tally) {
  // The store now knows this block's predictor: so the block before it
  // can prefetch for it.
  if (b.config.predictor == FfnPredictorKind::LowRank)
    layer.setPredictor(b.predictor);
  int threads = threadsFor(b);
  static std::vector<std::vector<int32_t>> needed;
  needed.resize(threads);
  // With the gate apart, the exact gate knows the active neurons before
  // any row is read (the rows hold no scalar the activation needs, so no
  // row is passed).
  const bool byGate =
      b.gatePre && b.config.predictor == FfnPredictorKind::ExactGate;
  const bool all = (b.config.predictor != FfnPredictorKind::LowRank &&
                    !byGate) ||
                   flashStore()->options().mode == FlashMode::Naive;
  for (int j = 0; j < threads; ++j) {
    auto [n0, n1] = neuronsOf(b, threads, j);
    needed[j].clear();
    for (int64_t i = n0; i < n1; ++i) {
      bool use = all;
      for (int64_t t = 0; t < b.t && !use; ++t)
        use = byGate ? activationOf(b, nullptr, b.gatePre[t * b.ldg + i]) !=
                           0.0f
                     : b.scores[t * b.h + i] > 0.0f;
      if (use)
        needed[j].push_back(int32_t(i));
    }
  }
  FlashRun run{&b, b.config.predictor, &threadRows(b, threads), h,
               std::vector<Tally>(threads)};
  Status s = layer.run(needed, b.t, flashBatch, &run);
  if (!s)
    return s;
  tally = reduceThreads(b, run.tallies, y, ldy);
  // Decode: start the next layer's likely neurons now.
  if (b.t == 1)
    return layer.prefetchNext(b.x, b.d);
  return {};
}

ActSparseMemRef2DF32 view(float *data, int64_t rows, int64_t cols) {
  return {data, data, 0, {rows, cols}, {cols, 1}};
}

/// One field of every bundle row as an H x `cols` matrix (row stride: the
/// bundle's), for the dense kernels.
ActSparseMemRef2DF32 fieldView(const Block &b, int64_t at, int64_t cols) {
  float *base = const_cast<float *>(b.bundle) + at;
  return {base, base, 0, {b.h, cols}, {b.layout.stride, 1}};
}

/// y = h D over quantized down columns: neuron-major over the pool (each
/// column read once for all tokens while it is in cache), every thread
/// summing into rows of its own (y overwritten).
void quantizedDown(const Block &b, const float *h, float *y, int64_t ldy) {
  int threads = b.t * b.h * b.e < kMinPooledWork ? 1 : pool().size();
  std::vector<std::vector<float>> &rows = threadRows(b, threads);
  auto body = [&](int thread) {
    auto [n0, n1] = neuronsOf(b, threads, thread);
    for (int64_t i = n0; i < n1; ++i) {
      const auto *down =
          reinterpret_cast<const uint8_t *>(rowOf(b, i)) + b.layout.down;
      for (int64_t t = 0; t < b.t; ++t)
        if (float hv = h[t * b.h + i]; hv != 0.0f)
          addScaledRow(*b.layout.quant, hv, down, b.e,
                       rows[thread].data() + t * b.e);
    }
  };
  if (threads == 1)
    body(0);
  else
    pool().run(body);
  sumThreadRows(b, threads, y, ldy);
}

/// Every neuron for all rows with the dense kernels, which read each
/// bundle row once for all tokens and block for the cache: the gate and up
/// fields as transposed weights (H x D), the down field as an H x E weight.
/// Quantized bundles take the quantized kernel for gate and up (rows
/// dequantized into its GEMM, activations in f32) and quantizedDown.
/// Exact, whatever the predictor.
Tally denseBlock(const Block &b, float *y, int64_t ldy, float *hOut) {
  const FfnBundleLayout &l = b.layout;
  const bool gated = b.gated();
  std::vector<float> pre(b.t * b.h, 0.0f), up;
  ActSparseMemRef2DF32 xv = {const_cast<float *>(b.x),
                             const_cast<float *>(b.x),
                             0,
                             {b.t, b.d},
                             {b.ldx, 1}};
  // out [t, h] = x . the field at `at` of every row.
  auto project = [&](int64_t at, std::vector<float> &out) {
    if (l.quant) {
      quantizedMatMul(*l.quant, b.x, b.ldx, b.t, b.d,
                      reinterpret_cast<const uint8_t *>(b.bundle) + at,
                      l.stride, b.h, out.data(), b.h);
      return;
    }
    ActSparseMemRef2DF32 outv = view(out.data(), b.t, b.h);
    ActSparseMemRef2DF32 w = fieldView(b, at, b.d);
    _mlir_ciface_actsparse_rt_matmul_nt_f32(&xv, &w, &outv);
  };
  if (b.gatePre) {
    for (int64_t t = 0; t < b.t; ++t)
      std::memcpy(pre.data() + t * b.h, b.gatePre + t * b.ldg,
                  b.h * sizeof(float));
  } else {
    project(gated ? l.gate : l.up, pre);
  }
  if (gated) {
    up.assign(b.t * b.h, 0.0f);
    project(l.up, up);
  }
  Tally tally;
  for (int64_t t = 0; t < b.t; ++t)
    for (int64_t i = 0; i < b.h; ++i) {
      const float *row = rowOf(b, i);
      float hv = neuronOf(b, row, activationOf(b, row, pre[t * b.h + i]),
                          gated ? up[t * b.h + i] : 0.0f);
      pre[t * b.h + i] = hv;
      tally.computed += hv != 0.0f;
      if (hOut)
        hOut[t * b.h + i] = hv;
    }
  if (l.quant) {
    quantizedDown(b, pre.data(), y, ldy);
  } else {
    for (int64_t t = 0; t < b.t; ++t)
      std::memset(y + t * ldy, 0, b.e * sizeof(float));
    ActSparseMemRef2DF32 yv = {y, y, 0, {b.t, b.e}, {ldy, 1}};
    ActSparseMemRef2DF32 prev = view(pre.data(), b.t, b.h);
    ActSparseMemRef2DF32 downW = fieldView(b, l.down, b.e);
    _mlir_ciface_actsparse_rt_matmul_f32(&prev, &downW, &yv);
  }
  tally.predicted = b.t * b.h;
  tally.rowsRead = b.h;
  return tally;
}

/// -1: the default above.
std::atomic<int64_t> denseRowsSetting{-1};

/// From how many tokens per call a block in `mode` runs through
/// denseBlock (0: never).
int64_t denseRows(FfnPredictorKind mode) {
  int64_t set = denseRowsSetting.load();
  if (set >= 0)
    return set;
  return mode == FfnPredictorKind::None ? kDenseRowsDefault : 0;
}

} // namespace

void LowRankPredictor::score(const float *x, int64_t t, int64_t ldx,
                             std::vector<float> &zs,
                             std::vector<float> &scores) const {
  // x A is [t, rank], then (x A) B is [t, h], with the dense kernel.
  zs.assign(t * rank, 0.0f);
  scores.assign(t * h, 0.0f);
  auto mat = [](const float *p, int64_t rows, int64_t cols, int64_t ld) {
    float *q = const_cast<float *>(p);
    return ActSparseMemRef2DF32{q, q, 0, {rows, cols}, {ld, 1}};
  };
  ActSparseMemRef2DF32 xv = mat(x, t, d, ldx), av = mat(a, d, rank, lda),
                       bv = mat(b, rank, h, ldb), zv = view(zs.data(), t, rank),
                       sv = view(scores.data(), t, h);
  _mlir_ciface_actsparse_rt_matmul_f32(&xv, &av, &zv);
  _mlir_ciface_actsparse_rt_matmul_f32(&zv, &bv, &sv);
  for (int64_t r = 0; r < t; ++r)
    for (int64_t i = 0; i < h; ++i)
      scores[r * h + i] += c[i * cStride];
}

void setCheckPredictor(bool check) { checking.store(check); }
void setSparseDenseRows(int64_t rows) {
  denseRowsSetting.store(rows < 0 ? -1 : rows);
}
bool checkPredictor() { return checking.load(); }

} // namespace actsparse::runtime

using namespace actsparse::runtime;

namespace {

/// y = 0: the output of a call that failed.
void zeroRows(ActSparseMemRef2DF32 *y) {
  for (int64_t t = 0; t < y->sizes[0]; ++t)
    std::memset(y->aligned + y->offset + t * y->strides[0], 0,
                y->sizes[1] * sizeof(float));
}

/// Both entry points: the bundle is `neurons` rows of `bundleBytes` bytes
/// at `bundleData`, f32 or quantized as the configuration says.
void sparseFfn(int64_t layer, int64_t configWord, float threshold,
               ActSparseMemRef2DF32 *x, const void *bundleData,
               int64_t neurons, ActSparseMemRef2DF32 *gatePre,
               ActSparseMemRef2DF32 *scoreA,
               ActSparseMemRef2DF32 *scoreB, ActSparseMemRef2DF32 *scoreBias,
               ActSparseMemRef2DF32 *residual, ActSparseMemRef2DF32 *y) {
  Block b;
  b.config = FfnKernelConfig::decode(configWord);
  b.t = x->sizes[0];
  b.d = x->sizes[1];
  b.h = neurons;
  b.e = y->sizes[1];
  b.layout = FfnBundleLayout::make(b.d, b.e, b.config.fields, b.config.quant);
  b.threshold = threshold;
  b.x = x->aligned + x->offset;
  b.ldx = x->strides[0];
  b.bundle = static_cast<const float *>(bundleData);
  if (b.config.gatePre) {
    b.gatePre = gatePre->aligned + gatePre->offset;
    b.ldg = gatePre->strides[0];
  }
  float *out = y->aligned + y->offset;
  // Generated code passes contiguous rows (identity layouts); the bundle's
  // row length is checked by the op verifier against the same layout.
  if (b.t == 0)
    return;
  auto zeroOutput = [&] { zeroRows(y); };
  // After a failed flash read the call is abandoned: nothing more runs.
  if (runtimeErrorPending())
    return zeroOutput();
  FlashStore *store = flashStore();
  FlashLayer *flash = store ? store->find(b.bundle) : nullptr;
  FlashLayer *mapped = nullptr;
  if (flash && flash->mapped()) {
    // The OS-paging baseline: the rows are the mapped file, dropped after
    // the call.
    b.bundle = flash->mapped();
    std::swap(flash, mapped);
  }

  const bool lowrank = b.config.predictor == FfnPredictorKind::LowRank;
  const int64_t fromRows = denseRows(b.config.predictor);
  const bool dense = !flash && fromRows > 0 && b.t >= fromRows;
  // The neuron loop on quantized rows (every call but the dense kernels',
  // and --check-predictor's exact pass) takes the activations quantized:
  // one copy per call, its buffer reused across calls.
  static QuantizedActivations xq;
  if (b.layout.quant && (!dense || checkPredictor())) {
    xq.quantize(b.x, b.ldx, b.t, b.d, quantAvx2Available());
    b.xq = &xq;
  }
  std::vector<float> scores, z;
  b.scores = nullptr;
  if (lowrank) {
    b.predictor = {scoreA->aligned + scoreA->offset,
                   scoreB->aligned + scoreB->offset,
                   scoreBias->aligned + scoreBias->offset,
                   b.d,
                   scoreA->sizes[1],
                   b.h,
                   scoreA->strides[0],
                   scoreB->strides[0],
                   scoreBias->strides[1]};
    if (!dense || checkPredictor()) {
      b.predictor.score(b.x, b.t, b.ldx, z, scores);
      b.scores = scores.data();
    }
  }

  FfnObserver *observer = ffnObserver();
  std::vector<float> h;
  if (observer)
    h.assign(b.t * b.h, 0.0f);
  Tally tally;
  if (flash) {
    if (Status s = runFlash(b, *flash, out, y->strides[0],
                            observer ? h.data() : nullptr, tally);
        !s) {
      reportRuntimeError(s.message());
      return zeroOutput();
    }
  } else {
    tally = dense ? denseBlock(b, out, y->strides[0],
                               observer ? h.data() : nullptr)
                  : runBlock(b, b.config.predictor, out, y->strides[0],
                             observer ? h.data() : nullptr);
  }
  if (mapped)
    mapped->dropPages();
  if (!observer)
    return;

  FfnProbe probe{layer,
                 {b.x, b.t, b.d, b.ldx},
                 {h.data(), b.t, b.h, b.h},
                 {residual->aligned + residual->offset, residual->sizes[0],
                  residual->sizes[1], residual->strides[0]},
                 {}};
  const FfnBundleLayout &l = b.layout;
  int64_t rowBytes = l.rowBytes();
  int64_t gateBytes = l.decidingBytes(b.d);
  probe.sparse.present = true;
  probe.sparse.predicted = tally.predicted;
  probe.sparse.computed = tally.computed;
  // Rows are read once per call for all its tokens; a row whose neuron was
  // only gated costs its gate segment.
  probe.sparse.bytesRead = tally.rowsRead * rowBytes +
                           tally.gateOnlyRows * gateBytes;
  if (lowrank && !dense)
    probe.sparse.bytesRead += (b.d * b.predictor.rank +
                               b.predictor.rank * b.h + b.h) *
                              int64_t(sizeof(float));
  probe.sparse.denseBytes = b.h * rowBytes;
  if (lowrank && checkPredictor()) {
    // The exact block, for the predictor's recall and precision.
    std::vector<float> exactY(b.t * b.e), exactH(b.t * b.h);
    runBlock(b, FfnPredictorKind::None, exactY.data(), b.e, exactH.data());
    int64_t active = 0, hit = 0;
    for (int64_t t = 0; t < b.t; ++t)
      for (int64_t i = 0; i < b.h; ++i)
        if (exactH[t * b.h + i] != 0.0f) {
          ++active;
          hit += b.scores[t * b.h + i] > 0.0f;
        }
    probe.sparse.exactActive = active;
    probe.sparse.truePositive = hit;
  }
  observer->observe(probe);
}
} // namespace

extern "C" void _mlir_ciface_actsparse_rt_sparse_ffn_f32(
    int64_t layer, int64_t configWord, float threshold,
    ActSparseMemRef2DF32 *x, ActSparseMemRef2DF32 *bundle,
    ActSparseMemRef2DF32 *gatePre, ActSparseMemRef2DF32 *scoreA,
    ActSparseMemRef2DF32 *scoreB,
    ActSparseMemRef2DF32 *scoreBias, ActSparseMemRef2DF32 *residual,
    ActSparseMemRef2DF32 *y) {
  if (FfnKernelConfig::decode(configWord).quant) {
    reportRuntimeError("sparse FFN: an f32 bundle with a quantized format");
    return zeroRows(y);
  }
  sparseFfn(layer, configWord, threshold, x, bundle->aligned + bundle->offset,
            bundle->sizes[0], gatePre, scoreA, scoreB, scoreBias, residual,
            y);
}

extern "C" void _mlir_ciface_actsparse_rt_sparse_ffn_q_f32(
    int64_t layer, int64_t configWord, float threshold,
    ActSparseMemRef2DF32 *x, ActSparseMemRef2DI8 *bundle,
    ActSparseMemRef2DF32 *gatePre, ActSparseMemRef2DF32 *scoreA,
    ActSparseMemRef2DF32 *scoreB,
    ActSparseMemRef2DF32 *scoreBias, ActSparseMemRef2DF32 *residual,
    ActSparseMemRef2DF32 *y) {
  FfnKernelConfig config = FfnKernelConfig::decode(configWord);
  int64_t want = 0;
  if (config.quant)
    want = FfnBundleLayout::make(x->sizes[1], y->sizes[1], config.fields,
                                 config.quant)
               .stride;
  if (!config.quant || bundle->sizes[1] != want || bundle->strides[1] != 1 ||
      bundle->strides[0] != want) {
    reportRuntimeError("sparse FFN: a quantized bundle of " +
                       std::to_string(bundle->sizes[1]) +
                       "-byte rows does not fit its block (rows of " +
                       std::to_string(want) + " contiguous bytes)");
    return zeroRows(y);
  }
  sparseFfn(layer, configWord, threshold, x, bundle->aligned + bundle->offset,
            bundle->sizes[0], gatePre, scoreA, scoreB, scoreBias, residual,
            y);
}
