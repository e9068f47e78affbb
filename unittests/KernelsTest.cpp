//===- KernelsTest.cpp - runtime kernels against naive references ---------===//
//
// The threaded, vectorized matmul kernel must equal the textbook triple loop
// (computed here, in double) for every shape class the lowering sends it:
// decode rows (M = 1), prefill blocks (M not a multiple of 4, and the
// blocked GEMM from kGemmRows rows on), columns not a multiple of the
// thread slice, and non-unit strides (fallback path).
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "Gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using namespace actsparse::runtime;

namespace {

ActSparseMemRef2DF32 view(std::vector<float> &v, int64_t rows, int64_t cols,
                          int64_t ld, int64_t colStride = 1) {
  return {v.data(), v.data(), 0, {rows, cols}, {ld, colStride}};
}

/// W [K, N] as the strips the loader lays out for
/// actsparse_rt_matmul_panels_f32, written from Abi.h's description:
/// [ceil(N / 16), K, 16], strip s holding columns 16 s .. 16 s + 15 of
/// every row, zero past N.
std::vector<float> stripsOf(const std::vector<float> &w, int64_t K,
                            int64_t N) {
  int64_t strips = (N + 15) / 16;
  std::vector<float> out(strips * K * 16, 0.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      out[(n / 16) * K * 16 + k * 16 + n % 16] = w[k * N + n];
  return out;
}

ActSparseMemRef3DF32 stripsView(std::vector<float> &s, int64_t K, int64_t N) {
  int64_t strips = (N + 15) / 16;
  return {s.data(), s.data(), 0, {strips, K, 16}, {K * 16, 16, 1}};
}

enum class Layout { RowMajor, Transposed, Panels };

/// C += A * W, with W stored [K, N], or [N, K] for the transposed-weight
/// kernel (C += A * W^T), or as strips for the prepacked one.
void checkShape(int64_t M, int64_t K, int64_t N, int threads,
                bool transposed = false, Layout layout = Layout::RowMajor) {
  if (transposed)
    layout = Layout::Transposed;
  setNumThreads(threads);
  std::mt19937 rng(transposed ? M * 17 + K * 3 + N : M * 131 + K * 7 + N);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(M * K), w(K * N), c(M * N);
  for (float &x : a) x = dist(rng);
  for (float &x : w) x = dist(rng);
  for (float &x : c) x = dist(rng); // the kernel accumulates into C
  auto weight = [&](int64_t k, int64_t n) {
    return transposed ? w[n * K + k] : w[k * N + n];
  };
  std::vector<float> expect = c;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = expect[m * N + n];
      for (int64_t k = 0; k < K; ++k)
        s += double(a[m * K + k]) * weight(k, n);
      expect[m * N + n] = float(s);
    }
  std::vector<float> strips = stripsOf(w, K, N);
  auto av = view(a, M, K, K);
  // C (+)= A W by the kernel under test, or its "set" variant.
  auto multiply = [&](std::vector<float> &out, bool accumulate) {
    auto cv = view(out, M, N, N);
    if (layout == Layout::Panels) {
      auto sv = stripsView(strips, K, N);
      (accumulate ? _mlir_ciface_actsparse_rt_matmul_panels_f32
                  : _mlir_ciface_actsparse_rt_matmul_panels_set_f32)(&av, &sv,
                                                                     &cv);
    } else if (transposed) {
      auto wv = view(w, N, K, K);
      (accumulate ? _mlir_ciface_actsparse_rt_matmul_nt_f32
                  : _mlir_ciface_actsparse_rt_matmul_nt_set_f32)(&av, &wv, &cv);
    } else {
      auto wv = view(w, K, N, N);
      (accumulate ? _mlir_ciface_actsparse_rt_matmul_f32
                  : _mlir_ciface_actsparse_rt_matmul_set_f32)(&av, &wv, &cv);
    }
  };
  multiply(c, /*accumulate=*/true);
  for (int64_t i = 0; i < M * N; ++i)
    ASSERT_NEAR(c[i], expect[i], 1e-4 * (1 + std::fabs(expect[i])))
        << "M=" << M << " K=" << K << " N=" << N << " at " << i;

  // The set variant never reads C (NaN here) and gives the bits of the
  // accumulating kernel on a zeroed C, which are A W.
  std::vector<float> zeroed(M * N, 0.0f), set(M * N, std::nanf(""));
  multiply(zeroed, /*accumulate=*/true);
  multiply(set, /*accumulate=*/false);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += double(a[m * K + k]) * weight(k, n);
      int64_t i = m * N + n;
      ASSERT_EQ(set[i], zeroed[i])
          << "M=" << M << " K=" << K << " N=" << N << " at " << i;
      ASSERT_NEAR(set[i], s, 1e-4 * (1 + std::fabs(s)))
          << "M=" << M << " K=" << K << " N=" << N << " at " << i;
    }
}

TEST(MatMulKernel, DecodeRow) { checkShape(1, 1024, 2816, 2); }
TEST(MatMulKernel, PrefillRowsNotMultipleOf4) { checkShape(7, 300, 515, 2); }
TEST(MatMulKernel, SmallSingleThreaded) { checkShape(3, 5, 9, 1); }
TEST(MatMulKernel, MoreThreadsThanColumnSlices) { checkShape(2, 64, 20, 8); }
TEST(MatMulKernel, EmptyRows) { checkShape(0, 16, 16, 2); }

