//===- Kernels.cpp - dense kernels called by generated code ---------------===//
//
// The weight-streaming projections (activations times a weight matrix) are
// where decode time goes: they are memory-bound, so they are threaded over a
// small persistent pool and vectorized for the host CPU (GCC target clones).
// From kGemmRows activation rows on (prefill) they are compute-bound
// instead, and take the register-blocked GEMM of Gemm.h. Everything else is
// generated code.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "Gemm.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace actsparse::runtime {
namespace {

/// C[0:M][n0:n1] += A[0:M][:] * W[:][n0:n1], for a column block narrow
/// enough that the M x (n1 - n0) block of C stays in cache: every weight row
/// segment is read once for all M rows (prefill), and four rows are read
/// per pass (four independent streams, a quarter of the C traffic).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void blockKernel(const float *A, int64_t lda, const float *W, int64_t ldw,
                 float *C, int64_t ldc, int64_t M, int64_t K, int64_t n0,
                 int64_t n1) {
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const float *__restrict w0 = W + k * ldw, *__restrict w1 = w0 + ldw,
                            *__restrict w2 = w1 + ldw, *__restrict w3 = w2 + ldw;
    for (int64_t m = 0; m < M; ++m) {
      const float *a = A + m * lda + k;
      float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
      float *__restrict c = C + m * ldc;
      for (int64_t n = n0; n < n1; ++n)
        c[n] += a0 * w0[n] + a1 * w1[n] + a2 * w2[n] + a3 * w3[n];
    }
  }
  for (; k < K; ++k) {
    const float *__restrict w = W + k * ldw;
    for (int64_t m = 0; m < M; ++m) {
      float a = A[m * lda + k];
      float *__restrict c = C + m * ldc;
      for (int64_t n = n0; n < n1; ++n)
        c[n] += a * w[n];
    }
  }
}

/// C[0:M][n0:n1] += A[0:M][:] . W[n][:] for W stored [N, K]: every weight
/// row is contiguous and read once, for all M rows; sixteen independent
/// partial sums let the compiler vectorize without reassociating.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void rowDotKernel(const float *A, int64_t lda, const float *W, int64_t ldw,
                  float *C, int64_t ldc, int64_t M, int64_t K, int64_t n0,
                  int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    const float *__restrict w = W + n * ldw;
    for (int64_t m = 0; m < M; ++m) {
      const float *__restrict a = A + m * lda;
      float acc[16] = {};
      int64_t k = 0;
      for (; k + 16 <= K; k += 16)
        for (int j = 0; j < 16; ++j)
          acc[j] += a[k + j] * w[k + j];
      float sum = 0;
      for (int j = 0; j < 16; ++j)
        sum += acc[j];
      for (; k < K; ++k)
        sum += a[k] * w[k];
      C[m * ldc + n] += sum;
    }
  }
}

/// rowDotKernel for K <= 8 (attention over heads of up to 8 dimensions),
/// eight output columns at a time: their weight rows are loaded (masked to
/// K floats) and transposed in registers, so that one FMA per k serves
/// eight columns. Each sum is accumulated from 0 in k order, a product
/// then an add (no FMA), as rowDotKernel's loop is compiled, so results are
/// bit for bit the same; only the per-column overhead (sixteen partial sums
/// to set up and add) is gone.
__attribute__((target("avx2"))) void
shortRowDotAvx2(const float *A, int64_t lda, const float *W, int64_t ldw,
                float *C, int64_t ldc, int64_t M, int64_t K, int64_t n0,
                int64_t n1) {
  const __m256i mask = firstLanes(K);
  int64_t n = n0;
  for (; n + 8 <= n1; n += 8) {
    __m256 v[8], col[8];
    for (int i = 0; i < 8; ++i)
      v[i] = _mm256_maskload_ps(W + (n + i) * ldw, mask);
    transposeRegisters8x8(v, col); // col[k] lane i = W[n + i][k]
    for (int64_t m = 0; m < M; ++m) {
      const float *a = A + m * lda;
      __m256 sum = _mm256_setzero_ps();
      for (int64_t k = 0; k < K; ++k)
        sum = _mm256_add_ps(
            sum, _mm256_mul_ps(_mm256_broadcast_ss(a + k), col[k]));
      float *c = C + m * ldc + n;
      _mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), sum));
    }
  }
  // The columns past the last eight: the same sums one at a time, product
  // then add. Not rowDotKernel: its x86-64-v3 clone's tail loop may fuse
  // them into FMAs, and then ShortRowsEqualTheScalarLoopBitForBit fails.
  for (; n < n1; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const float *a = A + m * lda, *w = W + n * ldw;
      float sum = 0;
      for (int64_t k = 0; k < K; ++k)
        sum += a[k] * w[k];
      C[m * ldc + n] += sum;
    }
}

