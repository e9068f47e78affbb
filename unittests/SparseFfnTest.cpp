//===- SparseFfnTest.cpp - the sparse FFN kernel against the dense block --===//
//
// The kernel behind actsparse.sparse_ffn must compute the actsparse.ffn
// block exactly (without a predictor, or with the exact gate), and with a
// predictor exactly the block whose neurons outside the predicted set are
// 0. The reference is the textbook block on the unbundled weights, in
// double: u = x W_up (+ b), g = x W_gate (+ b), h = act(g - shift) * u,
// thresholds, y = h W_down. Shapes cover decode (T = 1), prefill (T > 1),
// sizes that are not multiples of the vector width, and enough neurons to
// run on several threads; active sets cover empty, full, one neuron and a
// random half.
//
// Quantized bundles (q8_0, q4_0, q4_1) are checked against the same
// textbook block on the weights the blocks stand for (dequantizeRow, tested
// in QuantTest) and on the activations rounded to 8 bits per block of 32
// as Quant.h specifies (d = max|x| / 127, q = round(x / d)), worked here
// independently of the kernel.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Quant.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace actsparse::runtime;

namespace {

struct Case {
  int64_t t, d, h, e;
  FfnActivation act = FfnActivation::Relu;
  bool gated = true, biases = false, shift = false, reluUp = false;
  float threshold = 0;
  bool onNeuron = false;
  /// The gate apart: the rows hold up, down (and up bias); the kernel gets
  /// x W_gate + gate bias - shift.
  bool apart = false;
};

struct BlockData {
  std::vector<float> x, up, gate, down, upBias, gateBias, shift;
};

double act(FfnActivation a, double v) {
  switch (a) {
  case FfnActivation::Relu:
    return v > 0 ? v : 0;
  case FfnActivation::Silu:
    return v / (1 + std::exp(-v));
  case FfnActivation::Gelu:
    return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  case FfnActivation::GeluTanh:
    return 0.5 * v *
           (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  }
  return v;
}

/// Rounds n activations as the quantized kernels do: the integer kinds'
/// 8 bits per block of 32 (scale max|v| / 127; decode everywhere, prefill
/// with AVX512-VNNI), or bf16's nearest even (prefill with AVX512-BF16).
void roundLikePrefill(QuantKind kind, float *v, int64_t n) {
  if (kind == QuantKind::BF16) {
    for (int64_t i = 0; i < n; ++i) {
      float f = v[i];
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      bits = (bits + 0x7fff + (bits >> 16 & 1)) & 0xffff0000u;
      std::memcpy(&f, &bits, 4);
      v[i] = f;
    }
    return;
  }
  for (int64_t k0 = 0; k0 < n; k0 += 32) {
    int64_t end = std::min<int64_t>(n, k0 + 32);
    float amax = 0;
    for (int64_t j = k0; j < end; ++j)
      amax = std::max(amax, std::abs(v[j]));
    float d = amax / 127.0f, inv = d ? 1.0f / d : 0.0f;
    for (int64_t j = k0; j < end; ++j)
      v[j] = d * std::nearbyint(v[j] * inv);
  }
}

/// The dense block in double; neurons with keep[t * h + i] == 0 are 0.
std::vector<double> reference(const Case &c, const BlockData &b,
                              const std::vector<char> *keep,
                              std::vector<double> *neurons = nullptr) {
  std::vector<double> y(c.t * c.e, 0.0);
  for (int64_t t = 0; t < c.t; ++t)
    for (int64_t i = 0; i < c.h; ++i) {
      double u = 0, g = 0;
      for (int64_t k = 0; k < c.d; ++k) {
        u += double(b.x[t * c.d + k]) * b.up[k * c.h + i];
        if (c.gated)
          g += double(b.x[t * c.d + k]) * b.gate[k * c.h + i];
      }
      if (c.biases) {
        u += b.upBias[i];
        if (c.gated)
          g += b.gateBias[i];
      }
      double pre = c.gated ? g : u;
      double a = act(c.act, pre - (c.shift ? b.shift[i] : 0.0));
      if (c.threshold > 0 && !c.onNeuron && std::abs(a) < c.threshold)
        a = 0;
      double hv = c.gated ? a * (c.reluUp && u < 0 ? 0.0 : u) : a;
      if (c.threshold > 0 && c.onNeuron && std::abs(hv) < c.threshold)
        hv = 0;
      if (keep && !(*keep)[t * c.h + i])
        hv = 0;
      if (neurons)
        (*neurons)[t * c.h + i] = hv;
      for (int64_t k = 0; k < c.e; ++k)
        y[t * c.e + k] += hv * b.down[i * c.e + k];
    }
  return y;
}

BlockData randomBlock(const Case &c, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0, 1);
  BlockData b;
  auto fill = [&](std::vector<float> &v, int64_t n, float scale) {
    v.resize(n);
    for (float &f : v)
      f = dist(rng) * scale;
  };
  fill(b.x, c.t * c.d, 1);
  float s = 1 / std::sqrt(float(c.d));
  fill(b.up, c.d * c.h, s);
  fill(b.gate, c.d * c.h, s);
  fill(b.down, c.h * c.e, 1 / std::sqrt(float(c.h)));
  fill(b.upBias, c.h, 0.3f);
  fill(b.gateBias, c.h, 0.3f);
  fill(b.shift, c.h, 0.3f);
  return b;
}

uint32_t fieldsOf(const Case &c) {
  uint32_t f = kBundleUp | kBundleDown;
  if (c.apart)
    return f | (c.biases ? kBundleUpBias : 0u);
  if (c.gated)
    f |= kBundleGate;
  if (c.biases)
    f |= kBundleUpBias | (c.gated ? kBundleGateBias : 0u);
  if (c.shift)
    f |= kBundleShift;
  return f;
}

/// The bundle rows of the block, laid out as FfnBundle.h says.
std::vector<float> bundleOf(const Case &c, const BlockData &b) {
  FfnBundleLayout l = FfnBundleLayout::make(c.d, c.e, fieldsOf(c));
  std::vector<float> rows(c.h * l.stride, 0.0f);
  for (int64_t i = 0; i < c.h; ++i) {
    float *r = rows.data() + i * l.stride;
    for (int64_t k = 0; k < c.d; ++k) {
      r[l.up + k] = b.up[k * c.h + i];
      if (l.gate >= 0)
        r[l.gate + k] = b.gate[k * c.h + i];
    }
    for (int64_t k = 0; k < c.e; ++k)
      r[l.down + k] = b.down[i * c.e + k];
    if (l.upBias >= 0)
      r[l.upBias] = b.upBias[i];
    if (l.gateBias >= 0)
      r[l.gateBias] = b.gateBias[i];
    if (l.shift >= 0)
      r[l.shift] = b.shift[i];
  }
  return rows;
}

ActSparseMemRef2DF32 view(std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), v.data(), 0, {rows, cols}, {cols, 1}};
}