// From kGemmRows rows on, both layouts take the blocked GEMM: every tile
// height (1-6 rows left over), every panel edge (columns 1, 15, 16, 17 past
// a panel; depth 1, 256 and 257 around a panel's depth), one and two
// threads.
TEST(MatMulKernel, PrefillGemmEveryTileAndPanelEdge) {
  for (bool transposed : {false, true})
    for (int64_t M : {4, 5, 6, 7, 12, 13})
      for (int64_t K : {1, 7, 256, 257, 600})
        for (int64_t N : {1, 15, 16, 17, 40})
          checkShape(M, K, N, N == 40 ? 2 : 1, transposed);
}

TEST(MatMulKernel, PrefillGemmPooled) {
  checkShape(64, 576, 1536, 2);
  checkShape(64, 1536, 576, 2);
  checkShape(37, 576, 1000, 2, true);
  // Wider than a block of packed columns (256), with a ragged last block.
  checkShape(9, 300, 700, 1);
  checkShape(9, 300, 700, 1, true);
}

// Prepacked weights: decode rows (stripRows), the GEMM from kGemmRows rows
// on (gemmStrips), every tile height and strip edge, columns spread over
// more threads than there are strips.
TEST(MatMulPanelsKernel, DecodeRow) {
  checkShape(1, 1024, 2816, 2, false, Layout::Panels);
}
TEST(MatMulPanelsKernel, DecodeRowsKNotMultipleOf4) {
  for (int64_t M : {1, 2, 3})
    checkShape(M, 301, 515, 2, false, Layout::Panels);
}
TEST(MatMulPanelsKernel, PrefillGemmEveryTileAndStripEdge) {
  for (int64_t M : {4, 5, 6, 7, 12, 13})
    for (int64_t K : {1, 7, 256, 257, 600})
      for (int64_t N : {1, 15, 16, 17, 40})
        checkShape(M, K, N, N == 40 ? 2 : 1, false, Layout::Panels);
}
TEST(MatMulPanelsKernel, PrefillGemmPooled) {
  checkShape(64, 576, 1536, 2, false, Layout::Panels);
  checkShape(9, 300, 700, 2, false, Layout::Panels);
}
// The AVX-512 path over prepacked strips (its micro-kernels prefetching
// their share of the next block, over several blocks and panel depths)
// gives the AVX2 path's bits.
TEST(MatMulPanelsKernel, Avx512StripsGiveTheAvx2Bits) {
  if (!gemmAvx2Available() || !gemmAvx512Available())
    GTEST_SKIP() << "needs AVX2 and AVX-512F";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (int64_t M : {4, 9, 64})
    for (int64_t K : {200, 600})
      for (int64_t N : {40, 700}) {
        std::vector<float> a(M * K), w(K * N);
        for (float &x : a) x = dist(rng);
        for (float &x : w) x = dist(rng);
        std::vector<float> strips = stripsOf(w, K, N);
        std::vector<float> avx2(M * N, 0.5f), avx512 = avx2;
        gemmStrips(a.data(), K, M, K, strips.data(), avx2.data(), N, 0, N,
                   /*accumulate=*/true, /*impl=*/2);
        gemmStrips(a.data(), K, M, K, strips.data(), avx512.data(), N, 0, N,
                   /*accumulate=*/true, /*impl=*/3);
        ASSERT_EQ(0, std::memcmp(avx2.data(), avx512.data(),
                                 avx2.size() * sizeof(float)))
            << "M=" << M << " K=" << K << " N=" << N;
      }
}
TEST(MatMulPanelsKernel, MoreThreadsThanStrips) {
  checkShape(2, 64, 20, 8, false, Layout::Panels);
  checkShape(5, 64, 20, 8, false, Layout::Panels);
}
TEST(MatMulPanelsKernel, EmptyRows) {
  checkShape(0, 16, 16, 2, false, Layout::Panels);
}

// Strips that cannot hold the product's weight (here one strip short) fail
// the call instead of being read past their end, and C is left alone.
TEST(MatMulPanelsKernel, StripsOfTheWrongShapeFailTheCall) {
  std::vector<float> a(2 * 8, 1.0f), w(8 * 33, 1.0f), c(2 * 33, 0.5f);
  std::vector<float> strips = stripsOf(w, 8, 32);
  auto av = view(a, 2, 8, 8), cv = view(c, 2, 33, 33);
  auto sv = stripsView(strips, 8, 32);
  std::string message;
  ASSERT_FALSE(takeRuntimeError(message));
  _mlir_ciface_actsparse_rt_matmul_panels_f32(&av, &sv, &cv);
  ASSERT_TRUE(takeRuntimeError(message));
  EXPECT_NE(message.find("[2, 8, 16]"), std::string::npos) << message;
  EXPECT_NE(message.find("[8, 33]"), std::string::npos) << message;
  for (float x : c)
    ASSERT_EQ(x, 0.5f);
}