/// rowDotKernel for K > 8 (attention's Q·Kᵀ over heads of 64 or 128
/// dimensions, a tied classifier in decode), eight output columns at a
/// time: per row of A, eight accumulators (one per column, the K floats of
/// its weight row in vectors of 8, the last masked) are summed across in
/// one horizontal-add tree, instead of one sixteen-float reduction per
/// output. Columns past the last multiple of 8 take rowDotKernel.
__attribute__((target("avx2,fma"))) void
rowDotAvx2(const float *A, int64_t lda, const float *W, int64_t ldw, float *C,
           int64_t ldc, int64_t M, int64_t K, int64_t n0, int64_t n1) {
  const __m256i tail = firstLanes(K % 8);
  const int64_t full = K - K % 8;
  int64_t n = n0;
  for (; n + 8 <= n1; n += 8) {
    const float *w = W + n * ldw;
    for (int64_t m = 0; m < M; ++m) {
      const float *a = A + m * lda;
      __m256 acc[8];
      for (int j = 0; j < 8; ++j)
        acc[j] = _mm256_setzero_ps();
      for (int64_t k = 0; k < full; k += 8) {
        __m256 x = _mm256_loadu_ps(a + k);
        for (int j = 0; j < 8; ++j)
          acc[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + j * ldw + k),
                                   acc[j]);
      }
      if (full < K) {
        __m256 x = _mm256_maskload_ps(a + full, tail);
        for (int j = 0; j < 8; ++j)
          acc[j] = _mm256_fmadd_ps(
              x, _mm256_maskload_ps(w + j * ldw + full, tail), acc[j]);
      }
      // hadd pairs lanes within each 128-bit half: after two levels, the
      // low half holds lanes 0-3 of columns 0-3 (then 4-7 of the next
      // four), the high half lanes 4-7; adding the halves finishes.
      __m256 s0 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]),
                                 _mm256_hadd_ps(acc[2], acc[3]));
      __m256 s1 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]),
                                 _mm256_hadd_ps(acc[6], acc[7]));
      __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(s0, s1, 0x20),
                                 _mm256_permute2f128_ps(s0, s1, 0x31));
      float *c = C + m * ldc + n;
      _mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), sum));
    }
  }
  if (n < n1)
    rowDotKernel(A, lda, W, ldw, C, ldc, M, K, n, n1);
}

/// blockKernel for at most 8 columns (attention's values over heads of up
/// to 8 dimensions): the columns are one masked vector, and each row's C
/// stays in a register over all of K. Every element takes the operations
/// GCC 12 compiles blockKernel's loop into, in their order: per four rows
/// of W, the product of the second, FMAs of the first, third and fourth,
/// then an add to C; the last K % 4 rows one FMA each. So results are bit
/// for bit blockKernel's (stories260K's logits over 300 steps, compared
/// with cmp); another compiler may contract differently, and the results
/// then differ in the last bits only.
__attribute__((target("avx2,fma"))) void
narrowBlockAvx2(const float *A, int64_t lda, const float *W, int64_t ldw,
                float *C, int64_t ldc, int64_t M, int64_t K, int64_t n0,
                int64_t n1) {
  const __m256i mask = firstLanes(n1 - n0);
  for (int64_t m = 0; m < M; ++m) {
    const float *a = A + m * lda;
    float *c = C + m * ldc + n0;
    __m256 acc = _mm256_maskload_ps(c, mask);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const float *w = W + k * ldw + n0;
      __m256 t = _mm256_mul_ps(_mm256_broadcast_ss(a + k + 1),
                               _mm256_maskload_ps(w + ldw, mask));
      for (int j : {0, 2, 3})
        t = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + j),
                            _mm256_maskload_ps(w + j * ldw, mask), t);
      acc = _mm256_add_ps(acc, t);
    }
    for (; k < K; ++k)
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k),
                            _mm256_maskload_ps(W + k * ldw + n0, mask), acc);
    _mm256_maskstore_ps(c, mask, acc);
  }
}

