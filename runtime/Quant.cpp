//===- Quant.cpp - block-quantized rows and their matmul kernels ----------===//
//
// Decode streams every weight once per token, so bytes per weight set its
// speed. The kernels quantize the activations to 8 bits per block once per
// call and take integer dot products of 32 weights at a time (AVX2 maddubs),
// scaling each block's sum in floats, as llama.cpp does for its q8_0, q4_0
// and q4_1 types.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Quant.h"
#include "actsparse/runtime/Abi.h"
#include "Gemm.h"
#include "ThreadPool.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <array>
#include <utility>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace actsparse::runtime {
namespace {

float halfToFloat(const uint8_t *p) {
  _Float16 h;
  std::memcpy(&h, p, 2);
  return float(h);
}

/// Stores `f` as f16 and returns the value stored.
float storeHalf(float f, uint8_t *p) {
  _Float16 h = _Float16(f);
  std::memcpy(p, &h, 2);
  return float(h);
}

int quantRound(float v, int lo, int hi) {
  return std::clamp(int(std::nearbyint(v)), lo, hi);
}

/// Bytes of a block's f16 fields (d, and m for q4_1); its values follow.
constexpr int64_t quantHeaderBytes(QuantKind kind) {
  return isFloatKind(kind) ? 0 : kind == QuantKind::Q4_1 ? 4 : 2;
}

/// bfloat16: the top 16 bits of an f32, rounded to nearest even.
float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f))
    return uint16_t(bits >> 16 | 0x40); // quiet, sign kept
  return uint16_t((bits + 0x7fff + (bits >> 16 & 1)) >> 16);
}

/// Weight i of a row of a float kind.
float floatWeight(QuantKind kind, const uint8_t *row, int64_t i) {
  if (kind == QuantKind::F16)
    return halfToFloat(row + 2 * i);
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return bf16ToFloat(h);
}

/// Calls f with `kind` as a compile-time constant (std::integral_constant).
template <typename F> decltype(auto) withKind(QuantKind kind, F &&f) {
  using K = QuantKind;
  switch (kind) {
  case K::Q8_0:
    return f(std::integral_constant<K, K::Q8_0>());
  case K::Q4_0:
    return f(std::integral_constant<K, K::Q4_0>());
  case K::Q4_1:
    return f(std::integral_constant<K, K::Q4_1>());
  case K::F16:
    return f(std::integral_constant<K, K::F16>());
  case K::BF16:
    break;
  }
  return f(std::integral_constant<K, K::BF16>());
}

/// One full block of activations, as the scalar loop below computes it
/// (the same products, rounded to nearest even), eight lanes at a time.
__attribute__((target("avx2,fma"))) void
quantizeBlockAvx2(const float *v, int8_t *out, float &scale, int32_t &sum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 x[4], m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    x[i] = _mm256_loadu_ps(v + 8 * i);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, x[i]));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  float amax = _mm_cvtss_f32(h);
  float d = amax / 127.0f, inv = d ? 1.0f / d : 0.0f;
  __m256i q[4], total = _mm256_setzero_si256();
  for (int i = 0; i < 4; ++i) {
    q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(x[i], _mm256_set1_ps(inv)));
    total = _mm256_add_epi32(total, q[i]);
  }
  // Pack to bytes; the packs interleave 128-bit lanes, the permute undoes it.
  __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                     _mm256_packs_epi32(q[2], q[3]));
  bytes = _mm256_permutevar8x32_epi32(
      bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256((__m256i *)out, bytes);
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total),
                            _mm256_extracti128_si256(total, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  scale = d;
  sum = _mm_cvtsi128_si32(t);
}

/// Integer dot product of block `b`'s 32 weights with 32 activations, and
/// the block's float scale (and offset for q4_1) — the scalar reference.
float dotRowScalar(QuantKind kind, const uint8_t *row, const QuantizedActivations &x,
                   int64_t m) {
  if (isFloatKind(kind)) {
    const float *v = x.source + m * x.ld;
    float acc = 0;
    for (int64_t i = 0; i < x.k; ++i)
      acc += floatWeight(kind, row, i) * v[i];
    return acc;
  }
  const int64_t bytes = quantBlockBytes(kind);
  const int8_t *xq = x.rowQ(m);
  const float *dx = x.scale.data() + m * x.blocks;
  const int32_t *sx = x.sum.data() + m * x.blocks;
  float acc = 0;
  for (int64_t b = 0; b < x.blocks; ++b) {
    const uint8_t *blk = row + b * bytes;
    const int8_t *v = xq + b * kQuantBlock;
    float d = halfToFloat(blk);
    int32_t isum = 0;
    if (kind == QuantKind::Q8_0) {
      for (int j = 0; j < 32; ++j)
        isum += int32_t(int8_t(blk[2 + j])) * v[j];
      acc += d * dx[b] * float(isum);
      continue;
    }
    const uint8_t *qs = blk + (kind == QuantKind::Q4_1 ? 4 : 2);
    for (int j = 0; j < 16; ++j)
      isum += int32_t(qs[j] & 15) * v[j] + int32_t(qs[j] >> 4) * v[j + 16];
    if (kind == QuantKind::Q4_0)
      acc += d * dx[b] * float(isum - 8 * sx[b]);
    else
      acc += d * dx[b] * float(isum) + halfToFloat(blk + 2) * dx[b] * sx[b];
  }
  return acc;
}

__attribute__((target("avx2,fma,f16c"))) inline float
hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// Eight weights of a float kind as f32.
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline __m256
floatWeights8(const uint8_t *p) {
  __m128i h = _mm_loadu_si128((const __m128i *)p);
  if constexpr (kind == QuantKind::F16)
    return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/// A row of a float kind dotted with K f32 activations: four accumulators
/// over 32 weights, then eight at a time, then one at a time.
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c"))) float
floatDotAvx2(const uint8_t *row, const float *x, int64_t K) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= K; i += 32)
    for (int g = 0; g < 4; ++g)
      acc[g] = _mm256_fmadd_ps(floatWeights8<kind>(row + 2 * (i + 8 * g)),
                               _mm256_loadu_ps(x + i + 8 * g), acc[g]);
  for (; i + 8 <= K; i += 8)
    acc[0] = _mm256_fmadd_ps(floatWeights8<kind>(row + 2 * i),
                             _mm256_loadu_ps(x + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                 _mm256_add_ps(acc[2], acc[3])));
  for (; i < K; ++i)
    sum += floatWeight(kind, row, i) * x[i];
  return sum;
}

/// Block `b` of one weight row against R activation rows from m0: the
/// weights are loaded and unpacked once for all R; each row's block sum is
/// scaled into `acc[r]` (and q4_1's offset term into `offsets[r]`).
template <QuantKind kind, int R>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void
blockAvx2(const uint8_t *row, const QuantizedActivations &x, int64_t m0, int64_t b,
          __m256 *acc, float *offsets) {
  constexpr int64_t bytes = quantBlockBytes(kind);
  const uint8_t *blk = row + b * bytes;
  uint16_t dh;
  std::memcpy(&dh, blk, 2);
  const float dw = _cvtsh_ss(dh);
  __m256i w;
  float mw = 0;
  if constexpr (kind == QuantKind::Q8_0) {
    w = _mm256_loadu_si256((const __m256i *)(blk + 2));
  } else {
    const __m128i low = _mm_set1_epi8(15);
    const uint8_t *qs = blk + (kind == QuantKind::Q4_1 ? 4 : 2);
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    w = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low),
                         _mm_and_si128(packed, low));
    if constexpr (kind == QuantKind::Q4_1) {
      uint16_t mh;
      std::memcpy(&mh, blk + 2, 2);
      mw = _cvtsh_ss(mh);
    }
  }
  // maddubs multiplies unsigned by signed bytes: q8_0 takes |w| times x
  // with w's sign; the 4-bit kinds' unsigned nibbles go in as they are.
  __m256i wu = w;
  if constexpr (kind == QuantKind::Q8_0)
    wu = _mm256_sign_epi8(w, w);
  for (int r = 0; r < R; ++r) {
    const int64_t i = (m0 + r) * x.blocks + b;
    __m256i v =
        _mm256_loadu_si256((const __m256i *)(x.q.data() + i * kQuantBlock));
    if constexpr (kind == QuantKind::Q8_0)
      v = _mm256_sign_epi8(v, w);
    __m256i p32 = _mm256_madd_epi16(_mm256_maddubs_epi16(wu, v),
                                    _mm256_set1_epi16(1));
    // q4_0's -8 offset: 8 sum(x) taken from the 8 lanes, one sum(x) each,
    // in integers, so no scalar chain runs across blocks.
    if constexpr (kind == QuantKind::Q4_0)
      p32 = _mm256_sub_epi32(p32, _mm256_set1_epi32(x.sum[i]));
    const float d = dw * x.scale[i];
    acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(d),
                             acc[r]);
    if constexpr (kind == QuantKind::Q4_1)
      offsets[r] += mw * x.scale[i] * float(x.sum[i]);
  }
}