/// Collects what the kernel reports.
struct Probe : FfnObserver {
  FfnProbe::Sparse last;
  std::vector<float> neurons;
  void observe(const FfnProbe &p) override {
    last = p.sparse;
    neurons.assign(p.neurons.data,
                   p.neurons.data + p.neurons.rows * p.neurons.cols);
  }
};

/// The f32 bundle `rows` in `kind`: each field one quantized row, the
/// scalars copied, as FfnBundle.h lays it out.
std::vector<int8_t> quantizedBundle(const Case &c,
                                    const std::vector<float> &rows,
                                    QuantKind kind) {
  FfnBundleLayout from = FfnBundleLayout::make(c.d, c.e, fieldsOf(c)),
                  to = FfnBundleLayout::make(c.d, c.e, fieldsOf(c), kind);
  std::vector<int8_t> out(c.h * to.stride, 0);
  for (int64_t i = 0; i < c.h; ++i) {
    const float *r = rows.data() + i * from.stride;
    auto *q = reinterpret_cast<uint8_t *>(out.data() + i * to.stride);
    if (from.gate >= 0)
      quantizeRow(kind, r + from.gate, c.d, q + to.gate);
    quantizeRow(kind, r + from.up, c.d, q + to.up);
    quantizeRow(kind, r + from.down, c.e, q + to.down);
    for (auto [at, into] : {std::pair{from.gateBias, to.gateBias},
                            {from.upBias, to.upBias},
                            {from.shift, to.shift}})
      if (at >= 0)
        std::memcpy(q + into, r + at, sizeof(float));
  }
  return out;
}

