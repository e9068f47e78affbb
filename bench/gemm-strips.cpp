//===- gemm-strips.cpp - the prefill GEMM's speed on prepacked weights ----===//
//
// Times the products every f32 projection runs on weights laid out as
// strips (runtime/Gemm.h), on one thread: ROWS activation rows times
// MATRICES distinct [K, N] weights, so that with enough of them the weights
// stream from memory as in a model, and with one they stay in cache. From
// kGemmRows rows on that is prefill's blocked GEMM (gemmStrips), below it
// decode's strip kernel (stripRows). Prints GFLOP/s and the weights' GB/s
// (best of five passes) for each kernel this CPU has: AVX2 and, with
// AVX-512F, the 512-bit one.
//
//   gemm-strips K N MATRICES [ROWS]   e.g. 576 1536 150 64 (SmolLM2's up)
//   gemm-strips 576 1536 150 1        decode
//
//===----------------------------------------------------------------------===//

#include "Gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace actsparse::runtime;

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: gemm-strips K N MATRICES [ROWS]\n");
    return 2;
  }
  const int64_t K = std::atoll(argv[1]), N = std::atoll(argv[2]),
                count = std::atoll(argv[3]),
                M = argc > 4 ? std::atoll(argv[4]) : 64;
  if (K <= 0 || N <= 0 || count <= 0 || M <= 0) {
    std::fprintf(stderr, "gemm-strips: K, N, MATRICES and ROWS must be > 0\n");
    return 2;
  }
  const int64_t floats = panelStripFloats(K, N);
  std::vector<float> strips(floats * count), a(M * K), c(M * N);
  for (size_t i = 0; i < strips.size(); ++i)
    strips[i] = float(i % 97) / 97.0f - 0.5f;
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = float(i % 89) / 89.0f - 0.5f;
  std::vector<std::pair<int, const char *>> kernels = {{2, "AVX2"}};
  if (!gemmAvx2Available())
    kernels = {{1, "portable"}};
  if (gemmAvx512Available())
    kernels.push_back({3, "AVX-512"});
  std::printf("%lld x %lld x %lld, %lld matrices (%.1f MB of weights), %s, "
              "1 thread\n",
              static_cast<long long>(M), static_cast<long long>(K),
              static_cast<long long>(N), static_cast<long long>(count),
              4.0 * floats * count / 1e6,
              M >= kGemmRows ? "gemmStrips" : "stripRows");
  for (auto [impl, name] : kernels) {
    double best = 0;
    for (int pass = 0; pass < 5; ++pass) {
      auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < count; ++i) {
        const float *w = strips.data() + i * floats;
        if (M >= kGemmRows)
          gemmStrips(a.data(), K, M, K, w, c.data(), N, 0, N,
                     /*accumulate=*/false, impl);
        else
          stripRows(a.data(), K, M, K, w, c.data(), N, 0, N, impl);
      }
      double s = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
      best = std::max(best, 1.0 / s);
    }
    std::printf("%-8s %6.1f GFLOP/s %6.1f GB/s\n", name,
                2.0 * M * K * N * count * best / 1e9,
                4.0 * floats * count * best / 1e9);
  }
  return 0;
}