/// One weight row against R activation rows m0..m0+R-1 at once. Even and
/// odd blocks go to separate accumulators, so consecutive blocks do not
/// wait on each other's multiply-add.
template <QuantKind kind, int R>
__attribute__((target("avx2,fma,f16c"))) void
dotRowsAvx2(const uint8_t *row, const QuantizedActivations &x, int64_t m0,
            float *out, int64_t ldo) {
  __m256 even[R], odd[R];
  float offsets[R];
  for (int r = 0; r < R; ++r) {
    even[r] = odd[r] = _mm256_setzero_ps();
    offsets[r] = 0;
  }
  int64_t b = 0;
  for (; b + 2 <= x.blocks; b += 2) {
    blockAvx2<kind, R>(row, x, m0, b, even, offsets);
    blockAvx2<kind, R>(row, x, m0, b + 1, odd, offsets);
  }
  if (b < x.blocks)
    blockAvx2<kind, R>(row, x, m0, b, even, offsets);
  for (int r = 0; r < R; ++r)
    out[r * ldo] = hsum(_mm256_add_ps(even[r], odd[r])) + offsets[r];
}

/// Weight rows n0..n1 against every activation row, four at a time.
template <QuantKind kind>
void rowsAvx2(const uint8_t *w, int64_t ldw, const QuantizedActivations &x,
              int64_t M, int64_t n0, int64_t n1, float *y, int64_t ldy) {
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t *row = w + n * ldw;
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
      dotRowsAvx2<kind, 4>(row, x, m, y + m * ldy + n, ldy);
    for (; m < M; ++m)
      dotRowsAvx2<kind, 1>(row, x, m, y + m * ldy + n, ldy);
  }
}

/// Bytes [i, i + 4) of a block's values: in the row, or (`grouped`) in
/// row r's lanes of a group's segment (layout in Quant.h).
template <QuantKind kind, bool grouped>
inline int32_t valueBytes(const uint8_t *blk, int64_t r, int64_t i) {
  constexpr int64_t head = quantHeaderBytes(kind);
  int32_t four;
  std::memcpy(&four,
              grouped ? blk + kQuantGroupRows * head + 8 * i + 4 * r
                      : blk + head + i,
              4);
  return four;
}

/// A block's f16 field (0 d, 1 m): in the row, or (`grouped`) row r's of
/// a group's segment, which holds each field for eight rows.
template <bool grouped>
__attribute__((target("f16c"), always_inline)) inline float
halfField(const uint8_t *blk, int64_t r, int field) {
  uint16_t h;
  std::memcpy(&h, blk + 2 * (grouped ? field * kQuantGroupRows + r : field), 2);
  return _cvtsh_ss(h);
}

/// One block of a row as 32 f32 weights in four registers: a plain row's
/// block, or (`grouped`) row r's of a group's segment.
template <QuantKind kind, bool grouped>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void
dequantizeBlockAvx2(const uint8_t *blk, int64_t r, __m256 v[4]) {
  if constexpr (isFloatKind(kind)) {
    static_assert(!grouped, "float kinds are not laid out in groups");
    for (int g = 0; g < 4; ++g)
      v[g] = floatWeights8<kind>(blk + 16 * g);
    return;
  } else {
    const __m256 d = _mm256_set1_ps(halfField<grouped>(blk, r, 0));
    auto values = [&](int64_t i) { // 8 bytes from value i
      return _mm_set_epi32(0, 0, valueBytes<kind, grouped>(blk, r, i + 4),
                           valueBytes<kind, grouped>(blk, r, i));
    };
    if constexpr (kind == QuantKind::Q8_0) {
      for (int g = 0; g < 4; ++g)
        v[g] = _mm256_mul_ps(
            d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(values(8 * g))));
      return;
    }
    const __m128i low = _mm_set1_epi8(15);
    __m128i packed = _mm_unpacklo_epi64(values(0), values(8));
    // Weights 0-15 are the low nibbles, 16-31 the high ones.
    __m128i nibbles[2] = {_mm_and_si128(packed, low),
                          _mm_and_si128(_mm_srli_epi16(packed, 4), low)};
    __m256 m = _mm256_set1_ps(-8.0f);
    if constexpr (kind == QuantKind::Q4_1)
      m = _mm256_set1_ps(halfField<grouped>(blk, r, 1));
    for (int g = 0; g < 4; ++g) {
      __m128i part = g % 2 ? _mm_srli_si128(nibbles[g / 2], 8) : nibbles[g / 2];
      __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part));
      v[g] = kind == QuantKind::Q4_0 ? _mm256_mul_ps(d, _mm256_add_ps(q, m))
                                     : _mm256_fmadd_ps(d, q, m);
    }
  }
}

/// A weight row as f32 (blocks x 32 floats, the padding zero): a plain
/// row, or (`grouped`) row r of a group, `row` its first block's segment.
template <QuantKind kind, bool grouped = false>
__attribute__((target("avx2,fma,f16c"))) void
dequantizeRowAvx2(const uint8_t *row, int64_t blocks, float *out,
                  int64_t r = 0) {
  constexpr int64_t step =
      (grouped ? kQuantGroupRows : 1) * quantBlockBytes(kind);
  for (int64_t b = 0; b < blocks; ++b, out += kQuantBlock) {
    __m256 v[4];
    dequantizeBlockAvx2<kind, grouped>(row + b * step, r, v);
    for (int g = 0; g < 4; ++g)
      _mm256_storeu_ps(out + 8 * g, v[g]);
  }
}

/// y[0..n) += alpha * the row's weights: each block dequantized into
/// registers (dequantizeBlockAvx2), then multiplied and added; a last
/// partial block goes through a buffer.
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c"))) void
addScaledRowAvx2(float alpha, const uint8_t *row, int64_t n, float *y) {
  constexpr int64_t bytes = quantBlockBytes(kind);
  const __m256 a = _mm256_set1_ps(alpha);
  alignas(32) float w[kQuantBlock];
  int64_t b = 0;
  for (; (b + 1) * kQuantBlock <= n; ++b) {
    __m256 v[4];
    dequantizeBlockAvx2<kind, false>(row + b * bytes, 0, v);
    float *out = y + b * kQuantBlock;
    for (int g = 0; g < 4; ++g)
      _mm256_storeu_ps(out + 8 * g, _mm256_fmadd_ps(a, v[g],
                                                    _mm256_loadu_ps(out + 8 * g)));
  }
  if (b * kQuantBlock < n) {
    dequantizeRowAvx2<kind>(row + b * bytes, 1, w);
    for (int64_t j = 0; b * kQuantBlock + j < n; ++j)
      y[b * kQuantBlock + j] += alpha * w[j];
  }
}