/// The block a quantized bundle computes: weights as dequantized, and
/// (`roundX`) activations rounded to 8 bits per block of 32 along D, as
/// the neuron loop takes them; the dense kernels of a prefill-sized call
/// without predictor take them in f32.
BlockData asQuantized(const Case &c, const BlockData &b, QuantKind kind,
                      bool roundX = true) {
  BlockData q = b;
  std::vector<float> column(c.d), back(std::max(c.d, c.e));
  std::vector<uint8_t> row(quantRowBytes(kind, std::max(c.d, c.e)));
  auto roundTrip = [&](const float *w, int64_t n) {
    quantizeRow(kind, w, n, row.data());
    dequantizeRow(kind, row.data(), n, back.data());
  };
  for (int64_t i = 0; i < c.h; ++i) {
    for (std::vector<float> *m : {&q.up, &q.gate}) {
      for (int64_t k = 0; k < c.d; ++k)
        column[k] = (*m)[k * c.h + i];
      roundTrip(column.data(), c.d);
      for (int64_t k = 0; k < c.d; ++k)
        (*m)[k * c.h + i] = back[k];
    }
    roundTrip(q.down.data() + i * c.e, c.e);
    std::copy_n(back.data(), c.e, q.down.data() + i * c.e);
  }
  // The integer kinds' kernels quantize the activations per block of 32;
  // the float kinds multiply them as they are.
  for (int64_t t = 0; t < c.t && roundX && !isFloatKind(kind); ++t)
    roundLikePrefill(kind, q.x.data() + t * c.d, c.d);
  return q;
}

