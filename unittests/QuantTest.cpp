//===- QuantTest.cpp - quantized formats and kernels ----------------------===//
//
// Block bytes are worked by hand from the formats in Quant.h; the kernels
// are checked against a double-precision product of the dequantized weights
// with the activations quantized by the documented rule (max |x| / 127 per
// block of 32, round to nearest), and against the f32 product within the
// activation quantization's bound.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace actsparse::runtime;

namespace {

const QuantKind kIntegerKinds[] = {QuantKind::Q8_0, QuantKind::Q4_0,
                                   QuantKind::Q4_1};

std::vector<uint8_t> quantize(QuantKind kind, const std::vector<float> &w) {
  std::vector<uint8_t> row(quantRowBytes(kind, w.size()));
  quantizeRow(kind, w.data(), w.size(), row.data());
  return row;
}

std::vector<float> dequantize(QuantKind kind, const std::vector<uint8_t> &row,
                              int64_t k) {
  std::vector<float> w(k);
  dequantizeRow(kind, row.data(), k, w.data());
  return w;
}

TEST(QuantFormat, SizesAndNames) {
  EXPECT_EQ(quantRowBytes(QuantKind::Q8_0, 64), 68);
  EXPECT_EQ(quantRowBytes(QuantKind::Q4_0, 64), 36);
  EXPECT_EQ(quantRowBytes(QuantKind::Q4_1, 64), 40);
  // A partial last block takes a whole block.
  EXPECT_EQ(quantRowBytes(QuantKind::Q8_0, 172), 6 * 34);
  EXPECT_EQ(quantRowBytes(QuantKind::Q4_1, 1), 20);
  EXPECT_EQ(quantRowBytes(QuantKind::F16, 64), 128);
  EXPECT_EQ(quantRowBytes(QuantKind::BF16, 33), 128);
  for (QuantKind k : kAllQuantKinds)
    EXPECT_EQ(parseQuantKind(quantKindName(k)), k);
  EXPECT_EQ(parseQuantKind("bf16"), QuantKind::BF16);
  EXPECT_FALSE(parseQuantKind("q5_0"));
}

// f16 and bf16 rows by hand: IEEE half and the top half of the f32, each
// rounded to nearest even, little-endian, the row padded with zeros.
TEST(QuantFormat, FloatKindsBytesByHand) {
  auto u16 = [](const std::vector<uint8_t> &row, int i) {
    return unsigned(row[2 * i] | row[2 * i + 1] << 8);
  };
  auto bitsToFloat = [](uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  };
  std::vector<float> w = {1.0f, -2.5f, 65504.0f, 1.0f / 1024,
                          bitsToFloat(0x3f808000), // halfway 0x3f80 / 0x3f81
                          bitsToFloat(0x3f818000), // halfway 0x3f81 / 0x3f82
                          bitsToFloat(0x3f808001), // just above halfway
                          std::nanf("")};
  std::vector<uint8_t> h = quantize(QuantKind::F16, w);
  ASSERT_EQ(h.size(), 64u);
  EXPECT_EQ(u16(h, 0), 0x3c00u);
  EXPECT_EQ(u16(h, 1), 0xc100u);
  EXPECT_EQ(u16(h, 2), 0x7bffu);
  EXPECT_EQ(u16(h, 3), 0x1400u);
  for (int i = 8; i < 32; ++i)
    EXPECT_EQ(u16(h, i), 0u) << "padding " << i;
  std::vector<uint8_t> b = quantize(QuantKind::BF16, w);
  EXPECT_EQ(u16(b, 0), 0x3f80u);
  EXPECT_EQ(u16(b, 1), 0xc020u);
  EXPECT_EQ(u16(b, 4), 0x3f80u); // ties to even
  EXPECT_EQ(u16(b, 5), 0x3f82u);
  EXPECT_EQ(u16(b, 6), 0x3f81u);
  EXPECT_EQ(u16(b, 7) & 0x7fc0u, 0x7fc0u); // a quiet NaN
  std::vector<float> back = dequantize(QuantKind::BF16, b, 4);
  EXPECT_EQ(back, (std::vector<float>{1.0f, -2.5f, 65536.0f, 1.0f / 1024}));
  EXPECT_EQ(dequantize(QuantKind::F16, h, 4),
            (std::vector<float>{1.0f, -2.5f, 65504.0f, 1.0f / 1024}));
}

TEST(QuantFormat, Q8_0BlockBytesByHand) {
  // Weights (8j - 127) / 64: the largest magnitude is 127/64, so d = 1/64,
  // f16 0x2400, and q_j = 8j - 127 exactly.
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j)
    w[j] = float(8 * j - 127) / 64.0f;
  std::vector<uint8_t> row = quantize(QuantKind::Q8_0, w);
  ASSERT_EQ(row.size(), 34u);
  EXPECT_EQ(row[0], 0x00);
  EXPECT_EQ(row[1], 0x24);
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(int8_t(row[2 + j]), 8 * j - 127) << j;
  EXPECT_EQ(dequantize(QuantKind::Q8_0, row, 32), w);
}