/// out[q * rows + m] = in[m * cols + q] for m < rows (a multiple of 8),
/// q < cols: 32-bit lanes moved eight rows by eight at a time, as floats.
__attribute__((target("avx2"))) void transposeLanes(const uint32_t *in,
                                                    int64_t rows, int64_t cols,
                                                    uint32_t *out) {
  const auto *src = reinterpret_cast<const float *>(in);
  auto *dst = reinterpret_cast<float *>(out);
  int64_t q = 0;
  for (; q + 8 <= cols; q += 8)
    for (int64_t m = 0; m < rows; m += 8) {
      __m256 v[8], t[8];
      for (int i = 0; i < 8; ++i)
        v[i] = _mm256_loadu_ps(src + (m + i) * cols + q);
      transposeRegisters8x8(v, t);
      for (int i = 0; i < 8; ++i)
        _mm256_storeu_ps(dst + (q + i) * rows + m, t[i]);
    }
  for (; q < cols; ++q)
    for (int64_t m = 0; m < rows; ++m)
      out[q * rows + m] = in[m * cols + q];
}

/// Prefill of bf16 weights with AVX512-BF16 (rowsBf16 below): the
/// activations rounded to bf16 once per call, two per 32-bit lane, and
/// transposed: pair p (columns 2p, 2p + 1) of row m at pairs[p * ld + m],
/// ld = M rounded up to 16, the rows past M and the pair past an odd K
/// zero. Sixteen rows' pair p are then one vector.
struct Bf16Activations {
  std::vector<uint32_t> pairs;
  std::vector<uint16_t> row;
  int64_t ld = 0;
  void round(const float *x, int64_t ldx, int64_t M, int64_t K);
};

__attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw"))) void
Bf16Activations::round(const float *x, int64_t ldx, int64_t M, int64_t K) {
  ld = (M + 15) / 16 * 16;
  const int64_t K2 = (K + 1) / 2;
  // Row-major first (row m's pairs at row[m * K2]), then transposed eight
  // rows by eight pairs at a time, the pairs moved as floats.
  row.resize(ld * 2 * K2);
  std::fill(row.begin() + M * 2 * K2, row.end(), 0);
  for (int64_t m = 0; m < M; ++m) {
    const float *in = x + m * ldx;
    uint16_t *out = row.data() + m * 2 * K2;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(in + k));
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + k),
                          reinterpret_cast<__m256i &>(h));
    }
    for (; k < K; ++k)
      out[k] = floatToBf16(in[k]);
    if (K % 2)
      out[K] = 0;
  }
  pairs.resize(K2 * ld);
  transposeLanes(reinterpret_cast<const uint32_t *>(row.data()), ld, K2,
                 pairs.data());
}

/// C[m][r] = lane m of acc[r] (vector m / 16) for m < mrows, r < Rows:
/// a tile whose lanes are rows of C.
template <int Rows, int V>
__attribute__((target("avx512f"))) inline void
storeTransposed(const __m512 (&acc)[Rows][V], float *C, int64_t ldc,
                int64_t mrows) {
  alignas(64) float tile[Rows][16 * V];
  for (int r = 0; r < Rows; ++r)
    for (int v = 0; v < V; ++v)
      _mm512_store_ps(tile[r] + 16 * v, acc[r][v]);
  for (int64_t m = 0; m < mrows; ++m)
    for (int r = 0; r < Rows; ++r)
      C[m * ldc + r] = tile[r][m];
}

/// Rows [m0, m0 + mrows) of C[.][n, n + Rows) = A * W^T for Rows weight
/// rows (w, ldw bytes apart) over K lanes of 32 bits, mrows <= 16 * V:
/// per lane p, V vectors of sixteen rows' activations meet each weight
/// row's lane p, broadcast. Pairs: bf16 pairs, one VDPBF16PS each;
/// otherwise f32, one FMA each. The weights are read as they are stored
/// (nothing is packed); a lane holds one row of C, so the tile is written
/// transposed. (Both forms are compiled for AVX512-BF16 and taken only on
/// CPUs that have it; the f32 one uses none of its instructions.)
template <int Rows, int V, bool Pairs>
__attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw"))) void
tileBroadcast(const uint32_t *A, int64_t lda, const uint8_t *w, int64_t ldw,
              int64_t K, float *C, int64_t ldc, int64_t mrows) {
  __m512 acc[Rows][V];
  const uint32_t *rows[Rows];
#pragma GCC unroll 12
  for (int r = 0; r < Rows; ++r) {
    rows[r] = reinterpret_cast<const uint32_t *>(w + r * ldw);
    for (int v = 0; v < V; ++v)
      acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < K; ++p) {
    __m512 a[V];
    for (int v = 0; v < V; ++v)
      a[v] = _mm512_loadu_ps(reinterpret_cast<const float *>(A + p * lda) +
                             16 * v);
    if (p % 16 == 0) // a line of each row, 1 KiB ahead
#pragma GCC unroll 12
      for (int r = 0; r < Rows; ++r)
        __builtin_prefetch(rows[r] + p + 256, 0, 3);
#pragma GCC unroll 12
    for (int r = 0; r < Rows; ++r) {
      __m512i b = _mm512_set1_epi32(int(rows[r][p]));
      for (int v = 0; v < V; ++v)
        if constexpr (Pairs)
          acc[r][v] = _mm512_dpbf16_ps(acc[r][v],
                                       reinterpret_cast<__m512bh &>(a[v]),
                                       reinterpret_cast<__m512bh &>(b));
        else
          acc[r][v] = _mm512_fmadd_ps(a[v], _mm512_castsi512_ps(b), acc[r][v]);
    }
  }
  storeTransposed<Rows, V>(acc, C, ldc, mrows);
}

using BroadcastTileFn = void (*)(const uint32_t *, int64_t, const uint8_t *,
                                 int64_t, int64_t, float *, int64_t, int64_t);
constexpr int kBroadcastTileRows = 12;
template <int V, bool Pairs, size_t... R>
constexpr std::array<BroadcastTileFn, sizeof...(R)>
broadcastTiles(std::index_sequence<R...>) {
  return {tileBroadcast<int(R) + 1, V, Pairs>...};
}

/// C[0:M][n0:n1] for the rows at `w` (row n at w + n * ldw bytes), twelve
/// at a time, with every 32 (then 16) rows of the transposed activations
/// `x` (lane p of row m at x[p * ld + m]) over all K lanes.
template <bool Pairs>
void rowsBroadcast(const uint32_t *x, int64_t ld, int64_t M, int64_t K,
                   const uint8_t *w, int64_t ldw, int64_t n0, int64_t n1,
                   float *y, int64_t ldy) {
  static constexpr std::array<BroadcastTileFn, kBroadcastTileRows> tiles[] = {
      broadcastTiles<1, Pairs>(std::make_index_sequence<kBroadcastTileRows>()),
      broadcastTiles<2, Pairs>(std::make_index_sequence<kBroadcastTileRows>())};
  for (int64_t n = n0; n < n1; n += kBroadcastTileRows) {
    const int64_t rows = std::min<int64_t>(kBroadcastTileRows, n1 - n);
    for (int64_t m = 0; m < M;) {
      const int V = M - m > 16 ? 2 : 1;
      const int64_t mrows = std::min<int64_t>(16 * V, M - m);
      tiles[V - 1][rows - 1](x + m, ld, w + n * ldw, ldw, K, y + m * ldy + n,
                             ldy, mrows);
      m += mrows;
    }
  }
}

/// Prefill of bf16 rows, columns [n0, n1): sums are f32, as in llama.cpp's
/// BF16 kernels with AVX512-BF16 (which also round the activations).
void rowsBf16(const Bf16Activations &x, int64_t M, int64_t K,
              const uint8_t *w, int64_t ldw, int64_t n0, int64_t n1, float *y,
              int64_t ldy) {
  rowsBroadcast<true>(x.pairs.data(), x.ld, M, (K + 1) / 2, w, ldw, n0, n1, y,
                      ldy);
}