/// Runs the kernel; `keep` (lowrank) is the predicted set; `quant`: on the
/// bundle quantized in that format.
std::vector<float> run(const Case &c, BlockData &b, FfnPredictorKind mode,
                       const std::vector<char> *keep, Probe *probe = nullptr,
                       std::optional<QuantKind> quant = std::nullopt) {
  std::vector<float> bundle = bundleOf(c, b);
  std::vector<int8_t> qbundle;
  if (quant)
    qbundle = quantizedBundle(c, bundle, *quant);
  FfnKernelConfig config;
  config.quant = quant;
  config.fields = fieldsOf(c);
  config.activation = c.act;
  config.reluUp = c.reluUp;
  config.thresholdOnNeuron = c.onNeuron;
  config.predictor = mode;
  // lowrank: A = 0 and B = 0 (rank 1), so the scores are c: +1 on `keep`,
  // -1 elsewhere, the same set for every token.
  std::vector<float> a, bm, cv;
  int64_t rank = 0;
  if (mode == FfnPredictorKind::LowRank) {
    rank = 1;
    a.assign(c.d, 0.0f);
    bm.assign(c.h, 0.0f);
    cv.resize(c.h);
    for (int64_t i = 0; i < c.h; ++i)
      cv[i] = (*keep)[i] ? 1.0f : -1.0f;
  }
  std::vector<float> y(c.t * c.e, 123.0f), residual, gatePre;
  // The gate apart: its pre-activations, as the ops before the block
  // compute them.
  if (c.apart) {
    config.gatePre = true;
    gatePre.assign(c.t * c.h, 0.0f);
    for (int64_t t = 0; t < c.t; ++t)
      for (int64_t i = 0; i < c.h; ++i) {
        float g = 0;
        for (int64_t k = 0; k < c.d; ++k)
          g += b.x[t * c.d + k] * b.gate[k * c.h + i];
        gatePre[t * c.h + i] = g + (c.biases ? b.gateBias[i] : 0.0f) -
                               (c.shift ? b.shift[i] : 0.0f);
      }
  }
  ActSparseMemRef2DF32 gv = view(gatePre, c.apart ? c.t : 0,
                                 c.apart ? c.h : 0);
  ActSparseMemRef2DF32 xv = view(b.x, c.t, c.d),
                       bv = view(bundle, c.h, int64_t(bundle.size()) / c.h),
                       av = view(a, rank ? c.d : 0, rank),
                       bbv = view(bm, rank, rank ? c.h : 0),
                       cvv = view(cv, rank ? 1 : 0, rank ? c.h : 0),
                       rv = view(residual, 0, c.e), yv = view(y, c.t, c.e);
  setFfnObserver(probe);
  if (quant) {
    int64_t stride = int64_t(qbundle.size()) / c.h;
    ActSparseMemRef2DI8 qv = {qbundle.data(), qbundle.data(), 0,
                              {c.h, stride}, {stride, 1}};
    _mlir_ciface_actsparse_rt_sparse_ffn_q_f32(7, config.encode(),
                                               c.threshold, &xv, &qv, &gv,
                                               &av, &bbv, &cvv, &rv, &yv);
  } else {
    _mlir_ciface_actsparse_rt_sparse_ffn_f32(7, config.encode(), c.threshold,
                                             &xv, &bv, &gv, &av, &bbv, &cvv,
                                             &rv, &yv);
  }
  setFfnObserver(nullptr);
  return y;
}

void expectNear(const std::vector<float> &got, const std::vector<double> &want,
                const char *what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-6;
  for (double w : want)
    scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5 * scale) << what << " element " << i;
}

std::vector<Case> exactCases() {
  std::vector<Case> cases;
  // 12 tokens: at least the rows from which the kernel runs the dense
  // kernels on the bundle (denseRows).
  for (int64_t t : {1, 3, 12})
    for (auto [d, h, e] : {std::tuple<int64_t, int64_t, int64_t>{13, 37, 7},
                           {64, 1100, 48}}) {
      Case c{t, d, h, e};
      cases.push_back(c); // SwiGLU relufied
      Case plain = c;
      plain.gated = false;
      plain.biases = true;
      cases.push_back(plain); // GPT-2 / OPT style, relufied
      Case shifted = c;
      shifted.shift = true;
      shifted.biases = true;
      shifted.threshold = 0.05f;
      cases.push_back(shifted); // shifted FATReLU with biases
      Case drelu = c;
      drelu.reluUp = true;
      cases.push_back(drelu);
    }
  return cases;
}

TEST(SparseFfnKernel, DenseAndExactGateEqualTheBlock) {
  for (int threads : {1, 2}) {
    setNumThreads(threads);
    for (const Case &c : exactCases()) {
      BlockData b = randomBlock(c, unsigned(c.t * 1000 + c.d + c.h));
      std::vector<double> want = reference(c, b, nullptr);
      SCOPED_TRACE("t=" + std::to_string(c.t) + " d=" + std::to_string(c.d) +
                   " h=" + std::to_string(c.h) + " gated=" +
                   std::to_string(c.gated) + " threads=" +
                   std::to_string(threads));
      expectNear(run(c, b, FfnPredictorKind::None, nullptr), want, "none");
      expectNear(run(c, b, FfnPredictorKind::ExactGate, nullptr), want,
                 "exact gate");
    }
  }
}