/// Zeroes a strided C (the fallbacks' layouts).
void zeroStrided(const ActSparseMemRef2DF32 &c) {
  float *C = c.aligned + c.offset;
  for (int64_t m = 0; m < c.sizes[0]; ++m)
    for (int64_t n = 0; n < c.sizes[1]; ++n)
      C[m * c.strides[0] + n * c.strides[1]] = 0.0f;
}

/// C (+)= A W element by element, for operands of any strides; C is
/// overwritten unless `accumulate`.
void stridedFallback(const ActSparseMemRef2DF32 &a,
                     const ActSparseMemRef2DF32 &w,
                     const ActSparseMemRef2DF32 &c, bool accumulate) {
  if (!accumulate)
    zeroStrided(c);
  const float *A = a.aligned + a.offset, *W = w.aligned + w.offset;
  float *C = c.aligned + c.offset;
  for (int64_t m = 0; m < a.sizes[0]; ++m)
    for (int64_t k = 0; k < a.sizes[1]; ++k)
      for (int64_t n = 0; n < w.sizes[1]; ++n)
        C[m * c.strides[0] + n * c.strides[1]] +=
            A[m * a.strides[0] + k * a.strides[1]] *
            W[k * w.strides[0] + n * w.strides[1]];
}

/// Zeroes columns [n0, n1) of rows [0, M) of C (rows ldc floats apart):
/// a "set" kernel's slice, before the kernels that add into C.
void zeroColumns(float *C, int64_t ldc, int64_t M, int64_t n0, int64_t n1) {
  for (int64_t m = 0; m < M; ++m)
    std::fill(C + m * ldc + n0, C + m * ldc + n1, 0.0f);
}

/// C[0:M][0:N] (+)= A * W by the blocked GEMM over the pool's column
/// slices, for W stored [K, N], or [N, K] when `transposed` (the only
/// difference is how a block of weights is packed and prefetched); C is
/// overwritten unless `accumulate`.
void pooledGemm(const float *A, int64_t lda, int64_t M, int64_t K,
                const float *W, int64_t ldw, bool transposed, float *C,
                int64_t ldc, int64_t N, bool accumulate) {
  // Row j of a block's weights: a row of W ([K, N]: k0 + j, from column n)
  // or a row of W^T ([N, K]: n + j, from column k0).
  auto rowsOf = [&](int64_t n, int64_t k0) {
    return transposed ? W + n * ldw + k0 : W + k0 * ldw + n;
  };
  forColumnSlices(M, N, K, [&](int64_t n0, int64_t n1) {
    gemm(
        A, lda, M, K, C, ldc, n0, n1, accumulate,
        packedOnTheFly([&](float *panels, int64_t n, int64_t width,
                           int64_t k0, int64_t kc) {
          if (transposed)
            transposeToPanels(rowsOf(n, k0), ldw, width, kc, panels);
          else
            copyToPanels(rowsOf(n, k0), ldw, width, kc, panels);
        }),
        [&](int64_t n, int64_t width, int64_t k0, int64_t kc) {
          int64_t rows = transposed ? width : kc, cols = transposed ? kc : width;
          return RowLines{rowsOf(n, k0), ldw * int64_t(sizeof(float)), rows,
                          cols * int64_t(sizeof(float))};
        });
  });
}

} // namespace

ThreadPool &pool() {
  static ThreadPool p(std::max(1u, std::thread::hardware_concurrency()));
  return p;
}