/// Prefill of f16 rows on a CPU with AVX-512 (and AVX512-BF16, see
/// tileBroadcast), columns [n0, n1): twelve rows at a time are converted
/// to f32 into this thread's buffer (one VCVTPH2PS per sixteen weights,
/// which sixty-four activation rows then share), then multiplied as f32
/// rows with the activations transposed as they are (`x`, lane k of row
/// m at x[k * ld + m]): the products of the f32 GEMM, with no panel
/// transposes.
__attribute__((target("avx512f"))) void
rowsF16(const uint32_t *x, int64_t ld, int64_t M, int64_t K, const uint8_t *w,
        int64_t ldw, int64_t n0, int64_t n1, float *y, int64_t ldy) {
  thread_local std::vector<float> converted;
  converted.resize(kBroadcastTileRows * K);
  for (int64_t n = n0; n < n1; n += kBroadcastTileRows) {
    const int64_t rows = std::min<int64_t>(kBroadcastTileRows, n1 - n);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *in = w + (n + r) * ldw;
      float *out = converted.data() + r * K;
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) // (masked: see tileVnni)
        _mm512_storeu_ps(out + k, _mm512_maskz_cvtph_ps(
                                      0xffff, _mm256_loadu_si256(
                                                  reinterpret_cast<const __m256i *>(
                                                      in + 2 * k))));
      for (; k < K; ++k)
        out[k] = halfToFloat(in + 2 * k);
    }
    rowsBroadcast<false>(x, ld, M, K,
                         reinterpret_cast<const uint8_t *>(converted.data()),
                         K * sizeof(float), 0, rows, y + n, ldy);
  }
}

/// f32 activations transposed for rowsF16: lane k of row m at
/// lanes[k * ld + m], ld = M rounded up to 16, the rows past M zero.
struct F32Activations {
  std::vector<float> rows;
  std::vector<uint32_t> lanes;
  int64_t ld = 0;
  void transpose(const float *x, int64_t ldx, int64_t M, int64_t K) {
    ld = (M + 15) / 16 * 16;
    rows.assign(ld * K, 0.0f);
    for (int64_t m = 0; m < M; ++m)
      std::copy_n(x + m * ldx, K, rows.data() + m * K);
    lanes.resize(K * ld);
    transposeLanes(reinterpret_cast<const uint32_t *>(rows.data()), ld, K,
                   lanes.data());
  }
};

/// Prefill of the integer kinds with AVX512-VNNI (rowsVnni below): the
/// activations quantized per block of 32 as decode quantizes them
/// (QuantizedActivations), then transposed so that sixteen rows are one
/// vector: quad c (values 4c..4c+3) of block b of row m at
/// quads[(b * 8 + c) * ld + m]; the block's scale d, the sum of its values
/// and d times that sum at scale, sum and scaledSum[b * ld + m]; ld = M
/// rounded up to 16, the rows past M zero.
struct VnniActivations {
  QuantizedActivations q;
  std::vector<uint32_t> quads;
  std::vector<int32_t> sum;
  std::vector<float> scale, scaledSum;
  int64_t ld = 0, blocks = 0;
  void quantize(const float *x, int64_t ldx, int64_t M, int64_t K);
};

void VnniActivations::quantize(const float *x, int64_t ldx, int64_t M,
                               int64_t K) {
  q.quantize(x, ldx, M, K, /*vectorized=*/true);
  ld = (M + 15) / 16 * 16;
  blocks = q.blocks;
  const int64_t perRow = blocks * kQuantBlock / 4;
  // Rows past M are zero; transposeLanes reads ld rows.
  q.q.resize(ld * blocks * kQuantBlock, 0);
  quads.resize(perRow * ld);
  transposeLanes(reinterpret_cast<const uint32_t *>(q.q.data()), ld, perRow,
                 quads.data());
  scale.assign(blocks * ld, 0.0f);
  scaledSum.assign(blocks * ld, 0.0f);
  sum.assign(blocks * ld, 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t b = 0; b < blocks; ++b) {
      sum[b * ld + m] = q.sum[m * blocks + b];
      scale[b * ld + m] = q.scale[m * blocks + b];
      scaledSum[b * ld + m] = q.scale[m * blocks + b] * q.sum[m * blocks + b];
    }
}

/// halfToFloat in one instruction, for kernels compiled for F16C
/// (halfToFloat itself, built for any x86-64, calls libgcc's conversion).
__attribute__((target("f16c"), always_inline)) inline float
halfF16c(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/// Where a weight row's blocks are: block b's scale at d + b * step, its
/// minimum (q4_1) at m + b * step, its value bytes 4c..4c+3 at
/// values + b * step + c * chunk (a plain row: step = the block's bytes,
/// chunk 4; a row of a group of eight: step = the group's segment, chunk
/// 32).
struct RowBlocks {
  const uint8_t *d, *m, *values;
};

/// The four values of quad c (< 8) of a block as unsigned bytes: q8_0's
/// plus 128, the 4-bit kinds' nibbles (quads 0-3 the low ones of bytes
/// 0-15, quads 4-7 the high ones).
template <QuantKind kind>
inline uint32_t unsignedQuad(const uint8_t *values, int64_t chunk, int c) {
  uint32_t v;
  if constexpr (kind == QuantKind::Q8_0) {
    std::memcpy(&v, values + c * chunk, 4);
    return v ^ 0x80808080u;
  } else {
    std::memcpy(&v, values + (c & 3) * chunk, 4);
    return (c < 4 ? v : v >> 4) & 0x0f0f0f0fu;
  }
}

/// Rows [m0, m0 + mrows) of C[.][n, n + Rows) for Rows quantized weight
/// rows, mrows <= 16 * V. Per block and weight row: eight VPDPBUSD (the
/// row's unsigned quad broadcast, sixteen rows' signed quads a vector)
/// give the integer sums, then the f32 sum takes them times both scales,
/// and the activations' scaled sum times the row's offset (q8_0: -128 d,
/// q4_0: -8 d, for the unsigned values; q4_1: its minimum).
template <QuantKind kind, int Rows, int V>
__attribute__((target("avx512f,avx512bw,avx512vnni,f16c"))) void
tileVnni(const VnniActivations &x, int64_t m0, const RowBlocks *rows,
         int64_t step, int64_t chunk, float *C, int64_t ldc, int64_t mrows) {
  __m512 acc[Rows][V];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
    for (int v = 0; v < V; ++v)
      acc[r][v] = _mm512_setzero_ps();
  for (int64_t b = 0; b < x.blocks; ++b) {
    __m512i dot[Rows][V];
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r)
      for (int v = 0; v < V; ++v)
        dot[r][v] = _mm512_setzero_si512();
    const uint32_t *a = x.quads.data() + b * 8 * x.ld + m0;
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      __m512i xa[V];
      for (int v = 0; v < V; ++v)
        xa[v] = _mm512_loadu_si512(a + c * x.ld + 16 * v);
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r) {
        __m512i w = _mm512_set1_epi32(
            int(unsignedQuad<kind>(rows[r].values + b * step, chunk, c)));
        for (int v = 0; v < V; ++v)
          dot[r][v] = _mm512_dpbusd_epi32(dot[r][v], w, xa[v]);
      }
    }
    // q8_0 and q4_0: the unsigned values' offset (128, 8) times the
    // activations' integer sum comes off the integer sums, exactly; q4_1:
    // its minimum times the activations' scaled sum is added in f32.
    constexpr bool q41 = kind == QuantKind::Q4_1;
    constexpr int shift = kind == QuantKind::Q8_0 ? 7 : 3;
    __m512 dx[V], sx[V];
    for (int v = 0; v < V; ++v) {
      const int64_t at = b * x.ld + m0 + 16 * v;
      dx[v] = _mm512_loadu_ps(x.scale.data() + at);
      if constexpr (q41) {
        sx[v] = _mm512_loadu_ps(x.scaledSum.data() + at);
      } else {
        const __m512i off = _mm512_maskz_slli_epi32(
            0xffff, _mm512_loadu_si512(x.sum.data() + at), shift);
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r)
          dot[r][v] = _mm512_sub_epi32(dot[r][v], off);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512 dw = _mm512_set1_ps(halfF16c(rows[r].d + b * step));
      // (Masked conversions and shifts: GCC 12 warns on the plain ones'
      // undefined pass-through operand.)
      for (int v = 0; v < V; ++v)
        acc[r][v] =
            _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xffff, dot[r][v]),
                            _mm512_mul_ps(dx[v], dw), acc[r][v]);
      if constexpr (q41) {
        const __m512 mw = _mm512_set1_ps(halfF16c(rows[r].m + b * step));
        for (int v = 0; v < V; ++v)
          acc[r][v] = _mm512_fmadd_ps(sx[v], mw, acc[r][v]);
      }
    }
  }
  storeTransposed<Rows, V>(acc, C, ldc, mrows);
}