TEST(SparseFfnKernel, GateApartEqualsTheBlockAndReadsActiveRowsOnly) {
  for (int threads : {1, 2}) {
    setNumThreads(threads);
    for (Case c : exactCases()) {
      if (!c.gated)
        continue;
      c.apart = true;
      BlockData b = randomBlock(c, unsigned(c.t * 1000 + c.d + c.h));
      std::vector<double> want = reference(c, b, nullptr);
      SCOPED_TRACE("t=" + std::to_string(c.t) + " d=" + std::to_string(c.d) +
                   " h=" + std::to_string(c.h) + " threads=" +
                   std::to_string(threads));
      expectNear(run(c, b, FfnPredictorKind::None, nullptr), want, "none");
      Probe probe;
      expectNear(run(c, b, FfnPredictorKind::ExactGate, nullptr, &probe),
                 want, "exact gate");
      // A row is read once per call when its neuron's activation (ReLU of
      // the gate, past the threshold) is non-zero for any token; an
      // inactive one costs nothing (no gate in the rows).
      int64_t rows = 0;
      for (int64_t i = 0; i < c.h; ++i) {
        bool any = false;
        for (int64_t t = 0; t < c.t; ++t) {
          double g = (c.biases ? b.gateBias[i] : 0.0) -
                     (c.shift ? b.shift[i] : 0.0);
          for (int64_t k = 0; k < c.d; ++k)
            g += double(b.x[t * c.d + k]) * b.gate[k * c.h + i];
          any |= g > 0 && g >= c.threshold;
        }
        rows += any;
      }
      FfnBundleLayout l = FfnBundleLayout::make(c.d, c.e, fieldsOf(c));
      ASSERT_EQ(l.gate, -1);
      EXPECT_EQ(probe.last.bytesRead, rows * l.rowBytes());
    }
  }
}

TEST(SparseFfnKernel, NonReluActivationsWithoutPredictor) {
  for (FfnActivation a : {FfnActivation::Silu, FfnActivation::Gelu,
                          FfnActivation::GeluTanh})
    for (bool onNeuron : {false, true}) {
      Case c{2, 19, 45, 11, a};
      c.threshold = 0.1f;
      c.onNeuron = onNeuron;
      BlockData b = randomBlock(c, 5 + unsigned(a));
      expectNear(run(c, b, FfnPredictorKind::None, nullptr),
                 reference(c, b, nullptr), "threshold");
    }
}

TEST(SparseFfnKernel, ExactGateReadsUpAndDownOfActiveNeuronsOnly) {
  setNumThreads(1);
  // Bytes worked by hand. f32, D = E = 16: gate, up, down and padding are
  // 48 floats (192 bytes), the gate 64 bytes. q8_0, D = 64, E = 40: gate,
  // up and down are 2 blocks of 34 bytes each (204 bytes, padded to 256),
  // the gate 68 bytes.
  struct Expect {
    Case c;
    std::optional<QuantKind> quant;
    int64_t rowBytes, gateBytes;
  };
  for (const Expect &x : {Expect{Case{1, 16, 200, 16}, std::nullopt, 192, 64},
                          Expect{Case{1, 64, 200, 40}, QuantKind::Q8_0, 256,
                                 68}}) {
    const Case &c = x.c;
    BlockData b = randomBlock(c, 3);
    std::vector<double> neurons(c.h);
    reference(c, x.quant ? asQuantized(c, b, *x.quant) : b, nullptr,
              &neurons);
    int64_t active = 0;
    for (double v : neurons)
      active += v != 0;
    ASSERT_GT(active, 0);
    ASSERT_LT(active, c.h);
    Probe probe;
    run(c, b, FfnPredictorKind::ExactGate, nullptr, &probe, x.quant);
    EXPECT_EQ(probe.last.computed, active);
    EXPECT_EQ(probe.last.bytesRead,
              active * x.rowBytes + (c.h - active) * x.gateBytes);
    EXPECT_EQ(probe.last.denseBytes, c.h * x.rowBytes);
    for (int64_t i = 0; i < c.h; ++i)
      ASSERT_NEAR(probe.neurons[i], neurons[i], 1e-5) << "neuron " << i;
  }
}