TEST(QuantFormat, Q4_0BlockBytesByHand) {
  // Weights 0.25 (q - 8) with q = j mod 16: the largest magnitude is -2,
  // so d = -2 / -8 = 0.25 (f16 0x3400); byte j holds q_j | q_{j+16} << 4.
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j)
    w[j] = 0.25f * float(j % 16 - 8);
  std::vector<uint8_t> row = quantize(QuantKind::Q4_0, w);
  ASSERT_EQ(row.size(), 18u);
  EXPECT_EQ(row[0], 0x00);
  EXPECT_EQ(row[1], 0x34);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(row[2 + j], 0x11 * j) << j;
  EXPECT_EQ(dequantize(QuantKind::Q4_0, row, 32), w);
}

TEST(QuantFormat, Q4_1BlockBytesByHand) {
  // Weights 1 + 0.5 q with q = j mod 16: minimum 1 (f16 0x3c00), step
  // (8.5 - 1) / 15 = 0.5 (f16 0x3800).
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j)
    w[j] = 1.0f + 0.5f * float(j % 16);
  std::vector<uint8_t> row = quantize(QuantKind::Q4_1, w);
  ASSERT_EQ(row.size(), 20u);
  EXPECT_EQ(row[0], 0x00);
  EXPECT_EQ(row[1], 0x38);
  EXPECT_EQ(row[2], 0x00);
  EXPECT_EQ(row[3], 0x3c);
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(row[4 + j], 0x11 * j) << j;
  EXPECT_EQ(dequantize(QuantKind::Q4_1, row, 32), w);
}

TEST(QuantFormat, RoundToNearestErrorIsBoundedByTheStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (QuantKind kind : kIntegerKinds)
    for (int64_t k : {1, 31, 32, 33, 172, 576}) {
      std::vector<float> w(k);
      for (float &f : w)
        f = dist(rng);
      std::vector<float> back = dequantize(kind, quantize(kind, w), k);
      for (int64_t b = 0; b * 32 < k; ++b) {
        float lo = 0, hi = 0, amax = 0;
        for (int64_t i = b * 32; i < std::min<int64_t>(k, b * 32 + 32); ++i) {
          lo = std::min(lo, w[i]);
          hi = std::max(hi, w[i]);
          amax = std::max(amax, std::fabs(w[i]));
        }
        // q8_0: step amax/127; q4_1: (hi - lo)/15 (padding zeros count);
        // q4_0: step amax/8, and values on the side opposite the extreme
        // may clamp at +7 steps, a whole step off.
        float step = kind == QuantKind::Q8_0   ? amax / 127
                     : kind == QuantKind::Q4_0 ? amax / 8
                                               : (hi - lo) / 15;
        float bound = (kind == QuantKind::Q4_0 ? 1.0f : 0.5f) * step * 1.01f +
                      1e-3f * amax;
        for (int64_t i = b * 32; i < std::min<int64_t>(k, b * 32 + 32); ++i)
          EXPECT_LE(std::fabs(back[i] - w[i]), bound)
              << quantKindName(kind) << " k=" << k << " i=" << i;
      }
    }
}

