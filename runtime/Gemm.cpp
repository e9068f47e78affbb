//===- Gemm.cpp - register-blocked f32 GEMM micro-kernels -----------------===//
//
// See Gemm.h. The AVX2 micro-kernel holds a tile of up to 6 rows x 16
// columns in twelve registers; the portable one has the same loop order
// and leaves vectorization to the compiler.
//
//===----------------------------------------------------------------------===//

#include "Gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

namespace actsparse::runtime {
namespace {

/// Rows of the output tile.
constexpr int kTileRows = 6;

/// Adds (or stores) one row of the tile, `width` columns of it.
inline void storeRow(const float *tile, float *c, int64_t width,
                     bool accumulate) {
  for (int64_t j = 0; j < width; ++j)
    c[j] = accumulate ? c[j] + tile[j] : tile[j];
}

template <int Rows>
void tilePortable(const float *A, int64_t lda, const float *P, int64_t kc,
                  float *C, int64_t ldc, int64_t width, bool accumulate) {
  float acc[Rows][kPanelWidth] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float *w = P + k * kPanelWidth;
    for (int r = 0; r < Rows; ++r) {
      float a = A[r * lda + k];
      for (int j = 0; j < kPanelWidth; ++j)
        acc[r][j] += a * w[j];
    }
  }
  for (int r = 0; r < Rows; ++r)
    storeRow(acc[r], C + r * ldc, width, accumulate);
}

template <int Rows>
__attribute__((target("avx2,fma"))) void
tileAvx2(const float *A, int64_t lda, const float *P, int64_t kc, float *C,
         int64_t ldc, int64_t width, bool accumulate) {
  __m256 lo[Rows], hi[Rows];
#pragma GCC unroll 6
  for (int r = 0; r < Rows; ++r)
    lo[r] = hi[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 w0 = _mm256_loadu_ps(P + k * kPanelWidth);
    __m256 w1 = _mm256_loadu_ps(P + k * kPanelWidth + 8);
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) {
      __m256 a = _mm256_broadcast_ss(A + r * lda + k);
      lo[r] = _mm256_fmadd_ps(a, w0, lo[r]);
      hi[r] = _mm256_fmadd_ps(a, w1, hi[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < Rows; ++r) {
    float *c = C + r * ldc;
    if (width == kPanelWidth) {
      if (accumulate) {
        lo[r] = _mm256_add_ps(_mm256_loadu_ps(c), lo[r]);
        hi[r] = _mm256_add_ps(_mm256_loadu_ps(c + 8), hi[r]);
      }
      _mm256_storeu_ps(c, lo[r]);
      _mm256_storeu_ps(c + 8, hi[r]);
      continue;
    }
    alignas(32) float tile[kPanelWidth];
    _mm256_store_ps(tile, lo[r]);
    _mm256_store_ps(tile + 8, hi[r]);
    storeRow(tile, c, width, accumulate);
  }
}

using TileFn = void (*)(const float *, int64_t, const float *, int64_t, float *,
                        int64_t, int64_t, bool);

/// Rows of the AVX-512 tile: 8 rows x 2 panels are sixteen zmm
/// accumulators; per k, two weight loads and eight broadcasts feed sixteen
/// FMAs (the AVX2 tile: two loads and six broadcasts for twelve FMAs of
/// half the width).
constexpr int kTileRows512 = 8;

/// The mask of the first `count` (at most 16) lanes.
inline __mmask16 lanes16(int64_t count) {
  return count >= 16  ? __mmask16(0xFFFF)
         : count <= 0 ? __mmask16(0)
                      : __mmask16((1u << count) - 1);
}

/// Lines [first, last) of a RowLines, counted row by row.
struct PrefetchLines {
  const char *base;
  int64_t stride, linesPerRow, first, last;

  const char *line(int64_t i) const {
    return base + i / linesPerRow * stride + i % linesPerRow * 64;
  }
};

/// The AVX-512 micro-kernel: a tile of Rows rows over Panels (1 or 2)
/// adjacent panels, the second `stride` floats after the first; `width`
/// output columns in all (the lanes past it are neither read nor written).
/// Every element takes the AVX2 tile's operations in its order (a sum from
/// zero by one FMA per k, then added to C), so the two give the same bits.
///
/// While it computes, it prefetches `pf`'s lines, one every kc / lines
/// iterations: spread so, the weights later calls read arrive while these
/// are multiplied, without the stalls a burst of prefetches costs once the
/// core's line fill buffers are full.
template <int Rows, int Panels>
__attribute__((target("avx512f"))) void
tileAvx512(const float *A, int64_t lda, const float *P, int64_t stride,
           int64_t kc, float *C, int64_t ldc, int64_t width, bool accumulate,
           PrefetchLines pf) {
  __m512 acc[Panels][Rows];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
    for (int p = 0; p < Panels; ++p)
      acc[p][r] = _mm512_setzero_ps();
  const int64_t every = pf.last > pf.first
                            ? std::max<int64_t>(1, kc / (pf.last - pf.first))
                            : kc + 1;
  int64_t countdown = every;
  for (int64_t k = 0; k < kc; ++k) {
    if (--countdown == 0) {
      countdown = every;
      if (pf.first < pf.last)
        __builtin_prefetch(pf.line(pf.first++), 0, 2);
    }
    __m512 w[Panels];
    for (int p = 0; p < Panels; ++p)
      w[p] = _mm512_loadu_ps(P + p * stride + k * kPanelWidth);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      __m512 a = _mm512_set1_ps(A[r * lda + k]);
      for (int p = 0; p < Panels; ++p)
        acc[p][r] = _mm512_fmadd_ps(a, w[p], acc[p][r]);
    }
  }
  // More lines than iterations (a short kc): the rest at once.
  for (; pf.first < pf.last; ++pf.first)
    __builtin_prefetch(pf.line(pf.first), 0, 2);
  __mmask16 mask[Panels];
  for (int p = 0; p < Panels; ++p)
    mask[p] = lanes16(width - p * kPanelWidth);
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
    for (int p = 0; p < Panels; ++p) {
      float *c = C + r * ldc + p * kPanelWidth;
      __m512 v = acc[p][r];
      if (accumulate)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[p], c), v);
      _mm512_mask_storeu_ps(c, mask[p], v);
    }
}

