//===- Softmax.cpp - row softmax called by generated code -----------------===//
//
// Attention's softmax over the positions, y = exp(x - max) / sum, row by
// row. Generated code computed it in four scalar passes, with a libm call
// per element for exp: at 500 positions that was a fifth of stories260K's
// decode. Here every pass is vectorized, exp included: glibc's vector
// expf (libmvec, within 1 ulp like the scalar one) on AVX-512 or AVX2, the
// scalar expf elsewhere. The sum is accumulated in double, as the generated
// code did, in sixteen partial sums.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"

#include <cmath>
#include <immintrin.h>
#include <limits>
#include <vector>

extern "C" {
// glibc's libmvec: expf on 16 lanes (AVX-512) and on 8 lanes (AVX2).
__m512 _ZGVeN16v_expf(__m512);
__m256 _ZGVdN8v_expf(__m256);
}

namespace {

enum class Isa { Avx512, Avx2, Scalar };

Isa hostIsa() {
  static const Isa isa = __builtin_cpu_supports("avx512f") ? Isa::Avx512
                         : __builtin_cpu_supports("avx2") &&
                                 __builtin_cpu_supports("fma")
                             ? Isa::Avx2
                             : Isa::Scalar;
  return isa;
}

/// Below this, expf is +0 (its smallest result, 2^-149, is exp(-103.28)).
/// libmvec computes such lanes again with the scalar expf and its underflow
/// handler, which sets errno: a causal mask's -3.4e38 scores made that
/// most of a long prefill's softmax. They are zeroed here instead, which is
/// the same +0.
constexpr float kExpUnderflow = -104.0f;

/// exp(d), with lanes below kExpUnderflow +0 without calling exp on them.
__attribute__((target("avx512f"))) __m512 expOrZero512(__m512 d) {
  __mmask16 under =
      _mm512_cmp_ps_mask(d, _mm512_set1_ps(kExpUnderflow), _CMP_LT_OQ);
  __m512 zero = _mm512_setzero_ps();
  return _mm512_mask_mov_ps(_ZGVeN16v_expf(_mm512_mask_mov_ps(d, under, zero)),
                            under, zero);
}

__attribute__((target("avx2,fma"))) __m256 expOrZero256(__m256 d) {
  __m256 under =
      _mm256_cmp_ps(d, _mm256_set1_ps(kExpUnderflow), _CMP_LT_OQ);
  return _mm256_andnot_ps(under, _ZGVdN8v_expf(_mm256_andnot_ps(under, d)));
}

/// y[0:n] = exp(x[0:n] - shift), all through the same exp implementation
/// (the tail is padded, not computed by another function).
__attribute__((target("avx512f"))) void expShifted512(const float *x,
                                                       float *y, int64_t n,
                                                       float shift) {
  __m512 s = _mm512_set1_ps(shift);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i,
                     expOrZero512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s)));
  if (i < n) {
    __mmask16 m = __mmask16((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(y + i, m, expOrZero512(_mm512_sub_ps(v, s)));
  }
}

__attribute__((target("avx2,fma"))) void expShifted256(const float *x,
                                                        float *y, int64_t n,
                                                        float shift) {
  __m256 s = _mm256_set1_ps(shift);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i,
                     expOrZero256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s)));
  if (i < n) {
    alignas(32) float in[8] = {}, out[8];
    for (int64_t j = i; j < n; ++j)
      in[j - i] = x[j];
    _mm256_store_ps(out, expOrZero256(_mm256_sub_ps(_mm256_load_ps(in), s)));
    for (int64_t j = i; j < n; ++j)
      y[j] = out[j - i];
  }
}

void expShifted(const float *x, float *y, int64_t n, float shift) {
  switch (hostIsa()) {
  case Isa::Avx512:
    return expShifted512(x, y, n, shift);
  case Isa::Avx2:
    return expShifted256(x, y, n, shift);
  case Isa::Scalar:
    for (int64_t i = 0; i < n; ++i)
      y[i] = std::exp(x[i] - shift);
  }
}

/// max, then the sum of y in double, then y / sum: sixteen lanes each, which
/// the compiler vectorizes for the host (target clones).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
float rowMax(const float *x, int64_t n) {
  float lanes[16];
  for (float &l : lanes)
    l = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j)
      lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
  float m = lanes[0];
  for (int j = 1; j < 16; ++j)
    m = lanes[j] > m ? lanes[j] : m;
  for (; i < n; ++i)
    m = x[i] > m ? x[i] : m;
  return m;
}

/// The sum of y[0:n] in double, in sixteen partial sums.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
double sumInDouble(const float *y, int64_t n) {
  double lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j)
      lanes[j] += y[i + j];
  double sum = 0;
  for (double l : lanes)
    sum += l;
  for (; i < n; ++i)
    sum += y[i];
  return sum;
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void normalize(float *y, int64_t n) {
  double sum = sumInDouble(y, n);
  for (int64_t k = 0; k < n; ++k)
    y[k] = float(double(y[k]) / sum);
}

} // namespace

double actsparse::runtime::logSumExp(const float *x, int64_t n) {
  if (n == 0)
    return -std::numeric_limits<double>::infinity();
  thread_local std::vector<float> buffer;
  buffer.resize(size_t(n));
  float m = rowMax(x, n);
  expShifted(x, buffer.data(), n, m);
  return double(m) + std::log(sumInDouble(buffer.data(), n));
}

extern "C" void _mlir_ciface_actsparse_rt_softmax_f32(ActSparseMemRef2DF32 *x,
                                                      ActSparseMemRef2DF32 *y) {
  int64_t rows = x->sizes[0], n = x->sizes[1];
  for (int64_t r = 0; r < rows; ++r) {
    const float *in = x->aligned + x->offset + r * x->strides[0];
    float *out = y->aligned + y->offset + r * y->strides[0];
    if (x->strides[1] != 1 || y->strides[1] != 1) {
      // Not generated today (both are dense rows); kept correct anyway.
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < n; ++i)
        m = std::max(m, in[i * x->strides[1]]);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i)
        sum += out[i * y->strides[1]] = std::exp(in[i * x->strides[1]] - m);
      for (int64_t i = 0; i < n; ++i)
        out[i * y->strides[1]] = float(out[i * y->strides[1]] / sum);
      continue;
    }
    if (n == 0)
      continue;
    expShifted(in, out, n, rowMax(in, n));
    normalize(out, n);
  }
}