// Operands the fast paths do not take (a strided activation view, strips
// with room between them) go through the scalar fallback, worked by hand.
TEST(MatMulPanelsKernel, StridedOperandsUseTheFallback) {
  setNumThreads(2);
  // A [2, 3] read with a column stride of 2; W [3, 2] = {{1, 2}, {3, 4},
  // {5, 6}} as one strip of 16 columns, 20 floats apart per row.
  std::vector<float> abuf = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0};
  std::vector<float> strips(3 * 20, -100.0f);
  const float w[3][2] = {{1, 2}, {3, 4}, {5, 6}};
  for (int k = 0; k < 3; ++k)
    for (int n = 0; n < 16; ++n)
      strips[k * 20 + n] = n < 2 ? w[k][n] : 0.0f;
  std::vector<float> c(4, 1.0f);
  ActSparseMemRef2DF32 av{abuf.data(), abuf.data(), 0, {2, 3}, {6, 2}};
  ActSparseMemRef3DF32 sv{strips.data(), strips.data(), 0, {1, 3, 16},
                          {60, 20, 1}};
  auto cv = view(c, 2, 2, 2);
  _mlir_ciface_actsparse_rt_matmul_panels_f32(&av, &sv, &cv);
  // [1 2 3] W = [22 28], [4 5 6] W = [49 64], each plus C's 1.
  EXPECT_EQ(c, (std::vector<float>{23, 29, 50, 65}));
  // The set variant, on a C of NaNs, through the same fallback.
  std::fill(c.begin(), c.end(), std::nanf(""));
  _mlir_ciface_actsparse_rt_matmul_panels_set_f32(&av, &sv, &cv);
  EXPECT_EQ(c, (std::vector<float>{22, 28, 49, 64}));
}

// A product over no depth sets C to zeros (the sum of nothing) on every
// path: decode rows, the GEMM, the strips; the accumulating kernels leave
// C as it was.
TEST(MatMulKernel, SetVariantsOverNoDepthWriteZeros) {
  setNumThreads(2);
  for (int64_t M : {1, 5}) {
    std::vector<float> a(1), w(1), strips(2 * 0 * 16 + 1);
    std::vector<float> c(M * 20, std::nanf(""));
    ActSparseMemRef2DF32 av{a.data(), a.data(), 0, {M, 0}, {0, 1}};
    auto cv = view(c, M, 20, 20);
    ActSparseMemRef2DF32 wv{w.data(), w.data(), 0, {0, 20}, {20, 1}};
    _mlir_ciface_actsparse_rt_matmul_set_f32(&av, &wv, &cv);
    for (float x : c)
      ASSERT_EQ(x, 0.0f) << "M=" << M;
    std::fill(c.begin(), c.end(), std::nanf(""));
    ActSparseMemRef2DF32 wtv{w.data(), w.data(), 0, {20, 0}, {0, 1}};
    _mlir_ciface_actsparse_rt_matmul_nt_set_f32(&av, &wtv, &cv);
    for (float x : c)
      ASSERT_EQ(x, 0.0f) << "M=" << M;
    std::fill(c.begin(), c.end(), std::nanf(""));
    ActSparseMemRef3DF32 sv{strips.data(), strips.data(), 0, {2, 0, 16},
                            {0, 16, 1}};
    _mlir_ciface_actsparse_rt_matmul_panels_set_f32(&av, &sv, &cv);
    for (float x : c)
      ASSERT_EQ(x, 0.0f) << "M=" << M;
    std::fill(c.begin(), c.end(), 2.5f);
    _mlir_ciface_actsparse_rt_matmul_panels_f32(&av, &sv, &cv);
    for (float x : c)
      ASSERT_EQ(x, 2.5f) << "M=" << M;
  }
}

// The loader's packing writes exactly the documented layout, from rows
// further apart than N, with zeros past N.
TEST(PanelStrips, PackingWritesTheDocumentedLayout) {
  for (int64_t N : {1, 16, 33})
    for (int64_t K : {1, 31, 33, 70}) {
      int64_t ld = N + 3;
      std::vector<float> rows(K * ld), dense(K * N);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < ld; ++n)
          rows[k * ld + n] = n < N ? float(k * 1000 + n + 1) : -1.0f;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n)
          dense[k * N + n] = rows[k * ld + n];
      std::vector<float> expect = stripsOf(dense, K, N);
      ASSERT_EQ(panelStripFloats(K, N), int64_t(expect.size()));
      std::vector<float> got(expect.size(), 7.0f);
      packPanelStrips(rows.data(), ld, K, N, got.data());
      ASSERT_EQ(got, expect) << "K=" << K << " N=" << N;
    }
}