constexpr int kVnniTileRows = 6;
template <QuantKind kind>
using VnniTileFn = void (*)(const VnniActivations &, int64_t,
                            const RowBlocks *, int64_t, int64_t, float *,
                            int64_t, int64_t);
template <QuantKind kind, int V, size_t... R>
constexpr std::array<VnniTileFn<kind>, sizeof...(R)>
vnniTiles(std::index_sequence<R...>) {
  return {tileVnni<kind, int(R) + 1, V>...};
}

/// Prefill of q8_0, q4_0 or q4_1 rows (plain, or in groups of eight when
/// ldw < 0), columns [n0, n1): six weight rows at a time meet every 32
/// (then 16) rows of quantized activations over all of K, as llama.cpp's
/// prefill does (it too quantizes the activations of every row).
template <QuantKind kind>
void rowsVnni(const VnniActivations &x, int64_t M, int64_t K,
              const uint8_t *w, int64_t ldw, int64_t n0, int64_t n1, float *y,
              int64_t ldy) {
  static constexpr std::array<VnniTileFn<kind>, kVnniTileRows> tiles[] = {
      vnniTiles<kind, 1>(std::make_index_sequence<kVnniTileRows>()),
      vnniTiles<kind, 2>(std::make_index_sequence<kVnniTileRows>())};
  const int64_t bytes = quantBlockBytes(kind), head = quantHeaderBytes(kind);
  const bool grouped = ldw < 0;
  const int64_t step = grouped ? kQuantGroupRows * bytes : bytes;
  const int64_t chunk = grouped ? 4 * kQuantGroupRows : 4;
  for (int64_t n = n0; n < n1; n += kVnniTileRows) {
    const int64_t count = std::min<int64_t>(kVnniTileRows, n1 - n);
    RowBlocks rows[kVnniTileRows];
    for (int64_t r = 0; r < count; ++r) {
      if (grouped) {
        const uint8_t *g = w + (n + r) / kQuantGroupRows * quantGroupBytes(kind, K);
        const int64_t i = (n + r) % kQuantGroupRows;
        rows[r] = {g + 2 * i, g + 2 * kQuantGroupRows + 2 * i,
                   g + head * kQuantGroupRows + 4 * i};
      } else {
        const uint8_t *row = w + (n + r) * ldw;
        rows[r] = {row, row + 2, row + head};
      }
    }
    for (int64_t m = 0; m < M;) {
      const int V = M - m > 16 ? 2 : 1;
      const int64_t mrows = std::min<int64_t>(16 * V, M - m);
      tiles[V - 1][count - 1](x, m, rows, step, chunk, y + m * ldy + n, ldy,
                              mrows);
      m += mrows;
    }
  }
}

/// Prefill: the blocked GEMM (Gemm.h), its panels dequantized from the
/// weight rows a block of columns at a time, so each weight is dequantized
/// once per call.
///
/// `ldw` < 0: the rows are laid out in groups (groupQuantizedRows); each
/// group's blocks are first put back as plain rows.
void rowsF32(QuantKind kind, const float *x, int64_t ldx, int64_t M,
             int64_t K, const uint8_t *w, int64_t ldw, int64_t n0, int64_t n1,
             float *y, int64_t ldy, bool avx2, int gemmImpl) {
  static_assert(kPanelDepth % kQuantBlock == 0,
                "panels must start on a quantized block");
  // Eight rows at a time are dequantized, then moved into the panels by
  // the 8 x 8 register transpose (one row at a time, the panel stores were
  // scalar, a float each 64 bytes apart).
  constexpr int64_t kRows = 8;
  static_assert(kRows == kQuantGroupRows && kPanelWidth % kRows == 0,
                "the packer takes one group of rows at a time");
  thread_local std::vector<float> rows(kRows * kPanelDepth);
  thread_local std::vector<uint8_t> plain;
  const int64_t blockBytes = quantBlockBytes(kind);
  const bool grouped = ldw < 0;
  const int64_t groupBytes = quantGroupBytes(kind, K);
  const int64_t segment = kQuantGroupRows * blockBytes;
  auto pack = [&](float *panels, int64_t n, int64_t width, int64_t k0,
                  int64_t kc) {
    int64_t blocks = (kc + kQuantBlock - 1) / kQuantBlock;
    for (int64_t j = 0; j < width; j += kRows) {
      int64_t count = std::min(kRows, width - j);
      for (int64_t r = 0; r < count; ++r) {
        float *row = rows.data() + r * kPanelDepth;
        if (grouped) {
          // Row r of the group holding rows n + j.., its blocks from k0.
          const uint8_t *g = w + (n + j) / kRows * groupBytes +
                             k0 / kQuantBlock * segment;
          if (!avx2) {
            plain.resize(blocks * blockBytes);
            ungroupQuantizedBlocks(kind, g, r, 0, blocks, plain.data());
            dequantizeRow(kind, plain.data(), kc, row);
          } else {
            withKind(kind, [&](auto k) {
              if constexpr (!isFloatKind(k))
                dequantizeRowAvx2<k, true>(g, blocks, row, r);
            });
          }
          continue;
        }
        const uint8_t *q =
            w + (n + j + r) * ldw + k0 / kQuantBlock * blockBytes;
        if (!avx2)
          dequantizeRow(kind, q, kc, row);
        else
          withKind(kind, [&](auto k) { dequantizeRowAvx2<k>(q, blocks, row); });
      }
      // j is a multiple of 8: these columns sit in one panel.
      transposeToPanels(rows.data(), kPanelDepth, count, kc,
                        panels + j / kPanelWidth * kPanelStride +
                            j % kPanelWidth);
    }
  };
  auto source = [&](int64_t n, int64_t width, int64_t k0, int64_t kc) {
    int64_t blocks = (kc + kQuantBlock - 1) / kQuantBlock;
    if (grouped)
      return RowLines{w + n / kRows * groupBytes + k0 / kQuantBlock * segment,
                      groupBytes, (width + kRows - 1) / kRows,
                      blocks * segment};
    return RowLines{w + n * ldw + k0 / kQuantBlock * blockBytes, ldw, width,
                    blocks * blockBytes};
  };
  gemm(x, ldx, M, K, y, ldy, n0, n1, /*accumulate=*/false,
       packedOnTheFly(pack), source, gemmImpl);
}

/// Four activation bytes in every 32-bit lane.
__attribute__((target("avx2"), always_inline)) inline __m256i
broadcast4(const int8_t *v) {
  int32_t four;
  std::memcpy(&four, v, 4);
  return _mm256_set1_epi32(four);
}