using TileFn512 = void (*)(const float *, int64_t, const float *, int64_t,
                           int64_t, float *, int64_t, int64_t, bool,
                           PrefetchLines);

/// The AVX-512 micro-kernels, [panels - 1][rows - 1].
constexpr TileFn512 kAvx512Tiles[2][kTileRows512] = {
    {tileAvx512<1, 1>, tileAvx512<2, 1>, tileAvx512<3, 1>, tileAvx512<4, 1>,
     tileAvx512<5, 1>, tileAvx512<6, 1>, tileAvx512<7, 1>, tileAvx512<8, 1>},
    {tileAvx512<1, 2>, tileAvx512<2, 2>, tileAvx512<3, 2>, tileAvx512<4, 2>,
     tileAvx512<5, 2>, tileAvx512<6, 2>, tileAvx512<7, 2>, tileAvx512<8, 2>}};

/// The micro-kernels for 1..kTileRows rows, indexed by rows - 1.
constexpr TileFn kAvx2Tiles[] = {tileAvx2<1>, tileAvx2<2>, tileAvx2<3>,
                                 tileAvx2<4>, tileAvx2<5>, tileAvx2<6>};
constexpr TileFn kPortableTiles[] = {tilePortable<1>, tilePortable<2>,
                                     tilePortable<3>, tilePortable<4>,
                                     tilePortable<5>, tilePortable<6>};

} // namespace

bool gemmAvx2Available() {
  static const bool available =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
}

float *panelBuffer() {
  // On the heap: a 256 KiB thread_local array would take static TLS, which
  // a dlopen'ed copy of the runtime may not get.
  struct Deleter {
    void operator()(float *p) const {
      ::operator delete[](p, std::align_val_t(64));
    }
  };
  thread_local std::unique_ptr<float[], Deleter> buffer(new (
      std::align_val_t(64)) float[kBlockColumns / kPanelWidth * kPanelStride]);
  return buffer.get();
}

/// Weight rows ahead of the one being packed whose lines are prefetched:
/// each row's segment is a few lines in its own page, which the hardware
/// prefetcher does not see coming.
constexpr int64_t kPrefetchRows = 8;