void forColumnSlices(int64_t M, int64_t N, int64_t K,
                     const std::function<void(int64_t, int64_t)> &fn) {
  int threads = M * N * K < kMinPooledWork ? 1 : pool().size();
  if (threads == 1)
    return fn(0, N);
  pool().run([&](int t) {
    int64_t chunk = ((N + threads - 1) / threads + 15) / 16 * 16;
    int64_t n0 = std::min<int64_t>(N, t * chunk),
            n1 = std::min<int64_t>(N, n0 + chunk);
    if (n0 < n1)
      fn(n0, n1);
  });
}

namespace {
/// Whether this thread is running a chunk of actsparse_rt_parallel_for (a
/// nested call runs whole: the pool runs one parallel-for at a time).
thread_local bool gInParallelFor = false;

int64_t minParallelKernelWork() {
  static const int64_t work = [] {
    const char *env = std::getenv("ACTSPARSE_PARALLEL_KERNEL_WORK");
    char *end = nullptr;
    long long v = env ? std::strtoll(env, &end, 10) : 0;
    return env && end != env && *end == '\0' && v >= 0
               ? int64_t(v)
               : kMinParallelKernelWork;
  }();
  return work;
}
} // namespace

void setNumThreads(int threads) { pool().resize(threads); }
int numThreads() { return pool().size(); }

} // namespace actsparse::runtime

using namespace actsparse::runtime;

