//===- Gemm.h - blocked f32 GEMM for prefill (internal) ---------*- C++ -*-===//
//
// Decode multiplies one activation row by each weight matrix: it streams
// the weights once and is bound by memory, which the dot-product kernels
// (Kernels.cpp, Quant.cpp) already are. Prefill multiplies many rows, and
// there the same weights can be reused from cache and registers: this is
// the blocked GEMM those kernels switch to from kGemmRows rows on.
//
// The weights are packed into panels of kPanelDepth x kPanelWidth floats
// (k-major, 16 KiB: one stays in L1 while every activation row meets it),
// a block of 16 panels at a time; the caller's packer reads its own layout
// (row-major [K, N], transposed [N, K], or quantized rows it dequantizes). A
// micro-kernel then keeps a tile of the output in registers over the
// panel's depth: with AVX2, 6 x 16 (per k, two loads of weights and six
// broadcasts feed twelve FMAs); with AVX-512, 8 x 32 over two panels (two
// loads, eight broadcasts, sixteen FMAs of twice the width).
//
// Every output element is the sum over one panel depth, accumulated in
// order, added to C: a blocked sum, no less accurate than a row's dot
// product.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_GEMM_H
#define ACTSPARSE_RUNTIME_GEMM_H

#include "actsparse/runtime/Abi.h"

#include <algorithm>
#include <cstdint>
#include <immintrin.h>

namespace actsparse::runtime {

/// From this many activation rows on, the f32 weight kernels use the GEMM.
constexpr int64_t kGemmRows = 4;
/// Output columns of a packed panel (two AVX2 vectors), which are also the
/// strips prepacked weights are laid out in.
constexpr int64_t kPanelWidth = kStripWidth;
/// Depth of a packed panel; a multiple of the quantized block (32).
constexpr int64_t kPanelDepth = 256;
/// Floats in one packed panel.
constexpr int64_t kPanelFloats = kPanelDepth * kPanelWidth;
/// Distance between the panels of a block: one line more than a panel, so
/// that the packers' sixteen streams of stores (one per panel) do not all
/// fall into one L1 set, as 16 KiB apart they would.
constexpr int64_t kPanelStride = kPanelFloats + 64 / sizeof(float);
/// Output columns packed at once: 16 panels, 256 KiB, which stay in L2
/// while every activation row meets them. Packing a block of columns
/// together reads each weight row's segment contiguously (a [K, N] matrix
/// as wide as a vocabulary would otherwise be read 64 bytes per page).
constexpr int64_t kBlockColumns = 16 * kPanelWidth;

/// This thread's buffer for one block of panels (kBlockColumns /
/// kPanelWidth panels, kPanelStride floats apart), 64-byte aligned.
float *panelBuffer();

/// Panels a micro-kernel covers at once: the AVX-512 tile spans two
/// (32 columns), the AVX2 and portable ones one, called per panel.
constexpr int64_t kPanelsAtOnce = 2;

/// Weight bytes to bring towards the cache: `rows` rows of `rowBytes`
/// bytes, `stride` bytes apart from `base` (none when `rows` is 0). What a
/// block of the GEMM will read: strips of panels, or a packer's source
/// rows.
struct RowLines {
  const void *base = nullptr;
  int64_t stride = 0, rows = 0, rowBytes = 0;