/// A grouped block's eight integer sums times both scales into `acc`, and
/// (q4_1) the rows' minimums times the activations' scaled sum into
/// `offsets` (p: the block's segment; i: its activation block).
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void
scaleGroupBlock(const uint8_t *p, const QuantizedActivations &x, int64_t i,
                __m256i sum, __m256 &acc, __m256 &offsets) {
  const __m256 dx = _mm256_set1_ps(x.scale[i]);
  const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(d, dx), acc);
  if constexpr (kind == QuantKind::Q4_1)
    offsets = _mm256_fmadd_ps(
        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16))),
        _mm256_mul_ps(dx, _mm256_set1_ps(float(x.sum[i]))), offsets);
}

/// Decode on grouped rows: the dot products of activation row m with the
/// eight rows of `group` into out[0..8). Each 32-byte load holds four
/// values of every row; the activations those four multiply are broadcast
/// to every lane, so lane r sums row r's products (layout in Quant.h).
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c"))) void
groupDotAvx2(const uint8_t *group, const QuantizedActivations &x, int64_t m,
             float *out) {
  constexpr int64_t head = kQuantGroupRows * quantHeaderBytes(kind);
  constexpr int64_t segment = kQuantGroupRows * quantBlockBytes(kind);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 offsets = _mm256_setzero_ps();
  const int8_t *xq = x.rowQ(m);
  for (int64_t b = 0; b < x.blocks; ++b) {
    const uint8_t *p = group + b * segment;
    const int8_t *v = xq + b * kQuantBlock;
    const int64_t i = m * x.blocks + b;
    __m256i sum;
    if constexpr (kind == QuantKind::Q8_0) {
      // maddubs takes |w| unsigned and x with w's sign; a pair of
      // products can reach 2 * 127 * 127, so each is widened at once.
      sum = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + head + 32 * c));
        __m256i pairs = _mm256_maddubs_epi16(
            _mm256_sign_epi8(w, w), _mm256_sign_epi8(broadcast4(v + 4 * c), w));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones));
      }
    } else {
      // Nibble products are at most 15 * 127, so the eight 16-bit pair
      // sums of a lane stay below 2^15 and are widened once.
      const __m256i low = _mm256_set1_epi8(15);
      __m256i pairs = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + head + 32 * c));
        pairs = _mm256_add_epi16(
            pairs, _mm256_maddubs_epi16(_mm256_and_si256(w, low),
                                        broadcast4(v + 4 * c)));
        pairs = _mm256_add_epi16(
            pairs,
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w, 4), low),
                                 broadcast4(v + 16 + 4 * c)));
      }
      sum = _mm256_madd_epi16(pairs, ones);
      if constexpr (kind == QuantKind::Q4_0)
        sum = _mm256_sub_epi32(sum, _mm256_set1_epi32(8 * x.sum[i]));
    }
    scaleGroupBlock<kind>(p, x, i, sum, acc[b & 1], offsets);
  }
  _mm256_storeu_ps(out,
                   _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), offsets));
}

/// groupDotAvx2 with AVX512-VNNI (256-bit, AVX512-VL): each 32-byte load
/// of four values of every row meets the broadcast activations in one
/// VPDPBUSD, summed straight into 32-bit lanes (no 16-bit pair sums).
template <QuantKind kind>
__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))) void
groupDotVnni(const uint8_t *group, const QuantizedActivations &x, int64_t m,
             float *out) {
  constexpr int64_t head = kQuantGroupRows * quantHeaderBytes(kind);
  constexpr int64_t segment = kQuantGroupRows * quantBlockBytes(kind);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 offsets = _mm256_setzero_ps();
  const int8_t *xq = x.rowQ(m);
  for (int64_t b = 0; b < x.blocks; ++b) {
    const uint8_t *p = group + b * segment;
    const int8_t *v = xq + b * kQuantBlock;
    const int64_t i = m * x.blocks + b;
    __m256i sum = _mm256_setzero_si256();
    if constexpr (kind == QuantKind::Q8_0) {
      // |w| unsigned, x with w's sign, as for maddubs.
      for (int c = 0; c < 8; ++c) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + head + 32 * c));
        sum = _mm256_dpbusd_epi32(sum, _mm256_sign_epi8(w, w),
                                  _mm256_sign_epi8(broadcast4(v + 4 * c), w));
      }
    } else {
      const __m256i low = _mm256_set1_epi8(15);
      for (int c = 0; c < 4; ++c) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + head + 32 * c));
        sum = _mm256_dpbusd_epi32(sum, _mm256_and_si256(w, low),
                                  broadcast4(v + 4 * c));
        sum = _mm256_dpbusd_epi32(
            sum, _mm256_and_si256(_mm256_srli_epi16(w, 4), low),
            broadcast4(v + 16 + 4 * c));
      }
      if constexpr (kind == QuantKind::Q4_0)
        sum = _mm256_sub_epi32(sum, _mm256_set1_epi32(8 * x.sum[i]));
    }
    scaleGroupBlock<kind>(p, x, i, sum, acc[b & 1], offsets);
  }
  _mm256_storeu_ps(out,
                   _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), offsets));
}

/// A row of a float kind dotted with K f32 activations.
float floatDot(QuantKind kind, const uint8_t *row, const float *x, int64_t K,
               bool avx2) {
  if (!avx2) {
    float acc = 0;
    for (int64_t i = 0; i < K; ++i)
      acc += floatWeight(kind, row, i) * x[i];
    return acc;
  }
  return kind == QuantKind::F16 ? floatDotAvx2<QuantKind::F16>(row, x, K)
                                : floatDotAvx2<QuantKind::BF16>(row, x, K);
}

/// Groups of rows holding rows n0..n1 (n0 on a group) against every
/// activation row.
void groupsDecode(QuantKind kind, const uint8_t *w, int64_t K,
                  const QuantizedActivations &x, int64_t M, int64_t N,
                  int64_t n0, int64_t n1, float *y, int64_t ldy, bool avx2,
                  bool vnni) {
  const int64_t groupBytes = quantGroupBytes(kind, K);
  thread_local std::vector<uint8_t> row;
  for (int64_t n = n0; n < n1; n += kQuantGroupRows) {
    const uint8_t *group = w + n / kQuantGroupRows * groupBytes;
    const int64_t count = std::min(kQuantGroupRows, N - n);
    for (int64_t m = 0; m < M; ++m) {
      float out[kQuantGroupRows];
      if (!avx2) {
        row.resize(quantRowBytes(kind, K));
        for (int64_t r = 0; r < count; ++r) {
          ungroupQuantizedBlocks(kind, group, r, 0, x.blocks, row.data());
          out[r] = dotRowScalar(kind, row.data(), x, m);
        }
      } else {
        withKind(kind, [&](auto k) {
          if constexpr (!isFloatKind(k)) {
            if (vnni)
              groupDotVnni<k>(group, x, m, out);
            else
              groupDotAvx2<k>(group, x, m, out);
          }
        });
      }
      std::copy_n(out, count, y + m * ldy + n);
    }
  }
}