void copyToPanels(const float *w, int64_t ld, int64_t width, int64_t kc,
                  float *panels) {
  int64_t full = width / kPanelWidth * kPanelWidth;
  for (int64_t k = 0; k < kc; ++k) {
    const float *row = w + k * ld;
    if (k + kPrefetchRows < kc)
      for (int64_t j = 0; j < width; j += 64 / sizeof(float))
        __builtin_prefetch(row + kPrefetchRows * ld + j);
    float *out = panels + k * kPanelWidth;
    for (int64_t j = 0; j < full; j += kPanelWidth)
      std::memcpy(out + j / kPanelWidth * kPanelStride, row + j,
                  kPanelWidth * sizeof(float));
    if (full < width)
      std::memcpy(out + full / kPanelWidth * kPanelStride, row + full,
                  (width - full) * sizeof(float));
  }
}

int64_t panelStripFloats(int64_t K, int64_t N) {
  return (N + kPanelWidth - 1) / kPanelWidth * kPanelWidth * K;
}

void packPanelStrips(const float *w, int64_t ld, int64_t K, int64_t N,
                     float *strips) {
  // A band of rows at a time (in L2), written to every strip: each weight
  // line is read once, and each strip is written in runs of kBand lines.
  constexpr int64_t kBand = 32;
  for (int64_t k0 = 0; k0 < K; k0 += kBand) {
    int64_t k1 = std::min(K, k0 + kBand);
    for (int64_t n = 0; n < N; n += kPanelWidth) {
      int64_t width = std::min(kPanelWidth, N - n);
      float *strip = strips + n * K;
      for (int64_t k = k0; k < k1; ++k) {
        float *out = strip + k * kPanelWidth;
        std::memcpy(out, w + k * ld + n, width * sizeof(float));
        std::fill(out + width, out + kPanelWidth, 0.0f);
      }
    }
  }
}

void packPanelStripsTransposed(const float *w, int64_t ld, int64_t K,
                               int64_t N, float *strips) {
  for (int64_t n = 0; n < N; n += kPanelWidth) {
    int64_t width = std::min(kPanelWidth, N - n);
    float *strip = strips + n * K;
    if (width < kPanelWidth)
      std::fill(strip, strip + kPanelWidth * K, 0.0f);
    // One strip is one panel of depth K: rows n.. become its columns.
    transposeToPanels(w + n * ld, ld, width, K, strip);
  }
}

namespace {

/// Eight rows of eight floats (at r + i * ld) stored as eight columns of
/// one panel: out[k * kPanelWidth + i] = r[i * ld + k].
__attribute__((target("avx2"))) void transpose8x8(const float *r, int64_t ld,
                                                  float *out) {
  __m256 v[8], cols[8];
  for (int i = 0; i < 8; ++i)
    v[i] = _mm256_loadu_ps(r + i * ld);
  transposeRegisters8x8(v, cols);
  for (int k = 0; k < 8; ++k)
    _mm256_storeu_ps(out + k * kPanelWidth, cols[k]);
}

/// Prefetches (towards L2) every line of `lines`, at once: the AVX2 and
/// portable kernels' way.
void prefetchRows(const RowLines &lines) {
  const char *p = static_cast<const char *>(lines.base);
  for (int64_t r = 0; r < lines.rows; ++r)
    for (int64_t b = 0; b < lines.rowBytes; b += 64)
      __builtin_prefetch(p + r * lines.stride + b, 0, 2);
}

} // namespace

void transposeToPanels(const float *rows, int64_t ld, int64_t width, int64_t kc,
                       float *panels) {
  int64_t j = 0;
  if (gemmAvx2Available())
    for (; j + 8 <= width; j += 8) {
      float *panel = panels + j / kPanelWidth * kPanelStride + j % kPanelWidth;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8)
        transpose8x8(rows + j * ld + k, ld, panel + k * kPanelWidth);
      for (; k < kc; ++k)
        for (int64_t i = 0; i < 8; ++i)
          panel[k * kPanelWidth + i] = rows[(j + i) * ld + k];
    }
  for (; j < width; ++j) {
    const float *row = rows + j * ld;
    float *panel = panels + j / kPanelWidth * kPanelStride + j % kPanelWidth;
    for (int64_t k = 0; k < kc; ++k)
      panel[k * kPanelWidth] = row[k];
  }
}

bool gemmAvx512Available() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