  /// Rows [rows * part / parts, rows * end / parts): the share of parts
  /// [part, end) of `parts`.
  RowLines slice(int64_t part, int64_t end, int64_t parts) const {
    int64_t r0 = rows * part / parts, r1 = rows * end / parts;
    return {static_cast<const char *>(base) + r0 * stride, stride, r1 - r0,
            rowBytes};
  }
};

/// C[m][j] (+)= sum_{k < kc} A[m * lda + k] * W(k, j) for m < M, j < width
/// (at most kPanelsAtOnce * kPanelWidth), W(k, j) at panels[(j /
/// kPanelWidth) * stride + k * kPanelWidth + j % kPanelWidth]; C is
/// overwritten unless `accumulate`, and its columns past `width` are left
/// alone. `impl`: 0 best for this CPU, 1 portable, 2 AVX2, 3 AVX-512
/// (tests). Every element is the same sum in the same order in the AVX2
/// and AVX-512 kernels (one FMA per k from zero, then added to C), so they
/// give the same bits. The call also prefetches `next` (towards L2): the
/// AVX-512 kernel spreads its lines over its iterations, one every few,
/// the others ask for them all first.
void gemmPanels(const float *A, int64_t lda, int64_t M, const float *panels,
                int64_t stride, int64_t kc, float *C, int64_t ldc,
                int64_t width, bool accumulate, int impl = 0,
                const RowLines &next = {});

/// Packs weights stored [K, N] (a row per input): columns j < width of
/// rows k < kc (at w + k * ld) become column j % kPanelWidth of panel
/// j / kPanelWidth.
void copyToPanels(const float *w, int64_t ld, int64_t width, int64_t kc,
                  float *panels);

/// Packs weights stored [N, K] (a row per output column): row j (at
/// rows + j * ld, kc floats) becomes column j % kPanelWidth of panel
/// j / kPanelWidth, for j < width.
void transposeToPanels(const float *rows, int64_t ld, int64_t width, int64_t kc,
                       float *panels);

/// Transposes eight rows of eight floats in registers: cols[k] lane i =
/// rows[i] lane k. For AVX2 callers (`rows` is overwritten).
__attribute__((target("avx2"), always_inline)) inline void
transposeRegisters8x8(__m256 rows[8], __m256 cols[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(rows[i], rows[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(rows[i], rows[i + 1]);
  }
  for (int i = 0; i < 8; i += 4)
    for (int h = 0; h < 2; ++h) {
      rows[i + h] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0x44);
      rows[i + h + 2] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0xEE);
    }
  // rows[0..3] hold rows 0-3 as k = 0,4 / 2,6 / 1,5 / 3,7 pairs; rows[4..7]
  // rows 4-7 likewise. Lanes: low half k, high half k + 4.
  const int order[4] = {0, 2, 1, 3};
  for (int q = 0; q < 4; ++q) {
    cols[q] = _mm256_permute2f128_ps(rows[order[q]], rows[4 + order[q]], 0x20);
    cols[q + 4] =
        _mm256_permute2f128_ps(rows[order[q]], rows[4 + order[q]], 0x31);
  }
}

/// The first `count` (at most 8) lanes set, for masked loads and stores.
__attribute__((target("avx2"), always_inline)) inline __m256i
firstLanes(int64_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(count)), lane);
}

/// Whether this CPU has AVX2 and FMA: the one test for every AVX2 kernel
/// of the f32 weights (gemmPanels' micro-kernel, the strips, the short-row
/// and narrow-column kernels of Kernels.cpp).
bool gemmAvx2Available();
/// Whether this CPU has AVX-512F, for gemmPanels' wider micro-kernel.
bool gemmAvx512Available();

/// Weights laid out once for the GEMM (prepacked, as the loader does for
/// `panels` weights): W [K, N] as ceil(N / kPanelWidth) strips, strip s
/// holding columns [s * kPanelWidth, (s + 1) * kPanelWidth) of every row,
/// k-major: W(k, n) at strips[(n / kPanelWidth) * kPanelWidth * K +
/// k * kPanelWidth + n % kPanelWidth], the columns past N zero. Any
/// kPanelDepth rows of a strip are a panel as gemmPanels reads it.
int64_t panelStripFloats(int64_t K, int64_t N);
/// Writes W [K, N] (row-major, rows `ld` floats apart) as strips into
/// `strips` (panelStripFloats(K, N) floats).
void packPanelStrips(const float *w, int64_t ld, int64_t K, int64_t N,
                     float *strips);
/// The same strips from the transposed matrix: W [K, N] given as its
/// rows' transpose Wt [N, K] (row n at w + n * ld), as a classifier tied
/// to the embedding is stored.
void packPanelStripsTransposed(const float *w, int64_t ld, int64_t K,
                               int64_t N, float *strips);

/// C[0:M][n0:n1] (+)= A * W for W prepacked as strips (n0, n1 multiples
/// of kPanelWidth, or n1 = N), by the GEMM (gemm() below) reading the
/// strips as its panels: nothing is packed per call. C is overwritten
/// unless `accumulate`. `impl` as gemmPanels'.
void gemmStrips(const float *A, int64_t lda, int64_t M, int64_t K,
                const float *strips, float *C, int64_t ldc, int64_t n0,
                int64_t n1, bool accumulate, int impl = 0);

/// The same for a few rows (decode): each strip is read once,
/// contiguously, for all M rows; per row, four partial sums over k (k mod
/// 4, the last K % 4 in the first) of a strip's 16 columns (two AVX2
/// vectors or one AVX-512 vector each) keep several FMAs in flight, added
/// as (s0 + s1) + (s2 + s3): the same bits with either width. `impl`: 0
/// best for this CPU, 1 portable, 2 AVX2, 3 AVX-512 (tests).
void stripRows(const float *A, int64_t lda, int64_t M, int64_t K,
               const float *strips, float *C, int64_t ldc, int64_t n0,
               int64_t n1, int impl = 0);