/// quantizedMatMul on plain rows (ldw > 0) or groups (ldw < 0).
void matMulRows(QuantKind kind, const float *x, int64_t ldx, int64_t M,
                int64_t K, const uint8_t *w, int64_t ldw, int64_t N, float *y,
                int64_t ldy, int impl) {
  if (M == 0 || N == 0)
    return;
  // One buffer per calling thread, reused: decode makes no allocation.
  // (Named through a reference: the pool's threads have their own.)
  thread_local QuantizedActivations buffer;
  QuantizedActivations &xq = buffer;
  bool avx2 = impl >= 2 || (impl == 0 && quantAvx2Available());
  bool f32 = M >= kQuantF32Rows;
  // bf16 prefill on a CPU with AVX512-BF16: the activations as bf16 pairs.
  thread_local Bf16Activations pairs;
  Bf16Activations &xb = pairs;
  const bool avx512 = impl == 3 || (impl == 0 && roundedPrefill());
  const bool bf16Dot = f32 && kind == QuantKind::BF16 && avx512 &&
                       (impl == 3 || avx512Bf16Available());
  if (bf16Dot)
    xb.round(x, ldx, M, K);
  // f16 prefill with AVX-512: the f32 products, no panels (needs no
  // rounding, so --exact-prefill keeps it).
  thread_local F32Activations lanes;
  F32Activations &xf = lanes;
  const bool f16Rows = f32 && kind == QuantKind::F16 &&
                       (impl == 3 || (impl == 0 && avx512Bf16Available()));
  if (f16Rows)
    xf.transpose(x, ldx, M, K);
  // The integer kinds' prefill on a CPU with AVX512-VNNI: quantized
  // activations, integer dot products.
  thread_local VnniActivations quads;
  VnniActivations &xv = quads;
  const bool vnni = f32 && !isFloatKind(kind) && avx512 &&
                    (impl == 3 || avx512VnniAvailable());
  // Decode on grouped rows: the same sums with VPDPBUSD (exact, so
  // --exact-prefill does not apply).
  const bool vnniDecode =
      !f32 && (impl == 3 || (impl == 0 && avx512VnniAvailable()));
  if (vnni)
    xv.quantize(x, ldx, M, K);
  // The float kinds multiply the activations as they are.
  if (!f32 && !isFloatKind(kind))
    xq.quantize(x, ldx, M, K, avx2);
  auto body = [&](int64_t n0, int64_t n1) {
    if (bf16Dot)
      return rowsBf16(xb, M, K, w, ldw, n0, n1, y, ldy);
    if (f16Rows)
      return rowsF16(xf.lanes.data(), xf.ld, M, K, w, ldw, n0, n1, y, ldy);
    if (vnni)
      return withKind(kind, [&](auto k) {
        if constexpr (!isFloatKind(k))
          rowsVnni<k>(xv, M, K, w, ldw, n0, n1, y, ldy);
      });
    if (f32)
      return rowsF32(kind, x, ldx, M, K, w, ldw, n0, n1, y, ldy, avx2,
                     avx2 ? impl : 1);
    if (ldw < 0)
      return groupsDecode(kind, w, K, xq, M, N, n0, n1, y, ldy, avx2,
                          vnniDecode);
    if (isFloatKind(kind)) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t m = 0; m < M; ++m)
          y[m * ldy + n] = floatDot(kind, w + n * ldw, x + m * ldx, K, avx2);
      return;
    }
    if (!avx2) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t m = 0; m < M; ++m)
          y[m * ldy + n] = dotRowScalar(kind, w + n * ldw, xq, m);
      return;
    }
    withKind(kind, [&](auto k) {
      if constexpr (!isFloatKind(k))
        rowsAvx2<k>(w, ldw, xq, M, n0, n1, y, ldy);
    });
  };
  // Slices start on multiples of 16 rows, so on groups.
  forColumnSlices(M, N, K, body);
}

} // namespace

void groupQuantizedRows(QuantKind kind, const uint8_t *rows, int64_t ldw,
                        int64_t N, int64_t K, uint8_t *groups) {
  const int64_t bytes = quantBlockBytes(kind), head = quantHeaderBytes(kind);
  const int64_t segment = kQuantGroupRows * bytes;
  const int64_t groupBytes = quantGroupBytes(kind, K);
  const int64_t blocks = (K + kQuantBlock - 1) / kQuantBlock;
  std::memset(groups, 0,
              (N + kQuantGroupRows - 1) / kQuantGroupRows * groupBytes);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t r = n % kQuantGroupRows;
    uint8_t *group = groups + n / kQuantGroupRows * groupBytes;
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t *blk = rows + n * ldw + b * bytes;
      uint8_t *seg = group + b * segment;
      for (int64_t f = 0; f < head / 2; ++f)
        std::memcpy(seg + f * 2 * kQuantGroupRows + 2 * r, blk + 2 * f, 2);
      for (int64_t c = 0; c < (bytes - head) / 4; ++c)
        std::memcpy(seg + head * kQuantGroupRows + 32 * c + 4 * r,
                    blk + head + 4 * c, 4);
    }
  }
}

void ungroupQuantizedBlocks(QuantKind kind, const uint8_t *group, int64_t r,
                            int64_t b0, int64_t count, uint8_t *out) {
  const int64_t bytes = quantBlockBytes(kind), head = quantHeaderBytes(kind);
  const int64_t segment = kQuantGroupRows * bytes;
  for (int64_t b = 0; b < count; ++b) {
    const uint8_t *seg = group + (b0 + b) * segment;
    uint8_t *blk = out + b * bytes;
    for (int64_t f = 0; f < head / 2; ++f)
      std::memcpy(blk + 2 * f, seg + f * 2 * kQuantGroupRows + 2 * r, 2);
    for (int64_t c = 0; c < (bytes - head) / 4; ++c)
      std::memcpy(blk + head + 4 * c,
                  seg + head * kQuantGroupRows + 32 * c + 4 * r, 4);
  }
}

void quantizedMatMulGrouped(QuantKind kind, const float *x, int64_t ldx,
                            int64_t M, int64_t K, const uint8_t *w, int64_t N,
                            float *y, int64_t ldy, int impl) {
  matMulRows(kind, x, ldx, M, K, w, /*ldw=*/-1, N, y, ldy, impl);
}

namespace {
std::atomic<bool> roundedPrefillAllowed{true};
} // namespace

void setRoundedPrefill(bool allowed) { roundedPrefillAllowed.store(allowed); }
bool roundedPrefill() { return roundedPrefillAllowed.load(); }

bool avx512VnniAvailable() {
  static const bool available = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vnni");
  return available;
}

bool avx512Bf16Available() {
  static const bool available = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bf16");
  return available;
}

bool quantAvx2Available() {
  static const bool available = __builtin_cpu_supports("avx2") &&
                                __builtin_cpu_supports("fma") &&
                                __builtin_cpu_supports("f16c");
  return available;
}

void QuantizedActivations::quantize(const float *x, int64_t ldx, int64_t M,
                                    int64_t K, bool vectorized) {
  source = x;
  ld = ldx;
  k = K;
  blocks = (K + kQuantBlock - 1) / kQuantBlock;
  q.assign(M * blocks * kQuantBlock, 0);
  scale.resize(M * blocks);
  sum.resize(M * blocks);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t b = 0; b < blocks; ++b) {
      const float *v = x + m * ldx + b * kQuantBlock;
      int64_t n = std::min<int64_t>(kQuantBlock, K - b * kQuantBlock);
      if (n == kQuantBlock && vectorized) {
        quantizeBlockAvx2(v, q.data() + (m * blocks + b) * kQuantBlock,
                          scale[m * blocks + b], sum[m * blocks + b]);
        continue;
      }
      float amax = 0;
      for (int64_t j = 0; j < n; ++j)
        amax = std::max(amax, std::fabs(v[j]));
      float d = amax / 127.0f, inv = d ? 1.0f / d : 0.0f;
      int8_t *out = q.data() + (m * blocks + b) * kQuantBlock;
      int32_t s = 0;
      for (int64_t j = 0; j < n; ++j) {
        out[j] = int8_t(quantRound(v[j] * inv, -127, 127));
        s += out[j];
      }
      scale[m * blocks + b] = d;
      sum[m * blocks + b] = s;
    }
}

float quantizedDot(QuantKind kind, const uint8_t *row,
                   const QuantizedActivations &x, int64_t m) {
  if (!quantAvx2Available())
    return dotRowScalar(kind, row, x, m);
  if (isFloatKind(kind))
    return floatDot(kind, row, x.source + m * x.ld, x.k, /*avx2=*/true);
  float out = 0;
  withKind(kind, [&](auto k) {
    if constexpr (!isFloatKind(k))
      dotRowsAvx2<k, 1>(row, x, m, &out, 0);
  });
  return out;
}