namespace {

/// The three f32 matmul kernels; C += A W when `accumulate`, C = A W
/// otherwise (the "set" entry points, for a product into a fresh buffer:
/// no zero fill in the generated code before the call). Adding to a
/// zeroed C and setting it give the same bits: the first partial sum is
/// added to 0.
void matmulF32(ActSparseMemRef2DF32 *a, ActSparseMemRef2DF32 *w,
               ActSparseMemRef2DF32 *c, bool accumulate) {
  int64_t M = a->sizes[0], K = a->sizes[1], N = w->sizes[1];
  if (M == 0 || N == 0)
    return;
  if (a->strides[1] != 1 || w->strides[1] != 1 || c->strides[1] != 1)
    return stridedFallback(*a, *w, *c, accumulate);
  const float *A = a->aligned + a->offset, *W = w->aligned + w->offset;
  float *C = c->aligned + c->offset;
  int64_t lda = a->strides[0], ldw = w->strides[0], ldc = c->strides[0];
  if (M >= kGemmRows)
    return pooledGemm(A, lda, M, K, W, ldw, /*transposed=*/false, C, ldc, N,
                      accumulate);
  bool narrow = N <= 8 && gemmAvx2Available();
  forColumnSlices(M, N, K, [&](int64_t n0, int64_t n1) {
    if (!accumulate)
      zeroColumns(C, ldc, M, n0, n1);
    if (narrow)
      return narrowBlockAvx2(A, lda, W, ldw, C, ldc, M, K, n0, n1);
    // Column blocks sized so that the block of C (M rows) stays in L2.
    int64_t block = std::max<int64_t>(16, std::min<int64_t>(
                                              n1 - n0, (64 * 1024) / (4 * M)));
    block = (block + 15) / 16 * 16;
    for (int64_t b = n0; b < n1; b += block)
      blockKernel(A, lda, W, ldw, C, ldc, M, K, b, std::min(n1, b + block));
  });
}

void matmulNtF32(ActSparseMemRef2DF32 *a, ActSparseMemRef2DF32 *w,
                 ActSparseMemRef2DF32 *c, bool accumulate) {
  int64_t M = a->sizes[0], K = a->sizes[1], N = w->sizes[0];
  if (M == 0 || N == 0)
    return;
  if (a->strides[1] != 1 || w->strides[1] != 1 || c->strides[1] != 1) {
    // The fallback takes W as [K, N]: a transposed view of the same data.
    ActSparseMemRef2DF32 wt = *w;
    std::swap(wt.sizes[0], wt.sizes[1]);
    std::swap(wt.strides[0], wt.strides[1]);
    return stridedFallback(*a, wt, *c, accumulate);
  }
  const float *A = a->aligned + a->offset, *W = w->aligned + w->offset;
  float *C = c->aligned + c->offset;
  int64_t lda = a->strides[0], ldw = w->strides[0], ldc = c->strides[0];
  if (M >= kGemmRows)
    return pooledGemm(A, lda, M, K, W, ldw, /*transposed=*/true, C, ldc, N,
                      accumulate);
  bool avx2 = gemmAvx2Available();
  forColumnSlices(M, N, K, [&](int64_t n0, int64_t n1) {
    if (!accumulate)
      zeroColumns(C, ldc, M, n0, n1);
    if (avx2 && K <= 8)
      shortRowDotAvx2(A, lda, W, ldw, C, ldc, M, K, n0, n1);
    else if (avx2)
      rowDotAvx2(A, lda, W, ldw, C, ldc, M, K, n0, n1);
    else
      rowDotKernel(A, lda, W, ldw, C, ldc, M, K, n0, n1);
  });
}

void matmulPanelsF32(ActSparseMemRef2DF32 *a, ActSparseMemRef3DF32 *w,
                     ActSparseMemRef2DF32 *c, bool accumulate) {
  int64_t M = a->sizes[0], K = a->sizes[1], N = c->sizes[1];
  if (w->sizes[0] != (N + kPanelWidth - 1) / kPanelWidth ||
      w->sizes[1] != K || w->sizes[2] != kPanelWidth) {
    reportRuntimeError("matmul by prepacked weights: strips of shape [" +
                       std::to_string(w->sizes[0]) + ", " +
                       std::to_string(w->sizes[1]) + ", " +
                       std::to_string(w->sizes[2]) + "] do not hold a [" +
                       std::to_string(K) + ", " + std::to_string(N) +
                       "] weight");
    return;
  }
  if (M == 0 || N == 0)
    return;
  const float *A = a->aligned + a->offset, *W = w->aligned + w->offset;
  float *C = c->aligned + c->offset;
  if (a->strides[1] != 1 || c->strides[1] != 1 ||
      w->strides[2] != 1 || w->strides[1] != kPanelWidth ||
      w->strides[0] != kPanelWidth * K) {
    // Not generated today (weights are dense buffers); kept correct anyway.
    if (!accumulate)
      zeroStrided(*c);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n)
          C[m * c->strides[0] + n * c->strides[1]] +=
              A[m * a->strides[0] + k * a->strides[1]] *
              W[n / kPanelWidth * w->strides[0] + k * w->strides[1] +
                n % kPanelWidth * w->strides[2]];
    return;
  }
  int64_t lda = a->strides[0], ldc = c->strides[0];
  forColumnSlices(M, N, K, [&](int64_t n0, int64_t n1) {
    if (M >= kGemmRows)
      return gemmStrips(A, lda, M, K, W, C, ldc, n0, n1, accumulate);
    if (!accumulate)
      zeroColumns(C, ldc, M, n0, n1);
    stripRows(A, lda, M, K, W, C, ldc, n0, n1);
  });
}

} // namespace

extern "C" void _mlir_ciface_actsparse_rt_matmul_f32(ActSparseMemRef2DF32 *a,
                                                     ActSparseMemRef2DF32 *w,
                                                     ActSparseMemRef2DF32 *c) {
  matmulF32(a, w, c, /*accumulate=*/true);
}
extern "C" void
_mlir_ciface_actsparse_rt_matmul_set_f32(ActSparseMemRef2DF32 *a,
                                         ActSparseMemRef2DF32 *w,
                                         ActSparseMemRef2DF32 *c) {
  matmulF32(a, w, c, /*accumulate=*/false);
}
extern "C" void
_mlir_ciface_actsparse_rt_matmul_nt_f32(ActSparseMemRef2DF32 *a,
                                        ActSparseMemRef2DF32 *w,
                                        ActSparseMemRef2DF32 *c) {
  matmulNtF32(a, w, c, /*accumulate=*/true);
}
extern "C" void
_mlir_ciface_actsparse_rt_matmul_nt_set_f32(ActSparseMemRef2DF32 *a,
                                            ActSparseMemRef2DF32 *w,
                                            ActSparseMemRef2DF32 *c) {
  matmulNtF32(a, w, c, /*accumulate=*/false);
}
extern "C" void
_mlir_ciface_actsparse_rt_matmul_panels_f32(ActSparseMemRef2DF32 *a,
                                            ActSparseMemRef3DF32 *w,
                                            ActSparseMemRef2DF32 *c) {
  matmulPanelsF32(a, w, c, /*accumulate=*/true);
}
extern "C" void
_mlir_ciface_actsparse_rt_matmul_panels_set_f32(ActSparseMemRef2DF32 *a,
                                                ActSparseMemRef3DF32 *w,
                                                ActSparseMemRef2DF32 *c) {
  matmulPanelsF32(a, w, c, /*accumulate=*/false);
}