// stripRows, portable, AVX2 and AVX-512, against a double reference: 1-3
// rows, K not a multiple of 4 (the tail goes to the first sum), a ragged
// last strip whose columns past n1 are left alone.
TEST(StripRows, EveryKernelMatchesADoubleReference) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (int impl : {1, 2, 3}) {
    if ((impl == 2 && !gemmAvx2Available()) ||
        (impl == 3 && !gemmAvx512Available()))
      continue;
    for (int64_t M : {1, 2, 3})
      for (int64_t K : {1, 3, 4, 9, 130})
        for (int64_t N : {5, 16, 37}) {
          std::vector<float> a(M * K), w(K * N);
          for (float &x : a) x = dist(rng);
          for (float &x : w) x = dist(rng);
          std::vector<float> strips = stripsOf(w, K, N);
          int64_t ldc = N + 4;
          std::vector<float> c(M * ldc, 0.25f), expect = c;
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              double sum = expect[m * ldc + n];
              for (int64_t k = 0; k < K; ++k)
                sum += double(a[m * K + k]) * w[k * N + n];
              expect[m * ldc + n] = float(sum);
            }
          stripRows(a.data(), K, M, K, strips.data(), c.data(), ldc, 0, N,
                    impl);
          for (int64_t i = 0; i < M * ldc; ++i)
            ASSERT_NEAR(c[i], expect[i], 1e-5 * (1 + std::fabs(expect[i])))
                << "impl=" << impl << " M=" << M << " K=" << K << " N=" << N
                << " at " << i;
        }
  }
}

// The AVX-512 strip kernel sums each lane as the AVX2 one does: the same
// bits (decode's logits do not depend on the vector width).
TEST(StripRows, Avx512GivesTheAvx2Bits) {
  if (!gemmAvx2Available() || !gemmAvx512Available())
    GTEST_SKIP() << "needs AVX2 and AVX-512F";
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (int64_t M : {1, 3})
    for (int64_t K : {5, 576, 2050})
      for (int64_t N : {7, 16, 100}) {
        std::vector<float> a(M * K), w(K * N);
        for (float &x : a) x = dist(rng);
        for (float &x : w) x = dist(rng);
        std::vector<float> strips = stripsOf(w, K, N);
        std::vector<float> avx2(M * N, 0.25f), avx512 = avx2;
        stripRows(a.data(), K, M, K, strips.data(), avx2.data(), N, 0, N, 2);
        stripRows(a.data(), K, M, K, strips.data(), avx512.data(), N, 0, N, 3);
        ASSERT_EQ(0, std::memcmp(avx2.data(), avx512.data(),
                                 avx2.size() * sizeof(float)))
            << "M=" << M << " K=" << K << " N=" << N;
      }
}

/// Random operands of a gemmPanels call: A (M rows, lda apart), two
/// panels of K rows `stride` floats apart, C (M rows, ldc apart).
struct PanelOperands {
  std::vector<float> a, panels, c;
  PanelOperands(std::mt19937 &rng, int64_t M, int64_t K, int64_t lda,
                int64_t stride, int64_t ldc)
      : a(M * lda), panels(stride + K * kPanelWidth), c(M * ldc) {
    std::uniform_real_distribution<float> dist(-1, 1);
    for (std::vector<float> *v : {&a, &panels, &c})
      for (float &x : *v)
        x = dist(rng);
  }
};

/// gemmPanels' micro-kernels, portable, AVX2 and AVX-512, on one or two
/// panels (the second `stride` floats after the first): overwrite or
/// accumulate, every tile height of both tiles (6 and 8 rows) and past
/// them, ragged widths in either panel, columns past `width` untouched.
TEST(GemmPanel, MicroKernelsMatchADoubleReference) {
  std::vector<int> impls = {1};
  if (gemmAvx2Available())
    impls.push_back(2);
  if (gemmAvx512Available())
    impls.push_back(3);
  std::mt19937 rng(7);
  const int64_t K = 100, lda = 103, ldc = 37, stride = K * kPanelWidth + 5;
  for (int impl : impls)
    for (int64_t M : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 17})
      for (int64_t width : {1, 8, 13, 16, 17, 29, 32})
        for (bool accumulate : {false, true}) {
          PanelOperands ops(rng, M, K, lda, stride, ldc);
          std::vector<float> c = ops.c;
          gemmPanels(ops.a.data(), lda, M, ops.panels.data(), stride, K,
                     c.data(), ldc, width, accumulate, impl);
          for (int64_t m = 0; m < M; ++m)
            for (int64_t j = 0; j < ldc; ++j) {
              float got = c[m * ldc + j], before = ops.c[m * ldc + j];
              if (j >= width) {
                EXPECT_EQ(got, before) << m << "," << j;
                continue;
              }
              const float *w = ops.panels.data() + j / kPanelWidth * stride +
                               j % kPanelWidth;
              double want = accumulate ? before : 0.0;
              for (int64_t k = 0; k < K; ++k)
                want += double(ops.a[m * lda + k]) * w[k * kPanelWidth];
              EXPECT_NEAR(got, want, 1e-5) << "impl " << impl << " M=" << M
                                           << " width " << width << " at "
                                           << m << "," << j;
            }
        }
}

