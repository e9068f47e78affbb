//===- Quant.h - block-quantized weight rows -------------------*- C++ -*-===//
//
// The one definition of the quantized weight formats: what a block holds,
// how a row of f32 weights becomes blocks (round to nearest) and back, and
// the kernels that multiply activations by quantized rows.
//
// A quantized matrix is stored as rows of the weights' reduction dimension:
// for y = x W with W [K, N], row n holds W[:, n] (the layout of a weight
// that MatMul reads transposed). Each row is ceil(K / 32) blocks of 32
// weights; the last block is padded with zeros. Block formats, like
// llama.cpp's of the same names (little-endian; f16 is IEEE half):
//
//   q8_0  f16 d, i8 q[32]        w = d * q            34 bytes, 8.5 bits
//   q4_0  f16 d, u8 qs[16]       w = d * (q - 8)      18 bytes, 4.5 bits
//   q4_1  f16 d, f16 m, u8 qs[16] w = d * q + m       20 bytes, 5 bits
//   f16   f16 w[32]              IEEE half             64 bytes, 16 bits
//   bf16  u16 w[32]              the top half of the   64 bytes, 16 bits
//                                f32 (bfloat16)
//
// In the 4-bit kinds weight j < 16 of a block is the low nibble of qs[j]
// and weight j + 16 its high nibble. The two float kinds (f16, bf16) have
// no scale: each weight is rounded to nearest even on its own, and the
// kernels multiply them by the activations in f32.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_QUANT_H
#define ACTSPARSE_RUNTIME_QUANT_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace actsparse::runtime {

/// The quantized kinds; the numbers are part of the ABI (the kernel's kind
/// argument) and of the IR (actsparse.dequantize's kind).
enum class QuantKind : int64_t { Q8_0 = 0, Q4_0 = 1, Q4_1 = 2, F16 = 3, BF16 = 4 };

constexpr QuantKind kAllQuantKinds[] = {QuantKind::Q8_0, QuantKind::Q4_0,
                                        QuantKind::Q4_1, QuantKind::F16,
                                        QuantKind::BF16};

/// The kinds whose weights are floats of their own (no block scale).
constexpr bool isFloatKind(QuantKind kind) {
  return kind == QuantKind::F16 || kind == QuantKind::BF16;
}

constexpr int64_t kQuantBlock = 32;

/// Bytes of one block of `kind`.
constexpr int64_t quantBlockBytes(QuantKind kind) {
  return kind == QuantKind::Q8_0   ? 34
         : kind == QuantKind::Q4_0 ? 18
         : kind == QuantKind::Q4_1 ? 20
                                   : 64;
}

/// Bytes of one quantized row of `k` weights.
constexpr int64_t quantRowBytes(QuantKind kind, int64_t k) {
  return (k + kQuantBlock - 1) / kQuantBlock * quantBlockBytes(kind);
}

constexpr const char *quantKindName(QuantKind kind) {
  return kind == QuantKind::Q8_0   ? "q8_0"
         : kind == QuantKind::Q4_0 ? "q4_0"
         : kind == QuantKind::Q4_1 ? "q4_1"
         : kind == QuantKind::F16  ? "f16"
                                   : "bf16";
}

inline std::optional<QuantKind> parseQuantKind(std::string_view name) {
  for (QuantKind k : kAllQuantKinds)
    if (name == quantKindName(k))
      return k;
  return std::nullopt;
}

/// Quantizes `k` weights into one row of `kind` (quantRowBytes bytes),
/// round to nearest: q8_0 and q4_0 scale by the largest magnitude, q4_1
/// spans the block's minimum to maximum, f16 and bf16 round each weight
/// to nearest even (bf16 keeps NaN a quiet NaN).
void quantizeRow(QuantKind kind, const float *w, int64_t k, uint8_t *row);

/// The f32 weights a row stands for (the reference the kernels match).
void dequantizeRow(QuantKind kind, const uint8_t *row, int64_t k, float *w);

/// From this many activation rows on (prefill), the kernel dequantizes each
/// weight row once to f32 and takes f32 dot products with the activations
/// as they are (but for the AVX-512 kernels of quantizedMatMul); below it
/// (decode), it quantizes the activations.
constexpr int64_t kQuantF32Rows = 8;

/// y[m][n] = sum_k x[m][k] * w_n[k] for quantized rows w_n (row n at
/// `w + n * ldw`), m < M, n < N, y overwritten. For M < kQuantF32Rows the
/// activations are quantized to 8 bits per block of 32 (scale
/// max|x| / 127), as llama.cpp does in decode, and dotted in integers
/// (the float kinds: each weight converted and multiplied by the f32
/// activations); for more rows each weight row is dequantized once and
/// dotted in f32. Threaded over the runtime's pool for large products and
/// vectorized for AVX2 when the CPU has it. Prefill on a CPU with
/// AVX-512, as llama.cpp does: bf16 weights with AVX512-BF16 round the
/// activations to bf16 (nearest even) and take VDPBF16PS dot products,
/// two weights per f32 lane; q8_0, q4_0 and q4_1 with AVX512-VNNI
/// quantize the activations as decode does and take VPDPBUSD dot
/// products; f16 (on the same CPUs as bf16) converts twelve weight rows
/// at a time to f32 and multiplies the activations as they are. `impl`
/// forces a variant: 0 any, 1 scalar, 2 AVX2, 3 the AVX-512 prefill
/// kernels and AVX2 otherwise (tests compare them; 3 needs a CPU with
/// AVX512-BF16 and AVX512-VNNI).
void quantizedMatMul(QuantKind kind, const float *x, int64_t ldx, int64_t M,
                     int64_t K, const uint8_t *w, int64_t ldw, int64_t N,
                     float *y, int64_t ldy, int impl = 0);