void gemmPanels(const float *A, int64_t lda, int64_t M, const float *panels,
                int64_t stride, int64_t kc, float *C, int64_t ldc,
                int64_t width, bool accumulate, int impl,
                const RowLines &next) {
  if (impl == 3 || (impl == 0 && gemmAvx512Available())) {
    const TileFn512 *tiles = kAvx512Tiles[width > kPanelWidth ? 1 : 0];
    // Tiles of near-equal height (9 rows: 5 + 4, not 8 + 1), each
    // prefetching its share of `next`'s lines.
    int64_t count = (M + kTileRows512 - 1) / kTileRows512;
    int64_t perRow = (next.rowBytes + 63) / 64, lines = next.rows * perRow;
    for (int64_t t = 0, m = 0; t < count; ++t) {
      int64_t rows = M / count + (t < M % count ? 1 : 0);
      PrefetchLines pf{static_cast<const char *>(next.base), next.stride,
                       perRow, lines * t / count, lines * (t + 1) / count};
      tiles[rows - 1](A + m * lda, lda, panels, stride, kc, C + m * ldc, ldc,
                      width, accumulate, pf);
      m += rows;
    }
    return;
  }
  prefetchRows(next);
  bool avx2 = impl == 2 || (impl == 0 && gemmAvx2Available());
  const TileFn *tiles = avx2 ? kAvx2Tiles : kPortableTiles;
  for (int64_t j = 0; j < width; j += kPanelWidth) {
    int64_t columns = std::min(kPanelWidth, width - j);
    for (int64_t m = 0; m < M; m += kTileRows) {
      int64_t rows = std::min<int64_t>(kTileRows, M - m);
      tiles[rows - 1](A + m * lda, lda, panels + j / kPanelWidth * stride, kc,
                      C + m * ldc + j, ldc, columns, accumulate);
    }
  }
}

namespace {

/// Row k0 of the strip holding column n (a multiple of kPanelWidth).
inline const float *stripAt(const float *strips, int64_t K, int64_t n,
                            int64_t k0 = 0) {
  return strips + n / kPanelWidth * kPanelWidth * K + k0 * kPanelWidth;
}

} // namespace

void gemmStrips(const float *A, int64_t lda, int64_t M, int64_t K,
                const float *strips, float *C, int64_t ldc, int64_t n0,
                int64_t n1, bool accumulate, int impl) {
  gemm(
      A, lda, M, K, C, ldc, n0, n1, accumulate,
      [&](int64_t n, int64_t, int64_t k0, int64_t, int64_t &stride) {
        stride = kPanelWidth * K;
        return stripAt(strips, K, n, k0);
      },
      [&](int64_t n, int64_t width, int64_t k0, int64_t kc) {
        return RowLines{stripAt(strips, K, n, k0),
                        kPanelWidth * K * int64_t(sizeof(float)),
                        (width + kPanelWidth - 1) / kPanelWidth,
                        kc * kPanelWidth * int64_t(sizeof(float))};
      },
      impl, /*inPlace=*/true);
}

namespace {

/// Calls row(a, strip, c, width) for every row m < M and strip of columns
/// [n0, n1): row m of A, the strip, where its columns go in row m of C, and
/// how many of them there are.
template <typename Row>
inline void forStripRows(const float *A, int64_t lda, int64_t M, int64_t K,
                         const float *strips, float *C, int64_t ldc,
                         int64_t n0, int64_t n1, Row row) {
  for (int64_t n = n0; n < n1; n += kPanelWidth)
    for (int64_t m = 0; m < M; ++m)
      row(A + m * lda, stripAt(strips, K, n), C + m * ldc + n,
          std::min(kPanelWidth, n1 - n));
}

/// stripRows on AVX2 and FMA.
__attribute__((target("avx2,fma"))) void
stripRowsAvx2(const float *A, int64_t lda, int64_t M, int64_t K,
              const float *strips, float *C, int64_t ldc, int64_t n0,
              int64_t n1) {
  forStripRows(A, lda, M, K, strips, C, ldc, n0, n1,
               [K](const float *a, const float *strip, float *c,
                   int64_t width) __attribute__((target("avx2,fma"))) {
    __m256 lo[4], hi[4];
    for (int i = 0; i < 4; ++i)
      lo[i] = hi[i] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= K; k += 4)
      for (int i = 0; i < 4; ++i) {
        __m256 x = _mm256_broadcast_ss(a + k + i);
        const float *w = strip + (k + i) * kPanelWidth;
        lo[i] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w), lo[i]);
        hi[i] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + 8), hi[i]);
      }
    for (; k < K; ++k) {
      __m256 x = _mm256_broadcast_ss(a + k);
      const float *w = strip + k * kPanelWidth;
      lo[0] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w), lo[0]);
      hi[0] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + 8), hi[0]);
    }
    __m256 l = _mm256_add_ps(_mm256_add_ps(lo[0], lo[1]),
                             _mm256_add_ps(lo[2], lo[3]));
    __m256 h = _mm256_add_ps(_mm256_add_ps(hi[0], hi[1]),
                             _mm256_add_ps(hi[2], hi[3]));
    __m256i maskLo = firstLanes(width), maskHi = firstLanes(width - 8);
    _mm256_maskstore_ps(c, maskLo,
                        _mm256_add_ps(_mm256_maskload_ps(c, maskLo), l));
    _mm256_maskstore_ps(
        c + 8, maskHi, _mm256_add_ps(_mm256_maskload_ps(c + 8, maskHi), h));
  });
}