/// The AVX-512 tile sums every element as the AVX2 tile does (one FMA per
/// k from zero, then added to C): the same bits, whichever kernel a CPU
/// picks, so a model's logits do not depend on the vector width. The
/// AVX-512 calls also prefetch (one or two panels; with K = 3, more lines
/// than iterations), which must not change a bit.
TEST(GemmPanel, Avx512TileGivesTheAvx2TilesBits) {
  if (!gemmAvx2Available() || !gemmAvx512Available())
    GTEST_SKIP() << "needs AVX2 and AVX-512F";
  std::mt19937 rng(11);
  const int64_t lda = 260, ldc = 40;
  for (int64_t K : {3, 256})
    for (int64_t M : {1, 5, 8, 13, 64})
      for (int64_t width : {7, 16, 20, 32})
        for (bool accumulate : {false, true}) {
          const int64_t stride = K * kPanelWidth + 16;
          PanelOperands ops(rng, M, K, lda, stride, ldc);
          std::vector<float> avx2 = ops.c, avx512 = ops.c;
          gemmPanels(ops.a.data(), lda, M, ops.panels.data(), stride, K,
                     avx2.data(), ldc, width, accumulate, /*impl=*/2);
          RowLines next{ops.panels.data(), stride * int64_t(sizeof(float)),
                        width > 16 ? 2 : 1, K * kPanelWidth * 4};
          gemmPanels(ops.a.data(), lda, M, ops.panels.data(), stride, K,
                     avx512.data(), ldc, width, accumulate, /*impl=*/3, next);
          ASSERT_EQ(0, std::memcmp(avx2.data(), avx512.data(),
                                   avx2.size() * sizeof(float)))
              << "K=" << K << " M=" << M << " width " << width
              << " accumulate " << accumulate;
        }
}

TEST(GemmPanel, TransposeToPanelsPacksRowsAsColumns) {
  // 17 rows of 11 weights, 13 apart: row j becomes column j % 16 of panel
  // j / 16, so row 16 starts the second panel. Blocks of 8 x 8 and the
  // rows and columns left over.
  const int64_t width = 17, ld = 13, kc = 11;
  std::vector<float> rows(width * ld), panels(2 * kPanelStride, -1.0f);
  for (size_t i = 0; i < rows.size(); ++i)
    rows[i] = float(i);
  transposeToPanels(rows.data(), ld, width, kc, panels.data());
  for (int64_t j = 0; j < width; ++j)
    for (int64_t k = 0; k < kc; ++k)
      EXPECT_EQ(panels[j / 16 * kPanelStride + k * kPanelWidth + j % 16],
                float(j * ld + k))
          << j << "," << k;
  // Past width, and past kc: untouched.
  EXPECT_EQ(panels[kPanelStride + 1], -1.0f);
  EXPECT_EQ(panels[kc * kPanelWidth], -1.0f);
}

TEST(MatMulKernel, StridedOperandsUseTheFallback) {
  setNumThreads(2);
  // W read through a column stride of 2 (every other column of a wider
  // buffer): C = A * W with W[k][n] = buf[k * 8 + 2 n].
  std::vector<float> a = {1, 2, 3}, buf(3 * 8), c(4, 0.0f);
  for (size_t i = 0; i < buf.size(); ++i)
    buf[i] = float(i);
  auto av = view(a, 1, 3, 3), wv = view(buf, 3, 4, 8, 2), cv = view(c, 1, 4, 4);
  _mlir_ciface_actsparse_rt_matmul_f32(&av, &wv, &cv);
  for (int n = 0; n < 4; ++n) {
    float expect = 1 * buf[0 * 8 + 2 * n] + 2 * buf[1 * 8 + 2 * n] +
                   3 * buf[2 * 8 + 2 * n];
    EXPECT_FLOAT_EQ(c[n], expect) << n;
  }
}

TEST(IndexOutOfRange, FirstReportIsKeptAndCleared) {
  int64_t index, size;
  EXPECT_FALSE(takeIndexOutOfRange(index, size));
  actsparse_rt_index_out_of_range(600, 512);
  actsparse_rt_index_out_of_range(700, 512);
  ASSERT_TRUE(takeIndexOutOfRange(index, size));
  EXPECT_EQ(index, 600);
  EXPECT_EQ(size, 512);
  EXPECT_FALSE(takeIndexOutOfRange(index, size));
}

} // namespace

TEST(MatMulNtKernel, DecodeRowTiedClassifier) { checkShape(1, 576, 4099, 2, true); }
TEST(MatMulNtKernel, PrefillKNotMultipleOf16) { checkShape(5, 37, 70, 2, true); }
TEST(MatMulNtKernel, SingleThreaded) { checkShape(3, 5, 9, 1, true); }
// Decode rows with K > 8 take eight columns at a time (rowDotAvx2): K with
// and without a tail past a multiple of 8, columns with and without a tail
// past a multiple of 8 (attention's grouped query rows, M = 3).
TEST(MatMulNtKernel, DecodeRowsEightColumnsAtATime) {
  for (int64_t M : {1, 2, 3})
    for (int64_t K : {9, 13, 64, 67, 130})
      for (int64_t N : {8, 17, 1000})
        checkShape(M, K, N, N == 1000 ? 2 : 1, true);
}
TEST(MatMulNtKernel, EmptyRows) { checkShape(0, 16, 16, 2, true); }

/// `rows` rows of `cols` floats uniform in [-1, 1), `ld` apart, the spare
/// floats of each row NaN (a kernel that reads them shows it).
std::vector<float> randomRows(std::mt19937 &rng, int64_t rows, int64_t cols,
                              int64_t ld) {
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(rows * ld, NAN);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      v[r * ld + i] = dist(rng);
  return v;
}

