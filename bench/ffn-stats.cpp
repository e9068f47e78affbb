//===- ffn-stats.cpp - cost of sparse-run's FFN statistics ----------------===//
//
// What FfnSparsityStats::observe costs per token, against a baseline run in
// the same process: one pass that only counts the zero neurons (the least
// any statistic must do). Neurons are 50-70 % zero, in a pattern that
// changes per token like real activations.
//
//   build/bin/ffn-stats [LAYERS NEURONS TOKENS]   (default 5 172 200000)
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/FfnStats.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace actsparse::runtime;

int main(int argc, char **argv) {
  int layers = argc > 1 ? std::atoi(argv[1]) : 5;
  int neurons = argc > 2 ? std::atoi(argv[2]) : 172;
  int tokens = argc > 3 ? std::atoi(argv[3]) : 200000;
  // 64 distinct token patterns, cycled.
  std::vector<std::vector<float>> rows(64, std::vector<float>(neurons));
  uint64_t state = 88172645463325252ull;
  for (auto &row : rows)
    for (float &v : row) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      v = (state % 100) < 60 ? 0.0f : 1.0f;
    }

  using Clock = std::chrono::steady_clock;
  auto perToken = [&](Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start)
               .count() /
           tokens;
  };
  // Baseline: count zeros only.
  volatile int64_t sink = 0;
  auto t0 = Clock::now();
  for (int t = 0; t < tokens; ++t)
    for (int l = 0; l < layers; ++l) {
      const std::vector<float> &row = rows[(t + l) % 64];
      int64_t zeros = 0;
      for (float v : row)
        zeros += v == 0.0f;
      sink = sink + zeros;
    }
  double baseline = perToken(t0);

  FfnSparsityStats stats;
  t0 = Clock::now();
  for (int t = 0; t < tokens; ++t)
    for (int l = 0; l < layers; ++l) {
      const std::vector<float> &row = rows[(t + l) % 64];
      FfnRows h{row.data(), 1, neurons, neurons}, none{row.data(), 0, 0, 0};
      stats.observe({l, none, h, none, {}});
    }
  double observed = perToken(t0);
  std::printf("%d layers x %d neurons, %d tokens: statistics %.3f us/token, "
              "zero count only %.3f us/token (%.1fx); measured sparsity "
              "%.1f%%\n",
              layers, neurons, tokens, observed, baseline,
              baseline > 0 ? observed / baseline : 0.0,
              100 * stats.sparsity());
  return 0;
}
