//===- FfnBundle.h - the row-column bundled FFN layout ----------*- C++ -*-===//
//
// A bundled FFN block stores, for every neuron i, one contiguous row of its
// weights: its gate row (gated blocks), its up row, its down column and any
// per-neuron scalars, padded to a whole number of 64-byte cache lines. One
// read then brings everything the neuron needs (LLM in a flash's
// "row-column bundling"). The compiler (--actsparse-bundle-ffn, the
// actsparse.sparse_ffn verifier) and the runtime kernel share this header,
// so the layout is defined once. Header-only, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_FFNBUNDLE_H
#define ACTSPARSE_RUNTIME_FFNBUNDLE_H

#include <cmath>
#include <cstdint>

namespace actsparse::runtime {

/// The fields a bundle row can hold, in the order they are stored.
enum FfnBundleField : uint32_t {
  kBundleGate = 1u << 0,     ///< gate row, D floats (gated blocks only)
  kBundleUp = 1u << 1,       ///< up row, D floats (always)
  kBundleDown = 1u << 2,     ///< down column, E floats (always)
  kBundleGateBias = 1u << 3, ///< gate bias, 1 float
  kBundleUpBias = 1u << 4,   ///< up bias, 1 float
  kBundleShift = 1u << 5,    ///< shift of the activation, 1 float
};

/// Rows are padded to this many floats (one 64-byte cache line).
constexpr int64_t kFfnBundleRowAlign = 16;

/// Where each field starts in a bundle row (in floats; -1 when absent) and
/// the row length.
struct FfnBundleLayout {
  int64_t gate = -1, up = -1, down = -1;
  int64_t gateBias = -1, upBias = -1, shift = -1;
  int64_t stride = 0;

  /// The layout of a block with input width `d`, output width `e` and the
  /// fields `fields` (up and down are always present).
  static FfnBundleLayout make(int64_t d, int64_t e, uint32_t fields) {
    FfnBundleLayout l;
    int64_t at = 0;
    auto take = [&](uint32_t field, int64_t size, int64_t &where) {
      if (fields & field) {
        where = at;
        at += size;
      }
    };
    take(kBundleGate, d, l.gate);
    l.up = at;
    at += d;
    l.down = at;
    at += e;
    take(kBundleGateBias, 1, l.gateBias);
    take(kBundleUpBias, 1, l.upBias);
    take(kBundleShift, 1, l.shift);
    l.stride = (at + kFfnBundleRowAlign - 1) / kFfnBundleRowAlign *
               kFfnBundleRowAlign;
    return l;
  }
};

/// How a sparse FFN block finds its active neurons (the kernel's mode).
enum class FfnPredictorKind : uint32_t {
  /// Every neuron is computed in full (dense, on the bundled layout).
  None = 0,
  /// The gate (the up row of a plain block) of every neuron is computed
  /// first; up and down are read only where the activation is non-zero.
  /// Exact; for blocks whose zeros the gate decides (ReLU family, threshold
  /// on the activation).
  ExactGate = 1,
  /// A low-rank predictor scores every neuron, s = (x A) B + c; neurons
  /// with s > 0 are computed exactly, the others are taken as 0.
  LowRank = 2,
};

/// The block's activation, as the actsparse.ffn `activation` attribute
/// numbers it.
enum class FfnActivation : uint32_t { Relu = 0, Silu = 1, Gelu = 2, GeluTanh = 3 };

/// The activation function `a` at `v`, in f32 as the kernels compute it.
inline float activate(FfnActivation a, float v) {
  switch (a) {
  case FfnActivation::Relu:
    return v > 0.0f ? v : 0.0f;
  case FfnActivation::Silu:
    return v / (1.0f + std::exp(-v));
  case FfnActivation::Gelu:
    return 0.5f * v * (1.0f + std::erf(v * float(M_SQRT1_2)));
  case FfnActivation::GeluTanh: {
    float inner = float(std::sqrt(2.0 / M_PI)) * (v + 0.044715f * v * v * v);
    return 0.5f * v * (1.0f + std::tanh(inner));
  }
  }
  return v;
}

/// Everything the sparse FFN kernel needs to know about a block besides
/// its tensors, packed into one integer by the lowering.
struct FfnKernelConfig {
  uint32_t fields = kBundleUp | kBundleDown;
  FfnActivation activation = FfnActivation::Relu;
  bool reluUp = false;
  bool thresholdOnNeuron = false;
  FfnPredictorKind predictor = FfnPredictorKind::None;

  int64_t encode() const {
    return int64_t(fields) | int64_t(activation) << 8 |
           int64_t(reluUp) << 10 | int64_t(thresholdOnNeuron) << 11 |
           int64_t(predictor) << 12;
  }
  static FfnKernelConfig decode(int64_t word) {
    FfnKernelConfig c;
    c.fields = uint32_t(word & 0xff);
    c.activation = FfnActivation((word >> 8) & 3);
    c.reluUp = (word >> 10) & 1;
    c.thresholdOnNeuron = (word >> 11) & 1;
    c.predictor = FfnPredictorKind((word >> 12) & 3);
    return c;
  }
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_FFNBUNDLE_H