/// gemm()'s panels packed on the fly into this thread's panelBuffer() by
/// `pack(panels, n, width, k0, kc)`, which writes W(k0 + k, n + j) to
/// panels[(j / kPanelWidth) * kPanelStride + k * kPanelWidth +
/// j % kPanelWidth].
template <typename Packer> auto packedOnTheFly(Packer pack) {
  return [pack, buffer = panelBuffer()](int64_t n, int64_t width, int64_t k0,
                                        int64_t kc,
                                        int64_t &stride) -> const float * {
    pack(buffer, n, width, k0, kc);
    stride = kPanelStride;
    return buffer;
  };
}

/// C[0:M][n0:n1] (+)= A[0:M][0:K] * W[0:K][n0:n1]. The weights are reached
/// through `panels(n, width, k0, kc, stride)`, which returns panels holding
/// W(k0 + k, n + j) at [(j / kPanelWidth) * stride + k * kPanelWidth +
/// j % kPanelWidth] for k < kc and j < width <= kBlockColumns (the kernel
/// ignores the columns of the last panel past width): packed into
/// panelBuffer() on the fly, or the prepacked strips themselves
/// (`inPlace`). `source(n, width, k0, kc)` says which weight bytes the
/// block (n, width, k0, kc) reads, as a RowLines. With many rows the
/// weights are read from memory once per call, and each micro-kernel call
/// prefetches weights that later calls read, which hides that read behind
/// the arithmetic:
/// - strips read in place, with the AVX-512 kernel (which spreads its
///   prefetches over its iterations): the next call's panels (this
///   block's next two, or the next block's first two);
/// - otherwise its panels' share of the next block's source: a packer's
///   rows are read once, when the block is packed, so they must be
///   prefetched a block ahead. The AVX2 kernel asks for its share at
///   once, the AVX-512 kernel spreads it; on this path the two measured
///   the same (SmolLM2 in f16, session 22).
template <typename Panels, typename Source>
void gemm(const float *A, int64_t lda, int64_t M, int64_t K, float *C,
          int64_t ldc, int64_t n0, int64_t n1, bool accumulate, Panels panels,
          Source source, int impl = 0, bool inPlace = false) {
  if (K == 0 && !accumulate)
    for (int64_t m = 0; m < M; ++m)
      std::fill(C + m * ldc + n0, C + m * ldc + n1, 0.0f);
  constexpr int64_t kStep = kPanelsAtOnce * kPanelWidth;
  const bool nextPanels =
      inPlace && (impl == 3 || (impl == 0 && gemmAvx512Available()));
  // Column blocks outside: the block of C stays in cache over all of K.
  for (int64_t nb = n0; nb < n1; nb += kBlockColumns) {
    int64_t columns = std::min(kBlockColumns, n1 - nb);
    for (int64_t k0 = 0; k0 < K; k0 += kPanelDepth) {
      int64_t kc = std::min(kPanelDepth, K - k0);
      int64_t stride = 0;
      const float *block = panels(nb, columns, k0, kc, stride);
      // The block after this one.
      int64_t nextN = nb, nextK0 = k0 + kPanelDepth;
      if (nextK0 >= K) {
        nextN = nb + kBlockColumns;
        nextK0 = 0;
      }
      int64_t nextWidth = std::min(kBlockColumns, n1 - nextN),
              nextKc = std::min(kPanelDepth, K - nextK0);
      RowLines nextBlock;
      if (!nextPanels && nextN < n1)
        nextBlock = source(nextN, nextWidth, nextK0, nextKc);
      int64_t parts = (columns + kPanelWidth - 1) / kPanelWidth;
      for (int64_t j = 0; j < columns; j += kStep) {
        int64_t part = j / kPanelWidth;
        RowLines next;
        if (!nextPanels)
          next = nextBlock.slice(part, std::min(parts, part + kPanelsAtOnce),
                                 parts);
        else if (j + kStep < columns)
          next = source(nb + j + kStep, std::min(kStep, columns - j - kStep),
                        k0, kc);
        else if (nextN < n1)
          next = source(nextN, std::min(kStep, nextWidth), nextK0, nextKc);
        gemmPanels(A + k0, lda, M, block + part * stride, stride, kc,
                   C + nb + j, ldc, std::min(kStep, columns - j),
                   accumulate || k0 > 0, impl, next);
      }
    }
  }
}

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_GEMM_H