/// The product the kernels must compute for fewer than kQuantF32Rows rows:
/// dequantized weights times the activations quantized per block by the
/// documented rule, in double.
double referenceDot(const std::vector<float> &wrow, const float *x,
                    int64_t k) {
  double sum = 0;
  for (int64_t b = 0; b * 32 < k; ++b) {
    int64_t end = std::min<int64_t>(k, b * 32 + 32);
    float amax = 0;
    for (int64_t i = b * 32; i < end; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    float d = amax / 127.0f, inv = d ? 1.0f / d : 0.0f;
    for (int64_t i = b * 32; i < end; ++i)
      sum += double(wrow[i]) * double(d) * std::nearbyint(x[i] * inv);
  }
  return sum;
}

struct Problem {
  int64_t M, K, N;
  std::vector<float> x, y;
  std::vector<uint8_t> w;
  std::vector<std::vector<float>> wrows; // dequantized
  int64_t ldw;
};

Problem makeProblem(QuantKind kind, int64_t M, int64_t K, int64_t N,
                    unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p{M, K, N, {}, {}, {}, {}, quantRowBytes(kind, K)};
  p.x.resize(M * K);
  for (float &f : p.x)
    f = dist(rng);
  p.w.resize(N * p.ldw);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<float> row(K);
    for (float &f : row)
      f = 0.1f * dist(rng);
    quantizeRow(kind, row.data(), K, p.w.data() + n * p.ldw);
    p.wrows.push_back(dequantize(
        kind, std::vector<uint8_t>(p.w.begin() + n * p.ldw,
                                   p.w.begin() + (n + 1) * p.ldw),
        K));
  }
  p.y.assign(M * N, -1.0f);
  return p;
}

/// The rows of `p` in groups of eight (groupQuantizedRows).
std::vector<uint8_t> grouped(QuantKind kind, const Problem &p) {
  std::vector<uint8_t> groups((p.N + 7) / 8 * quantGroupBytes(kind, p.K), 0xAB);
  groupQuantizedRows(kind, p.w.data(), p.ldw, p.N, p.K, groups.data());
  return groups;
}

/// Whether `impl` quantizes the integer kinds' prefill activations.
bool vnniPrefill(int impl) {
  return impl == 3 ||
         (impl == 0 && roundedPrefill() && avx512VnniAvailable());
}

void expectMatchesReference(QuantKind kind, int impl, int64_t M, int64_t K,
                            int64_t N, bool groups = false) {
  Problem p = makeProblem(kind, M, K, N, unsigned(M * 1000 + K * 10 + N));
  if (groups)
    quantizedMatMulGrouped(kind, p.x.data(), K, M, K, grouped(kind, p).data(),
                           N, p.y.data(), N, impl);
  else
    quantizedMatMul(kind, p.x.data(), K, M, K, p.w.data(), p.ldw, N,
                    p.y.data(), N, impl);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const float *x = p.x.data() + m * K;
      double want = referenceDot(p.wrows[n], x, K);
      double scale = 0, exact = 0, xmax = 0;
      for (int64_t i = 0; i < K; ++i) {
        scale += std::fabs(p.wrows[n][i]);
        exact += double(p.wrows[n][i]) * x[i];
        xmax = std::max<double>(xmax, std::fabs(x[i]));
      }
      // The float kinds take the activations unquantized, and so does the
      // integer kinds' prefill (M >= kQuantF32Rows) but with AVX512-VNNI.
      if (isFloatKind(kind) ||
          (M >= kQuantF32Rows && !vnniPrefill(impl)))
        want = exact;
      float got = p.y[m * N + n];
      EXPECT_NEAR(got, want, 1e-5 * scale + 1e-6)
          << quantKindName(kind) << (groups ? " groups" : "") << " impl "
          << impl << " M=" << M
          << " K=" << K << " N=" << N << " at " << m << "," << n;
      // Against the unquantized activations: at most half a step each.
      EXPECT_LE(std::fabs(got - exact), scale * xmax / 127 / 2 + 1e-4);
    }
}

/// Every kind, both variants, decode and prefill sizes: blocks with
/// padding, fewer rows than a group, several groups and a partial one.
void expectEverySizeMatches(bool groups) {
  std::vector<int> impls = {1};
  if (quantAvx2Available())
    impls.push_back(2);
  if (avx512VnniAvailable() && avx512Bf16Available())
    impls.push_back(3);
  for (QuantKind kind : kAllQuantKinds) {
    if (groups && isFloatKind(kind))
      continue; // only the integer kinds are laid out in groups
    for (int impl : impls)
      for (auto [M, K, N] : {std::tuple{1, 32, 1}, {1, 1, 3}, {1, 172, 17},
                             {2, 64, 5}, {5, 576, 33}, {3, 33, 16},
                             {1, 40, 8}, {7, 40, 3}, {8, 172, 5}, {9, 33, 17},
                             {8, 300, 17}, {8, 300, 24}, {13, 600, 33},
                             {40, 100, 13}}) {
        // bf16 prefill with AVX512-BF16 rounds the activations: its own
        // test below.
        if (impl == 3 && kind == QuantKind::BF16 && M >= kQuantF32Rows)
          continue;
        expectMatchesReference(kind, impl, M, K, N, groups);
      }
  }
}