namespace {
/// Calls `matmul` on every [M, K] x [K, N] (or [N, K]) slice of rank-4
/// operands; a batch or head dimension of size 1 in A or W is broadcast.
void forEachSlice(const ActSparseMemRef4DF32 &a, const ActSparseMemRef4DF32 &w,
                  const ActSparseMemRef4DF32 &c,
                  void (*matmul)(ActSparseMemRef2DF32 *, ActSparseMemRef2DF32 *,
                                 ActSparseMemRef2DF32 *)) {
  auto slice = [](const ActSparseMemRef4DF32 &d, int64_t i, int64_t j) {
    ActSparseMemRef2DF32 s;
    s.allocated = d.allocated;
    s.aligned = d.aligned;
    s.offset = d.offset + (d.sizes[0] == 1 ? 0 : i * d.strides[0]) +
               (d.sizes[1] == 1 ? 0 : j * d.strides[1]);
    s.sizes[0] = d.sizes[2];
    s.sizes[1] = d.sizes[3];
    s.strides[0] = d.strides[2];
    s.strides[1] = d.strides[3];
    return s;
  };
  for (int64_t i = 0; i < c.sizes[0]; ++i)
    for (int64_t j = 0; j < c.sizes[1]; ++j) {
      ActSparseMemRef2DF32 as = slice(a, i, j), ws = slice(w, i, j),
                           cs = slice(c, i, j);
      matmul(&as, &ws, &cs);
    }
}
} // namespace

extern "C" void
_mlir_ciface_actsparse_rt_batch_matmul_f32(ActSparseMemRef4DF32 *a,
                                           ActSparseMemRef4DF32 *w,
                                           ActSparseMemRef4DF32 *c) {
  forEachSlice(*a, *w, *c, _mlir_ciface_actsparse_rt_matmul_f32);
}

extern "C" void
_mlir_ciface_actsparse_rt_batch_matmul_nt_f32(ActSparseMemRef4DF32 *a,
                                              ActSparseMemRef4DF32 *w,
                                              ActSparseMemRef4DF32 *c) {
  forEachSlice(*a, *w, *c, _mlir_ciface_actsparse_rt_matmul_nt_f32);
}

extern "C" void
_mlir_ciface_actsparse_rt_batch_matmul_set_f32(ActSparseMemRef4DF32 *a,
                                               ActSparseMemRef4DF32 *w,
                                               ActSparseMemRef4DF32 *c) {
  forEachSlice(*a, *w, *c, _mlir_ciface_actsparse_rt_matmul_set_f32);
}

extern "C" void
_mlir_ciface_actsparse_rt_batch_matmul_nt_set_f32(ActSparseMemRef4DF32 *a,
                                                  ActSparseMemRef4DF32 *w,
                                                  ActSparseMemRef4DF32 *c) {
  forEachSlice(*a, *w, *c, _mlir_ciface_actsparse_rt_matmul_nt_set_f32);
}

extern "C" void actsparse_rt_parallel_for(void (*task)(void *, int64_t,
                                                       int64_t),
                                          void *ctx, int64_t work) {
  int threads = pool().size();
  if (threads == 1 || work < minParallelKernelWork() || gInParallelFor)
    return task(ctx, 0, 1);
  pool().run([&](int t) {
    gInParallelFor = true;
    task(ctx, t, threads);
    gInParallelFor = false;
  });
}