/// Quantized rows laid out for the kernels (q8_0, q4_0, q4_1; the loader
/// does it for weights whose signature line says `groups`, Entry.h): rows
/// in groups of kQuantGroupRows, each group quantGroupBytes(kind, K)
/// bytes, the last group padded with rows of zeros. Within a group, block b of all eight
/// rows is one run of 8 * quantBlockBytes(kind) bytes:
///
///   f16 d[8]                     the eight rows' scales
///   f16 m[8]                     q4_1 only: their minimums
///   u8  payload[chunks][8][4]    chunk c, row r: bytes 4c..4c+3 of row
///                                r's quantized values (q[32] or qs[16])
///
/// so the decode kernel loads eight scales as one vector, and each 32-byte
/// load holds four values (eight nibbles) of every row: products summed
/// within 4-byte lanes give one row per lane, with no reduction across
/// lanes (the layout of llama.cpp's repacked q4_0 and of VNNI dot products).
constexpr int64_t kQuantGroupRows = 8;

constexpr int64_t quantGroupBytes(QuantKind kind, int64_t k) {
  return kQuantGroupRows * quantRowBytes(kind, k);
}

/// Writes the N rows of K weights at `rows` (row n at rows + n * ldw) as
/// ceil(N / 8) groups into `groups`.
void groupQuantizedRows(QuantKind kind, const uint8_t *rows, int64_t ldw,
                        int64_t N, int64_t K, uint8_t *groups);

/// Blocks [b0, b0 + count) of row r (< 8) of `group`, as a quantized row
/// stores them, into `out`.
void ungroupQuantizedBlocks(QuantKind kind, const uint8_t *group, int64_t r,
                            int64_t b0, int64_t count, uint8_t *out);

/// quantizedMatMul for weight rows laid out in groups (`w`, ceil(N / 8)
/// groups of quantGroupBytes(kind, K) bytes). Each block's integer sum is
/// the same as on plain rows; decode scales it in one step (the plain AVX2
/// kernel scales eight partial sums), so the float results may differ in
/// the last bits.
void quantizedMatMulGrouped(QuantKind kind, const float *x, int64_t ldx,
                            int64_t M, int64_t K, const uint8_t *w, int64_t N,
                            float *y, int64_t ldy, int impl = 0);

/// Whether the AVX2 variant can run on this CPU.
bool quantAvx2Available();

/// Whether this CPU has AVX512-BF16 (bf16 prefill's dot products).
bool avx512Bf16Available();

/// Whether this CPU has AVX512-VNNI (the integer kinds' prefill).
bool avx512VnniAvailable();

/// Whether quantizedMatMul (impl 0) may take the AVX-512 prefill kernels,
/// which round the activations (default true; `sparse-run
/// --exact-prefill` sets false: every prefill then dequantizes the
/// weights and multiplies the activations in f32, slower, the numbers of
/// a CPU without AVX-512). Set it between calls.
void setRoundedPrefill(bool allowed);
bool roundedPrefill();

/// Activations of M rows quantized per block of 32, as the decode kernels
/// take them: 8-bit values (scale max|x| / 127, round to nearest even),
/// each block's scale, and the sum of its values (for the 4-bit kinds'
/// offsets). A row of K values has ceil(K / 32) blocks, the last padded
/// with zeros.
struct QuantizedActivations {
  int64_t blocks = 0;
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> sum;
  /// The rows quantized (K values, `ld` apart), which the float kinds'
  /// dot products read; valid until they change.
  const float *source = nullptr;
  int64_t ld = 0, k = 0;

  /// Quantizes rows x[m * ldx .. + K), m < M (`vectorized`: the AVX2
  /// loop for whole blocks, which computes the same values).
  void quantize(const float *x, int64_t ldx, int64_t M, int64_t K,
                bool vectorized);
  const int8_t *rowQ(int64_t m) const {
    return q.data() + m * blocks * kQuantBlock;
  }
};

/// The dot product of activation row `m` of `x` with one quantized weight
/// row of x.blocks blocks (integer products per block, scaled in floats;
/// for the float kinds, in f32 with x's unquantized source).
float quantizedDot(QuantKind kind, const uint8_t *row,
                   const QuantizedActivations &x, int64_t m);

/// y[j] += alpha * w_j for the first `n` weights w of a quantized row (a
/// down column of a bundled FFN neuron).
void addScaledRow(QuantKind kind, float alpha, const uint8_t *row, int64_t n,
                  float *y);

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_QUANT_H