TEST(QuantKernel, EveryKindAndSizeMatchesTheReference) {
  expectEverySizeMatches(/*groups=*/false);
}

/// bf16 prefill with AVX512-BF16: the bf16 weights times the activations
/// rounded to bf16 by the documented rule (nearest even), summed in double.
void expectBf16DotMatches(int impl, int64_t M, int64_t K, int64_t N) {
  Problem p = makeProblem(QuantKind::BF16, M, K, N, unsigned(M * 7 + K + N));
  quantizedMatMul(QuantKind::BF16, p.x.data(), K, M, K, p.w.data(), p.ldw, N,
                  p.y.data(), N, impl);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double want = 0, scale = 0;
      for (int64_t i = 0; i < K; ++i) {
        // Nearest even on the top 16 bits (no NaN in the data).
        uint32_t bits;
        std::memcpy(&bits, &p.x[m * K + i], 4);
        bits = (bits + 0x7fff + (bits >> 16 & 1)) & 0xffff0000u;
        float xr;
        std::memcpy(&xr, &bits, 4);
        want += double(p.wrows[n][i]) * xr;
        scale += std::fabs(p.wrows[n][i] * xr);
      }
      EXPECT_NEAR(p.y[m * N + n], want, 1e-6 * scale + 1e-7)
          << "impl " << impl << " M=" << M << " K=" << K << " N=" << N
          << " at " << m << "," << n;
    }
}

TEST(QuantKernel, Bf16PrefillRoundsTheActivationsWithAvx512Bf16) {
  if (!avx512Bf16Available())
    GTEST_SKIP() << "this CPU has no AVX512-BF16";
  // Fewer rows than a tile and several tiles with a partial one; odd K
  // (a pair padded with zero), K past one panel depth (256) and not a
  // multiple of it; N in one partial panel, past a block of 256 columns,
  // and past the pool's threshold.
  for (int impl : {3, 0})
    for (auto [M, K, N] : {std::tuple{8, 32, 1}, {9, 33, 17}, {13, 300, 33},
                           {16, 64, 16}, {8, 576, 300}, {21, 513, 40},
                           {64, 576, 260}})
      expectBf16DotMatches(impl, M, K, N);
  // Empty products write nothing.
  std::vector<float> y(4, 3.0f);
  std::vector<uint8_t> w(quantRowBytes(QuantKind::BF16, 32) * 2, 0);
  quantizedMatMul(QuantKind::BF16, nullptr, 32, 8, 32, w.data(),
                  quantRowBytes(QuantKind::BF16, 32), 0, y.data(), 2, 3);
  EXPECT_EQ(y, std::vector<float>(4, 3.0f));
}

// sparse-run --exact-prefill: impl 0 keeps the activations in f32 in
// prefill, whatever the CPU (the reference is the unquantized product).
TEST(QuantKernel, ExactPrefillKeepsTheActivations) {
  setRoundedPrefill(false);
  for (QuantKind kind : kAllQuantKinds) {
    expectMatchesReference(kind, 0, 13, 600, 33);
    expectMatchesReference(kind, 0, 40, 100, 13);
  }
  expectMatchesReference(QuantKind::Q4_0, 0, 64, 576, 100, /*groups=*/true);
  setRoundedPrefill(true);
}

// Rows in groups of eight (groupQuantizedRows).
TEST(QuantKernel, GroupedRowsMatchTheReference) {
  expectEverySizeMatches(/*groups=*/true);
  // Past the threading threshold: slices of the pool start on groups.
  expectMatchesReference(QuantKind::Q4_0, 0, 1, 2048, 600, true);
  expectMatchesReference(QuantKind::Q8_0, 0, 64, 576, 100, true);
}