// Attention over heads of at most 8 dimensions (stories260K's are 8) takes
// a kernel of its own. Each sum must be exactly the scalar loop's, (((0 +
// a0 w0) + a1 w1) + ...) in float, whatever the column's place in a block
// of eight; weight rows with spare floats (NaN here) are read only to K.
TEST(MatMulNtKernel, ShortRowsEqualTheScalarLoopBitForBit) {
  setNumThreads(1);
  std::mt19937 rng(7);
  for (int64_t K : {1, 3, 8})
    for (int64_t ldw : {K, K + 3})
      for (int64_t M : {1, 2, 3})
        for (int64_t N : {1, 7, 8, 9, 17, 40}) {
          std::vector<float> a = randomRows(rng, M, K, K),
                             w = randomRows(rng, N, K, ldw),
                             c = randomRows(rng, M, N, N);
          std::vector<float> expect = c;
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              float sum = 0;
              for (int64_t k = 0; k < K; ++k) {
                float product = a[m * K + k] * w[n * ldw + k];
                sum = sum + product;
              }
              expect[m * N + n] += sum;
            }
          auto av = view(a, M, K, K), wv = view(w, N, K, ldw),
               cv = view(c, M, N, N);
          _mlir_ciface_actsparse_rt_matmul_nt_f32(&av, &wv, &cv);
          for (int64_t i = 0; i < M * N; ++i)
            ASSERT_EQ(c[i], expect[i])
                << "M=" << M << " K=" << K << " N=" << N << " ldw=" << ldw
                << " at " << i;
        }
}

// Attention's values over heads of at most 8 dimensions ([pos, 8] values)
// take a kernel of their own: every K % 4 tail, every width up to 8, rows
// of W and C with spare floats, which must neither leak in (NaN in W) nor
// be written (C's stay as they were).
TEST(MatMulKernel, NarrowColumnsMatchADoubleReference) {
  setNumThreads(1);
  std::mt19937 rng(11);
  for (int64_t N : {1, 5, 8})
    for (int64_t K : {1, 4, 7, 30})
      for (int64_t M : {1, 2, 3}) {
        int64_t ldw = N + 2, ldc = N + 3;
        std::vector<float> a = randomRows(rng, M, K, K),
                           w = randomRows(rng, K, N, ldw),
                           c = randomRows(rng, M, ldc, ldc);
        std::vector<float> before = c;
        auto av = view(a, M, K, K), wv = view(w, K, N, ldw),
             cv = view(c, M, N, ldc);
        _mlir_ciface_actsparse_rt_matmul_f32(&av, &wv, &cv);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t j = 0; j < ldc; ++j) {
            float got = c[m * ldc + j];
            if (j >= N) {
              ASSERT_EQ(got, before[m * ldc + j]) << "spare column " << j;
              continue;
            }
            double s = before[m * ldc + j];
            for (int64_t k = 0; k < K; ++k)
              s += double(a[m * K + k]) * w[k * ldw + j];
            ASSERT_NEAR(got, s, 1e-5 * (1 + std::fabs(s)))
                << "M=" << M << " K=" << K << " N=" << N << " at " << m
                << "," << j;
          }
      }
}

TEST(MatMulNtKernel, StridedWeightUsesTheFallback) {
  setNumThreads(1);
  // W [N=2, K=3] read with a column stride of 2: W[n][k] = buf[n * 6 + 2 k].
  std::vector<float> a = {1, 2, 3}, buf(12), c(2, 0.0f);
  for (size_t i = 0; i < buf.size(); ++i)
    buf[i] = float(i);
  auto av = view(a, 1, 3, 3), wv = view(buf, 2, 3, 6, 2), cv = view(c, 1, 2, 2);
  _mlir_ciface_actsparse_rt_matmul_nt_f32(&av, &wv, &cv);
  // Row 0: W = 0, 2, 4 -> 1*0 + 2*2 + 3*4 = 16; row 1: 6, 8, 10 -> 52.
  EXPECT_FLOAT_EQ(c[0], 16);
  EXPECT_FLOAT_EQ(c[1], 52);
}