TEST(SparseFfnKernel, PredictedSetsDropExactlyTheMissedNeurons) {
  for (int threads : {1, 2}) {
    setNumThreads(threads);
    for (int64_t t : {1, 4}) {
      Case c{t, 13, 1100, 7};
      c.shift = true;
      BlockData b = randomBlock(c, unsigned(11 + t));
      std::mt19937 rng(7);
      std::vector<std::vector<char>> sets;
      sets.push_back(std::vector<char>(c.h, 0)); // empty
      sets.push_back(std::vector<char>(c.h, 1)); // full
      std::vector<char> one(c.h, 0);
      one[c.h / 2] = 1;
      sets.push_back(one);
      std::vector<char> half(c.h);
      for (char &k : half)
        k = rng() % 2;
      sets.push_back(half);
      for (const std::vector<char> &set : sets) {
        // Every token shares the set (the scores come from c alone).
        std::vector<char> keep;
        for (int64_t r = 0; r < t; ++r)
          keep.insert(keep.end(), set.begin(), set.end());
        Probe probe;
        std::vector<float> got =
            run(c, b, FfnPredictorKind::LowRank, &set, &probe);
        expectNear(got, reference(c, b, &keep), "lowrank");
        int64_t predicted = 0;
        for (char k : set)
          predicted += k;
        EXPECT_EQ(probe.last.predicted, predicted * t);
      }
    }
  }
}

TEST(SparseFfnKernel, ManyTokensAndTheDenseCrossover) {
  // A prefill-sized call of a predicted block follows the predictor by
  // default; with setSparseDenseRows(N) calls of N tokens or more compute
  // the exact block with the dense kernels on the bundles.
  setNumThreads(2);
  Case c{16, 13, 300, 9};
  c.shift = true;
  BlockData b = randomBlock(c, 31);
  std::vector<char> none(c.h, 0), keep(c.t * c.h, 0);
  expectNear(run(c, b, FfnPredictorKind::LowRank, &none),
             reference(c, b, &keep), "lowrank, 16 tokens, default");
  setSparseDenseRows(8);
  expectNear(run(c, b, FfnPredictorKind::LowRank, &none),
             reference(c, b, nullptr), "lowrank, 16 tokens, dense from 8");
  setSparseDenseRows(-1);
}

TEST(SparseFfnKernel, CheckPredictorCountsRecallAndPrecision) {
  setNumThreads(1);
  Case c{1, 16, 64, 8};
  BlockData b = randomBlock(c, 21);
  std::vector<double> neurons(c.h);
  reference(c, b, nullptr, &neurons);
  // Predict the first half of the neurons.
  std::vector<char> set(c.h, 0);
  for (int64_t i = 0; i < c.h / 2; ++i)
    set[i] = 1;
  int64_t active = 0, hit = 0;
  for (int64_t i = 0; i < c.h; ++i) {
    active += neurons[i] != 0;
    hit += neurons[i] != 0 && set[i];
  }
  Probe probe;
  setCheckPredictor(true);
  run(c, b, FfnPredictorKind::LowRank, &set, &probe);
  setCheckPredictor(false);
  EXPECT_EQ(probe.last.exactActive, active);
  EXPECT_EQ(probe.last.truePositive, hit);
  EXPECT_EQ(probe.last.predicted, c.h / 2);
}