/// Rows of a strip (64 bytes each) that stripRowsAvx512 prefetches ahead
/// of the one it reads: 8 KiB. Measured on the 1.9 GB model's decode: 4
/// and 16 KiB the same, no prefetch 4-5 % slower.
constexpr int64_t kStripPrefetchRows = 128;

/// stripRowsAvx2 on AVX-512F: a strip's 16 columns in one register, the
/// same four partial sums per lane, added in the same order (so the same
/// bits), and a prefetch of one line every four rows, kStripPrefetchRows
/// ahead (past the strip's end it reaches into the next strip, which is
/// read next; a prefetch never faults).
__attribute__((target("avx512f"))) void
stripRowsAvx512(const float *A, int64_t lda, int64_t M, int64_t K,
                const float *strips, float *C, int64_t ldc, int64_t n0,
                int64_t n1) {
  forStripRows(A, lda, M, K, strips, C, ldc, n0, n1,
               [K](const float *a, const float *strip, float *c,
                   int64_t width) __attribute__((target("avx512f"))) {
    __m512 acc[4];
    for (int i = 0; i < 4; ++i)
      acc[i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      __builtin_prefetch(strip + (k + kStripPrefetchRows) * kPanelWidth, 0, 3);
      for (int i = 0; i < 4; ++i)
        acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[k + i]),
                                 _mm512_loadu_ps(strip + (k + i) * kPanelWidth),
                                 acc[i]);
    }
    for (; k < K; ++k)
      acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(a[k]),
                               _mm512_loadu_ps(strip + k * kPanelWidth), acc[0]);
    __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                               _mm512_add_ps(acc[2], acc[3]));
    __mmask16 mask = lanes16(width);
    _mm512_mask_storeu_ps(
        c, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c), sum));
  });
}

/// Portable stripRowsAvx2, with the same partial sums.
void stripRowsPortable(const float *A, int64_t lda, int64_t M, int64_t K,
                       const float *strips, float *C, int64_t ldc, int64_t n0,
                       int64_t n1) {
  forStripRows(A, lda, M, K, strips, C, ldc, n0, n1,
               [K](const float *a, const float *strip, float *c,
                   int64_t width) {
    float acc[4][kPanelWidth] = {};
    for (int64_t k = 0; k < K; ++k) {
      float *sum = acc[k < K - K % 4 ? k % 4 : 0];
      for (int64_t j = 0; j < kPanelWidth; ++j)
        sum[j] += a[k] * strip[k * kPanelWidth + j];
    }
    for (int64_t j = 0; j < width; ++j)
      c[j] += (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
  });
}

} // namespace

void stripRows(const float *A, int64_t lda, int64_t M, int64_t K,
               const float *strips, float *C, int64_t ldc, int64_t n0,
               int64_t n1, int impl) {
  if (impl == 3 || (impl == 0 && gemmAvx512Available()))
    stripRowsAvx512(A, lda, M, K, strips, C, ldc, n0, n1);
  else if (impl == 2 || (impl == 0 && gemmAvx2Available()))
    stripRowsAvx2(A, lda, M, K, strips, C, ldc, n0, n1);
  else
    stripRowsPortable(A, lda, M, K, strips, C, ldc, n0, n1);
}

} // namespace actsparse::runtime