// The layout Quant.h documents, byte by byte: rows of raw bytes (each byte
// names its row and offset), grouped, then read back.
TEST(QuantGroups, LayoutIsTheDocumentedOne) {
  for (QuantKind kind : kIntegerKinds) {
    const int64_t K = 40, N = 9, blocks = 2;
    const int64_t bytes = quantBlockBytes(kind), row = quantRowBytes(kind, K);
    const int64_t head = kind == QuantKind::Q4_1 ? 4 : 2;
    std::vector<uint8_t> rows(N * row);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < row; ++i)
        rows[n * row + i] = uint8_t(n * 37 + i);
    std::vector<uint8_t> groups(2 * quantGroupBytes(kind, K), 0xAB);
    groupQuantizedRows(kind, rows.data(), row, N, K, groups.data());
    for (int64_t n = 0; n < 16; ++n)
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t *seg =
            groups.data() + n / 8 * quantGroupBytes(kind, K) + b * 8 * bytes;
        const int64_t r = n % 8;
        auto want = [&](int64_t i) {
          return n < N ? rows[n * row + b * bytes + i] : uint8_t(0);
        };
        SCOPED_TRACE(std::string(quantKindName(kind)) + " row " +
                     std::to_string(n) + " block " + std::to_string(b));
        // d of the eight rows, then (q4_1) their m, then 4-byte chunks.
        EXPECT_EQ(seg[2 * r], want(0));
        EXPECT_EQ(seg[2 * r + 1], want(1));
        if (head == 4) {
          EXPECT_EQ(seg[16 + 2 * r], want(2));
          EXPECT_EQ(seg[16 + 2 * r + 1], want(3));
        }
        for (int64_t i = head; i < bytes; ++i) {
          int64_t c = (i - head) / 4, j = (i - head) % 4;
          EXPECT_EQ(seg[8 * head + 32 * c + 4 * r + j], want(i)) << "byte " << i;
        }
      }
    // And back: any run of blocks of any row.
    for (int64_t n = 0; n < N; ++n) {
      std::vector<uint8_t> back(bytes);
      ungroupQuantizedBlocks(kind, groups.data() + n / 8 * quantGroupBytes(kind, K),
                             n % 8, 1, 1, back.data());
      EXPECT_TRUE(std::equal(back.begin(), back.end(),
                             rows.begin() + n * row + bytes))
          << quantKindName(kind) << " row " << n;
    }
  }
}

TEST(QuantKernel, LargeProductsUseThePoolAndAgree) {
  // 64 x 576 x 100 is past the threading threshold.
  expectMatchesReference(QuantKind::Q4_1, 0, 64, 576, 100);
  expectMatchesReference(QuantKind::Q8_0, 0, 1, 2048, 600);
}

TEST(QuantKernel, EmptyProductsWriteNothing) {
  std::vector<float> y(4, 3.0f);
  std::vector<uint8_t> w(34 * 2);
  float x[32] = {};
  quantizedMatMul(QuantKind::Q8_0, x, 32, 0, 32, w.data(), 34, 2, y.data(), 2);
  quantizedMatMul(QuantKind::Q8_0, x, 32, 1, 32, w.data(), 34, 0, y.data(), 2);
  EXPECT_EQ(y, std::vector<float>(4, 3.0f));
}

TEST(QuantKernel, ZeroActivationsGiveZero) {
  Problem p = makeProblem(QuantKind::Q4_1, 2, 64, 3, 1);
  std::fill(p.x.begin(), p.x.end(), 0.0f);
  quantizedMatMul(QuantKind::Q4_1, p.x.data(), 64, 2, 64, p.w.data(), p.ldw, 3,
                  p.y.data(), 3);
  EXPECT_EQ(p.y, std::vector<float>(6, 0.0f));
}

ActSparseMemRef2DF32 view(float *data, int64_t rows, int64_t cols,
                          int64_t s0, int64_t s1) {
  return {data, data, 0, {rows, cols}, {s0, s1}};
}