namespace {

/// The batched kernels on [B, H, M, K] x [., ., K, N] (or [., ., N, K])
/// against a double-precision loop, with A's batch broadcast (size 1), a
/// strided W whose heads are `capacity` rows apart (an in-place KV cache
/// holding fewer rows than it has room for), and C accumulated into; then
/// the set variants against the accumulating kernels.
void checkBatched(bool transposed, int64_t M, int64_t K, int64_t N,
                  int64_t capacity) {
  setNumThreads(2);
  const int64_t B = 2, H = 3;
  std::mt19937 rng(M * 7 + K * 3 + N + transposed);
  std::uniform_real_distribution<float> dist(-1, 1);
  // A: [1, H, M, K], broadcast over B.
  std::vector<float> a(H * M * K), c(B * H * M * N);
  // W: per (b, h) a block of `capacity` rows of the row length, of which
  // the first K (or N) are the operand.
  int64_t rows = transposed ? N : K, cols = transposed ? K : N;
  std::vector<float> w(B * H * capacity * cols);
  for (float &x : a) x = dist(rng);
  for (float &x : w) x = dist(rng);
  for (float &x : c) x = dist(rng);
  std::vector<float> expect = c;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double sum = expect[((b * H + h) * M + m) * N + n];
          for (int64_t k = 0; k < K; ++k) {
            int64_t r = transposed ? n : k, q = transposed ? k : n;
            sum += double(a[(h * M + m) * K + k]) *
                   w[((b * H + h) * capacity + r) * cols + q];
          }
          expect[((b * H + h) * M + m) * N + n] = float(sum);
        }
  ActSparseMemRef4DF32 ad{a.data(), a.data(), 0, {1, H, M, K},
                          {H * M * K, M * K, K, 1}};
  ActSparseMemRef4DF32 wd{w.data(), w.data(), 0, {B, H, rows, cols},
                          {H * capacity * cols, capacity * cols, cols, 1}};
  ActSparseMemRef4DF32 cd{c.data(), c.data(), 0, {B, H, M, N},
                          {H * M * N, M * N, N, 1}};
  if (transposed)
    _mlir_ciface_actsparse_rt_batch_matmul_nt_f32(&ad, &wd, &cd);
  else
    _mlir_ciface_actsparse_rt_batch_matmul_f32(&ad, &wd, &cd);
  for (size_t i = 0; i < c.size(); ++i)
    ASSERT_NEAR(c[i], expect[i], 1e-4 * (1 + std::fabs(expect[i]))) << i;

  // The set variants (C = A W) never read C (NaN here) and give the bits
  // of the accumulating kernels on a zeroed C.
  std::vector<float> zeroed(c.size(), 0.0f), set(c.size(), std::nanf(""));
  ActSparseMemRef4DF32 zd = cd, sd = cd;
  zd.allocated = zd.aligned = zeroed.data();
  sd.allocated = sd.aligned = set.data();
  if (transposed) {
    _mlir_ciface_actsparse_rt_batch_matmul_nt_f32(&ad, &wd, &zd);
    _mlir_ciface_actsparse_rt_batch_matmul_nt_set_f32(&ad, &wd, &sd);
  } else {
    _mlir_ciface_actsparse_rt_batch_matmul_f32(&ad, &wd, &zd);
    _mlir_ciface_actsparse_rt_batch_matmul_set_f32(&ad, &wd, &sd);
  }
  for (size_t i = 0; i < c.size(); ++i)
    ASSERT_EQ(set[i], zeroed[i]) << "set variant at " << i;
}

} // namespace

TEST(BatchMatMulKernel, ScoresOverACacheWithSpareRows) {
  checkBatched(/*transposed=*/true, 2, 8, 37, 64);    // decode, head size 8
  checkBatched(/*transposed=*/true, 5, 64, 130, 256); // prefill, head size 64
}
TEST(BatchMatMulKernel, ValuesOverACacheWithSpareRows) {
  checkBatched(/*transposed=*/false, 2, 37, 8, 64);
  checkBatched(/*transposed=*/false, 5, 130, 64, 256);
}
TEST(BatchMatMulKernel, EmptyRowsAndEmptyCache) {
  checkBatched(/*transposed=*/true, 0, 8, 5, 8);
  checkBatched(/*transposed=*/false, 3, 0, 8, 8); // no past rows: C unchanged
}

// Scores far below the row's maximum (a causal mask adds -3.4e38) give +0,
// as expf does, and values just above expf's underflow still give its
// subnormal results: ten values, so both the vector body and the padded
// tail see them.
TEST(SoftmaxKernel, UnderflowingScoresGiveWhatExpfGives) {
  std::vector<float> x = {0,    -87,    -95,  -103, -103.9f, -104.5f,
                          -200, -3.4e38f, -100, -104.2f};
  const int64_t n = int64_t(x.size());
  std::vector<float> y(n, 42.0f);
  ActSparseMemRef2DF32 xd = view(x, 1, n, n), yd = view(y, 1, n, n);
  _mlir_ciface_actsparse_rt_softmax_f32(&xd, &yd);
  double sum = 0;
  for (float v : x)
    sum += std::exp(v); // the maximum is 0
  for (int64_t i = 0; i < n; ++i) {
    float e = std::exp(x[i]);
    if (x[i] < -104.0f) {
      EXPECT_EQ(e, 0.0f) << x[i]; // the premise: expf is +0 down there
      EXPECT_EQ(y[i], 0.0f) << x[i];
      EXPECT_FALSE(std::signbit(y[i])) << x[i];
      continue;
    }
    float want = float(double(e) / sum);
    EXPECT_NEAR(y[i], want, 4e-7 * want + 1.5e-45) << x[i];
    if (x[i] > -104.0f && x[i] < -103.0f) {
      EXPECT_GT(y[i], 0.0f) << x[i]; // subnormal, not flushed
    }
  }
}