void addScaledRow(QuantKind kind, float alpha, const uint8_t *row, int64_t n,
                  float *y) {
  if (!quantAvx2Available()) {
    float w[kQuantBlock];
    const int64_t bytes = quantBlockBytes(kind);
    for (int64_t b = 0; b * kQuantBlock < n; ++b) {
      int64_t count = std::min<int64_t>(kQuantBlock, n - b * kQuantBlock);
      dequantizeRow(kind, row + b * bytes, count, w);
      for (int64_t j = 0; j < count; ++j)
        y[b * kQuantBlock + j] += alpha * w[j];
    }
    return;
  }
  withKind(kind, [&](auto k) { addScaledRowAvx2<k>(alpha, row, n, y); });
}

void quantizeRow(QuantKind kind, const float *w, int64_t k, uint8_t *row) {
  const int64_t bytes = quantBlockBytes(kind);
  if (isFloatKind(kind)) {
    std::memset(row, 0, quantRowBytes(kind, k));
    for (int64_t i = 0; i < k; ++i)
      if (kind == QuantKind::F16) {
        storeHalf(w[i], row + 2 * i);
      } else {
        uint16_t h = floatToBf16(w[i]);
        std::memcpy(row + 2 * i, &h, 2);
      }
    return;
  }
  for (int64_t b = 0; b * kQuantBlock < k; ++b) {
    float v[kQuantBlock] = {};
    int64_t n = std::min<int64_t>(kQuantBlock, k - b * kQuantBlock);
    std::copy_n(w + b * kQuantBlock, n, v);
    uint8_t *blk = row + b * bytes;
    std::memset(blk, 0, bytes);
    if (kind == QuantKind::Q8_0) {
      float amax = 0;
      for (float f : v)
        amax = std::max(amax, std::fabs(f));
      float d = storeHalf(amax / 127.0f, blk);
      float inv = d ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j)
        blk[2 + j] = uint8_t(int8_t(quantRound(v[j] * inv, -127, 127)));
      continue;
    }
    uint8_t q[kQuantBlock];
    if (kind == QuantKind::Q4_0) {
      // The value of largest magnitude maps to -8, so the full range -8..7
      // is used and that value is exact.
      float extreme = 0;
      for (float f : v)
        if (std::fabs(f) > std::fabs(extreme))
          extreme = f;
      float d = storeHalf(extreme / -8.0f, blk);
      float inv = d ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j)
        q[j] = uint8_t(quantRound(v[j] * inv, -8, 7) + 8);
    } else {
      // Padding zeros take part, as they do in the kernel's offset term.
      float lo = *std::min_element(v, v + 32), hi = *std::max_element(v, v + 32);
      float d = storeHalf((hi - lo) / 15.0f, blk);
      float m = storeHalf(lo, blk + 2);
      float inv = d ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j)
        q[j] = uint8_t(quantRound((v[j] - m) * inv, 0, 15));
    }
    uint8_t *qs = blk + (kind == QuantKind::Q4_1 ? 4 : 2);
    for (int j = 0; j < 16; ++j)
      qs[j] = uint8_t(q[j] | (q[j + 16] << 4));
  }
}

void dequantizeRow(QuantKind kind, const uint8_t *row, int64_t k, float *w) {
  const int64_t bytes = quantBlockBytes(kind);
  if (isFloatKind(kind)) {
    for (int64_t i = 0; i < k; ++i)
      w[i] = floatWeight(kind, row, i);
    return;
  }
  for (int64_t i = 0; i < k; ++i) {
    const uint8_t *blk = row + (i / kQuantBlock) * bytes;
    int j = int(i % kQuantBlock);
    float d = halfToFloat(blk);
    if (kind == QuantKind::Q8_0) {
      w[i] = d * float(int8_t(blk[2 + j]));
      continue;
    }
    const uint8_t *qs = blk + (kind == QuantKind::Q4_1 ? 4 : 2);
    int q = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
    w[i] = kind == QuantKind::Q4_0 ? d * float(q - 8)
                                   : d * float(q) + halfToFloat(blk + 2);
  }
}

void quantizedMatMul(QuantKind kind, const float *x, int64_t ldx, int64_t M,
                     int64_t K, const uint8_t *w, int64_t ldw, int64_t N,
                     float *y, int64_t ldy, int impl) {
  matMulRows(kind, x, ldx, M, K, w, ldw, N, y, ldy, impl);
}

} // namespace actsparse::runtime

using namespace actsparse::runtime;

namespace {
/// The C interfaces' checks and strided activations, then the kernel on
/// plain rows (w [N, B]) or groups (w [ceil(N / 8), 8 B]).
void quantizedMatMulCall(int64_t kind, ActSparseMemRef2DF32 *x,
                         ActSparseMemRef2DI8 *w, ActSparseMemRef2DF32 *y,
                         bool grouped) {
  int64_t M = x->sizes[0], K = x->sizes[1], N = y->sizes[1];
  float *Y = y->aligned + y->offset;
  auto fail = [&](const std::string &why) {
    reportRuntimeError(std::string("quantized matmul") +
                       (grouped ? " (grouped rows): " : ": ") + why);
    for (int64_t m = 0; m < y->sizes[0]; ++m)
      for (int64_t n = 0; n < N; ++n)
        Y[m * y->strides[0] + n * y->strides[1]] = 0;
  };
  if (kind < 0 || kind > int64_t(QuantKind::BF16))
    return fail("unknown quantized kind " + std::to_string(kind));
  auto k = QuantKind(kind);
  if (grouped && isFloatKind(k))
    return fail(std::string(quantKindName(k)) + " rows are not laid out in "
                                                "groups");
  int64_t rows = grouped ? (N + kQuantGroupRows - 1) / kQuantGroupRows : N;
  int64_t rowBytes = grouped ? quantGroupBytes(k, K) : quantRowBytes(k, K);
  if (w->sizes[0] != rows || w->sizes[1] != rowBytes || y->sizes[0] != M)
    return fail("a " + std::string(quantKindName(k)) + " weight of " +
                std::to_string(w->sizes[0]) + " x " +
                std::to_string(w->sizes[1]) + " bytes does not fit " +
                std::to_string(K) + " inputs and " + std::to_string(N) +
                " outputs");
  if (w->strides[1] != 1 || y->strides[1] != 1)
    return fail("the weight rows and the output rows must be contiguous");
  if (grouped && w->strides[0] != rowBytes)
    return fail("the groups of rows must be contiguous");
  // Activations are read once, into the kernel's quantized copy; a strided
  // view is first made dense.
  const float *X = x->aligned + x->offset;
  int64_t ldx = x->strides[0];
  std::vector<float> dense;
  if (x->strides[1] != 1) {
    dense.resize(M * K);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < K; ++i)
        dense[m * K + i] = X[m * x->strides[0] + i * x->strides[1]];
    X = dense.data();
    ldx = K;
  }
  const auto *W = reinterpret_cast<const uint8_t *>(w->aligned + w->offset);
  if (grouped)
    return quantizedMatMulGrouped(k, X, ldx, M, K, W, N, Y, y->strides[0]);
  quantizedMatMul(k, X, ldx, M, K, W, w->strides[0], N, Y, y->strides[0]);
}
} // namespace

extern "C" void _mlir_ciface_actsparse_rt_matmul_q_f32(int64_t kind,
                                                       ActSparseMemRef2DF32 *x,
                                                       ActSparseMemRef2DI8 *w,
                                                       ActSparseMemRef2DF32 *y) {
  quantizedMatMulCall(kind, x, w, y, /*grouped=*/false);
}

extern "C" void _mlir_ciface_actsparse_rt_matmul_q_groups_f32(
    int64_t kind, ActSparseMemRef2DF32 *x, ActSparseMemRef2DI8 *w,
    ActSparseMemRef2DF32 *y) {
  quantizedMatMulCall(kind, x, w, y, /*grouped=*/true);
}