TEST(QuantKernel, CInterfaceReadsStridedActivations) {
  Problem p = makeProblem(QuantKind::Q8_0, 2, 64, 3, 2);
  // The activations transposed in memory: x[m][k] at t[k * 2 + m].
  std::vector<float> t(2 * 64);
  for (int64_t m = 0; m < 2; ++m)
    for (int64_t k = 0; k < 64; ++k)
      t[k * 2 + m] = p.x[m * 64 + k];
  ActSparseMemRef2DF32 x = view(t.data(), 2, 64, 1, 2);
  auto *wd = reinterpret_cast<int8_t *>(p.w.data());
  ActSparseMemRef2DI8 w{wd, wd, 0, {3, p.ldw}, {p.ldw, 1}};
  ActSparseMemRef2DF32 y = view(p.y.data(), 2, 3, 3, 1);
  _mlir_ciface_actsparse_rt_matmul_q_f32(0, &x, &w, &y);
  std::string error;
  EXPECT_FALSE(takeRuntimeError(error)) << error;
  for (int64_t m = 0; m < 2; ++m)
    for (int64_t n = 0; n < 3; ++n)
      EXPECT_NEAR(p.y[m * 3 + n], referenceDot(p.wrows[n], &p.x[m * 64], 64),
                  1e-4);
}

TEST(QuantKernel, CInterfaceRefusesAMismatchedWeight) {
  Problem p = makeProblem(QuantKind::Q4_0, 1, 64, 2, 3);
  ActSparseMemRef2DF32 x = view(p.x.data(), 1, 64, 64, 1);
  auto *wd = reinterpret_cast<int8_t *>(p.w.data());
  // q4_0 rows of 64 weights read as q8_0: 36 bytes where 68 are needed.
  ActSparseMemRef2DI8 w{wd, wd, 0, {2, p.ldw}, {p.ldw, 1}};
  ActSparseMemRef2DF32 y = view(p.y.data(), 1, 2, 2, 1);
  _mlir_ciface_actsparse_rt_matmul_q_f32(0, &x, &w, &y);
  std::string error;
  ASSERT_TRUE(takeRuntimeError(error));
  EXPECT_NE(error.find("q8_0 weight of 2 x 36 bytes does not fit 64 inputs"),
            std::string::npos)
      << error;
  EXPECT_EQ(p.y, std::vector<float>(2, 0.0f));
  _mlir_ciface_actsparse_rt_matmul_q_f32(7, &x, &w, &y);
  ASSERT_TRUE(takeRuntimeError(error));
  EXPECT_NE(error.find("unknown quantized kind 7"), std::string::npos);
}

// The C interface of the kernel on groups: [ceil(N / 8), 8 B] bytes for N
// outputs; plain rows passed to it are refused by their shape.
TEST(QuantKernel, CInterfaceOnGroups) {
  Problem p = makeProblem(QuantKind::Q4_1, 2, 64, 11, 4);
  std::vector<uint8_t> groups = grouped(QuantKind::Q4_1, p);
  ActSparseMemRef2DF32 x = view(p.x.data(), 2, 64, 64, 1);
  auto *gd = reinterpret_cast<int8_t *>(groups.data());
  const int64_t gb = quantGroupBytes(QuantKind::Q4_1, 64);
  ActSparseMemRef2DI8 w{gd, gd, 0, {2, gb}, {gb, 1}};
  ActSparseMemRef2DF32 y = view(p.y.data(), 2, 11, 11, 1);
  _mlir_ciface_actsparse_rt_matmul_q_groups_f32(2, &x, &w, &y);
  std::string error;
  EXPECT_FALSE(takeRuntimeError(error)) << error;
  for (int64_t m = 0; m < 2; ++m)
    for (int64_t n = 0; n < 11; ++n)
      EXPECT_NEAR(p.y[m * 11 + n], referenceDot(p.wrows[n], &p.x[m * 64], 64),
                  1e-4);
  auto *wd = reinterpret_cast<int8_t *>(p.w.data());
  ActSparseMemRef2DI8 plain{wd, wd, 0, {11, p.ldw}, {p.ldw, 1}};
  _mlir_ciface_actsparse_rt_matmul_q_groups_f32(2, &x, &plain, &y);
  ASSERT_TRUE(takeRuntimeError(error));
  EXPECT_NE(error.find("(grouped rows): a q4_1 weight of 11 x 40 bytes does "
                       "not fit 64 inputs and 11 outputs"),
            std::string::npos)
      << error;
  EXPECT_EQ(p.y, std::vector<float>(22, 0.0f));
}

} // namespace