TEST(SoftmaxKernel, RowsOfEveryLengthMatchADoubleReference) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-30, 30);
  for (int64_t n : {1, 7, 8, 15, 16, 17, 100, 513}) {
    const int64_t rows = 3;
    // Padded rows (stride n + 5): the kernel must keep to its n columns.
    const int64_t ld = n + 5;
    std::vector<float> x(rows * ld), y(rows * ld, 42.0f);
    for (float &v : x)
      v = dist(rng);
    // A causal mask's -inf, and a row where one value dominates.
    if (n > 1)
      x[0 * ld + n - 1] = -std::numeric_limits<float>::infinity();
    x[1 * ld + 0] = 80.0f;
    ActSparseMemRef2DF32 xd = view(x, rows, n, ld), yd = view(y, rows, n, ld);
    _mlir_ciface_actsparse_rt_softmax_f32(&xd, &yd);
    for (int64_t r = 0; r < rows; ++r) {
      double m = -INFINITY, sum = 0;
      for (int64_t i = 0; i < n; ++i)
        m = std::max<double>(m, x[r * ld + i]);
      for (int64_t i = 0; i < n; ++i)
        sum += std::exp(double(x[r * ld + i]) - m);
      for (int64_t i = 0; i < n; ++i) {
        if (std::isinf(x[r * ld + i])) {
          ASSERT_EQ(y[r * ld + i], 0.0f) << "masked, n " << n;
          continue;
        }
        double expect = std::exp(double(x[r * ld + i]) - m) / sum;
        // x - max is rounded to f32 first (as the generated code did): an
        // error of |x - max| * 2^-24 in the exponent, plus a few ulp.
        double rel = 1e-6 + std::fabs(x[r * ld + i] - m) * 0x1p-23;
        ASSERT_NEAR(y[r * ld + i], expect, rel * expect + 1e-30)
            << "n " << n << " row " << r << " col " << i;
      }
      for (int64_t i = n; i < ld; ++i)
        ASSERT_EQ(y[r * ld + i], 42.0f) << "padding written, n " << n;
    }
  }
}

// --perplexity's log-sum-exp of a logits row: a double reference, on
// lengths around the vector widths and a vocabulary's, with a dominant
// value, values far below the maximum (exp underflows in f32) and logits
// of a large magnitude.
TEST(LogSumExp, RowsOfEveryLengthMatchADoubleReference) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
  for (int64_t n : {1, 2, 7, 8, 15, 16, 17, 31, 33, 1000, 49152}) {
    std::vector<float> x(n);
    for (float &v : x)
      v = dist(rng);
    if (n > 2) {
      x[1] = 95.0f;
      x[2] = -200.0f;
    }
    double m = -INFINITY, sum = 0;
    for (float v : x)
      m = std::max<double>(m, v);
    for (float v : x)
      sum += std::exp(double(v) - m);
    double expect = m + std::log(sum);
    EXPECT_NEAR(logSumExp(x.data(), n), expect, 1e-6 * std::fabs(expect) + 1e-6)
        << "n " << n;
  }
  std::vector<float> big(100, 3000.0f);
  EXPECT_NEAR(logSumExp(big.data(), 100), 3000.0 + std::log(100.0), 1e-3);
  EXPECT_EQ(logSumExp(big.data(), 0), -INFINITY);
}

namespace {
/// What actsparse_rt_parallel_for asked of a task: its chunks, by index.
struct Chunks {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> seen;
  int64_t nestedWork = -1;
  std::vector<std::pair<int64_t, int64_t>> nested;
};

void recordChunk(void *ctx, int64_t t, int64_t parts) {
  auto *c = static_cast<Chunks *>(ctx);
  std::lock_guard<std::mutex> lock(c->mu);
  c->seen.push_back({t, parts});
}

void recordNested(void *ctx, int64_t t, int64_t parts) {
  auto *c = static_cast<Chunks *>(ctx);
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->seen.push_back({t, parts});
  }
  Chunks inner;
  actsparse_rt_parallel_for(recordChunk, &inner, c->nestedWork);
  std::lock_guard<std::mutex> lock(c->mu);
  c->nested.insert(c->nested.end(), inner.seen.begin(), inner.seen.end());
}
} // namespace

// From the minimum of work on, every chunk of the pool runs once; below
// it, the whole kernel runs once on the caller; a parallel-for inside a
// chunk (the pool runs one at a time) runs whole on its thread.
TEST(ParallelFor, ChunksFromTheMinimumOfWork) {
  setNumThreads(2);
  Chunks big;
  actsparse_rt_parallel_for(recordChunk, &big, kMinParallelKernelWork);
  std::sort(big.seen.begin(), big.seen.end());
  EXPECT_EQ(big.seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {1, 2}}));

  Chunks small;
  actsparse_rt_parallel_for(recordChunk, &small, kMinParallelKernelWork - 1);
  EXPECT_EQ(small.seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 1}}));

  Chunks outer;
  outer.nestedWork = kMinParallelKernelWork * 4;
  actsparse_rt_parallel_for(recordNested, &outer, kMinParallelKernelWork);
  std::sort(outer.seen.begin(), outer.seen.end());
  EXPECT_EQ(outer.seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {1, 2}}));
  EXPECT_EQ(outer.nested,
            (std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {0, 1}}));

  setNumThreads(1);
  Chunks one;
  actsparse_rt_parallel_for(recordChunk, &one, kMinParallelKernelWork * 4);
  EXPECT_EQ(one.seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 1}}));
  setNumThreads(2);
}