TEST(SparseFfnKernel, QuantizedBundlesComputeTheBlockTheyStandFor) {
  for (QuantKind kind : kAllQuantKinds)
    for (int threads : {1, 2}) {
      setNumThreads(threads);
      for (const Case &c : exactCases()) {
        BlockData b = randomBlock(c, unsigned(c.t * 1000 + c.d + c.h));
        BlockData q = asQuantized(c, b, kind);
        std::vector<double> want = reference(c, q, nullptr);
        // 12 tokens without predictor: the dense kernels (denseRows),
        // whose gate and up projections take the activations as they are,
        // but on a CPU with AVX512-VNNI (the integer kinds) or AVX512-BF16
        // (bf16) round them (roundLikePrefill); down adds each neuron's
        // row unrounded.
        std::vector<double> wantDense = want;
        if (c.t >= 8) {
          BlockData exact = asQuantized(c, b, kind, false);
          bool rounds = kind == QuantKind::BF16 ? avx512Bf16Available()
                        : isFloatKind(kind)      ? false
                                                 : avx512VnniAvailable();
          if (rounds)
            for (int64_t t = 0; t < c.t; ++t)
              roundLikePrefill(kind, exact.x.data() + t * c.d, c.d);
          wantDense = reference(c, exact, nullptr);
        }
        SCOPED_TRACE(std::string(quantKindName(kind)) +
                     " t=" + std::to_string(c.t) + " d=" +
                     std::to_string(c.d) + " h=" + std::to_string(c.h) +
                     " gated=" + std::to_string(c.gated) +
                     " threads=" + std::to_string(threads));
        expectNear(run(c, b, FfnPredictorKind::None, nullptr, nullptr, kind),
                   wantDense, "none");
        expectNear(
            run(c, b, FfnPredictorKind::ExactGate, nullptr, nullptr, kind),
            want, "exact gate");
      }
    }
}

TEST(SparseFfnKernel, QuantizedBundlesWithEmptyFullAndPartialPredictions) {
  setNumThreads(2);
  for (QuantKind kind : {QuantKind::Q8_0, QuantKind::Q4_1, QuantKind::BF16}) {
    Case c{3, 45, 1100, 70}; // D and E not multiples of 32
    c.shift = true;
    BlockData b = randomBlock(c, 17);
    BlockData q = asQuantized(c, b, kind);
    std::mt19937 rng(3);
    std::vector<char> empty(c.h, 0), full(c.h, 1), half(c.h);
    for (char &k : half)
      k = rng() % 2;
    for (const std::vector<char> *set : {&empty, &full, &half}) {
      std::vector<char> keep;
      for (int64_t r = 0; r < c.t; ++r)
        keep.insert(keep.end(), set->begin(), set->end());
      Probe probe;
      expectNear(run(c, b, FfnPredictorKind::LowRank, set, &probe, kind),
                 reference(c, q, &keep), quantKindName(kind));
      // Bytes: the predicted rows whole, in the format's row length.
      FfnBundleLayout l = FfnBundleLayout::make(c.d, c.e, fieldsOf(c), kind);
      int64_t predicted = 0;
      for (char k : *set)
        predicted += k;
      EXPECT_EQ(probe.last.predicted, predicted * c.t);
      EXPECT_EQ(probe.last.denseBytes, c.h * l.stride);
    }
  }
}

TEST(SparseFfnKernel, QuantizedBundleOfTheWrongRowLengthFailsTheCall) {
  Case c{1, 13, 5, 7};
  BlockData b = randomBlock(c, 1);
  FfnKernelConfig config;
  config.fields = fieldsOf(c);
  config.quant = QuantKind::Q8_0;
  // Rows of 64 bytes, where gate, up and down (34 bytes each) take 128.
  std::vector<int8_t> rows(c.h * 64, 0);
  std::vector<float> y(c.t * c.e, 5.0f), none;
  ActSparseMemRef2DF32 xv = view(b.x, c.t, c.d), nv = view(none, 0, 0),
                       rv = view(none, 0, c.e), yv = view(y, c.t, c.e);
  ActSparseMemRef2DI8 qv = {rows.data(), rows.data(), 0, {c.h, 64}, {64, 1}};
  _mlir_ciface_actsparse_rt_sparse_ffn_q_f32(0, config.encode(), 0, &xv, &qv,
                                             &nv, &nv, &nv, &nv, &rv, &yv);
  std::string message;
  ASSERT_TRUE(takeRuntimeError(message));
  EXPECT_NE(message.find("rows of 128 contiguous bytes"), std::string::npos)
      << message;
  for (float v : y)
    EXPECT_EQ(v, 0.0f);
}

} // namespace
