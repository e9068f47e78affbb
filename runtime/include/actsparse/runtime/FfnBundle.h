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
// A quantized bundle (q8_0, q4_0, q4_1: Quant.h) is a byte matrix: the
// gate and up rows and the down column are each a quantized row of their
// own (whole 32-weight blocks), the scalars follow as f32 at a 4-byte
// boundary, and the row is padded to 64 bytes. Offsets then count bytes.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_FFNBUNDLE_H
#define ACTSPARSE_RUNTIME_FFNBUNDLE_H

#include "actsparse/runtime/Quant.h"

#include <cmath>
#include <cstdint>
#include <optional>

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

/// Where each field starts in a bundle row (-1 when absent) and the row
/// length, in elements of the bundle tensor: floats for an f32 bundle,
/// bytes for a quantized one.
struct FfnBundleLayout {
  int64_t gate = -1, up = -1, down = -1;
  int64_t gateBias = -1, upBias = -1, shift = -1;
  int64_t stride = 0;
  /// The weights' format; none: f32.
  std::optional<QuantKind> quant;

  /// The layout of a block with input width `d`, output width `e` and the
  /// fields `fields` (up and down are always present), its weights in f32
  /// or in `quant`.
  static FfnBundleLayout make(int64_t d, int64_t e, uint32_t fields,
                              std::optional<QuantKind> quant = std::nullopt) {
    FfnBundleLayout l;
    l.quant = quant;
    // A row of n weights, and one scalar, in the tensor's elements.
    auto weights = [&](int64_t n) {
      return quant ? quantRowBytes(*quant, n) : n;
    };
    const int64_t scalar = quant ? int64_t(sizeof(float)) : 1;
    int64_t at = 0;
    auto take = [&](uint32_t field, int64_t size, int64_t &where) {
      if (fields & field) {
        where = at;
        at += size;
      }
    };
    take(kBundleGate, weights(d), l.gate);
    l.up = at;
    at += weights(d);
    l.down = at;
    at += weights(e);
    at = (at + scalar - 1) / scalar * scalar;
    take(kBundleGateBias, scalar, l.gateBias);
    take(kBundleUpBias, scalar, l.upBias);
    take(kBundleShift, scalar, l.shift);
    const int64_t align = kFfnBundleRowAlign * scalar;
    l.stride = (at + align - 1) / align * align;
    return l;
  }

  /// Bytes of one row.
  int64_t rowBytes() const {
    return quant ? stride : stride * int64_t(sizeof(float));
  }
  /// Bytes of the field that decides a neuron (gate, or up in a plain
  /// block): what the exact gate reads of an inactive neuron.
  int64_t decidingBytes(int64_t d) const {
    return quant ? quantRowBytes(*quant, d) : d * int64_t(sizeof(float));
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
  /// The bundle's weight format (none: f32).
  std::optional<QuantKind> quant;
  /// The gate is apart: the kernel gets every gate pre-activation, and the
  /// rows hold no gate, gate bias or shift (a gated block all the same).
  bool gatePre = false;

  int64_t encode() const {
    return int64_t(fields) | int64_t(activation) << 8 |
           int64_t(reluUp) << 10 | int64_t(thresholdOnNeuron) << 11 |
           int64_t(predictor) << 12 |
           (quant ? int64_t(*quant) + 1 : 0) << 14 | int64_t(gatePre) << 17;
  }
  static FfnKernelConfig decode(int64_t word) {
    FfnKernelConfig c;
    c.fields = uint32_t(word & 0xff);
    c.activation = FfnActivation((word >> 8) & 3);
    c.reluUp = (word >> 10) & 1;
    c.thresholdOnNeuron = (word >> 11) & 1;
    c.predictor = FfnPredictorKind((word >> 12) & 3);
    if (int64_t q = (word >> 14) & 7)
      c.quant = QuantKind(q - 1);
    c.gatePre = (word >> 17) & 1;
    return c;
  }
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_FFNBUNDLE_H
