//===- FfnStatsTest.cpp - FFN sparsity and window statistics --------------===//
//
// Expected figures are worked by hand from the active sets in the comments.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Abi.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace actsparse::runtime;

namespace {

/// Rows of `neurons` values, non-zero exactly for the active neurons (with
/// both signs: a neuron is active when its value is not 0).
std::vector<float> rowsOf(const std::vector<std::set<int>> &active,
                          int neurons) {
  std::vector<float> rows;
  for (const auto &set : active)
    for (int i = 0; i < neurons; ++i)
      rows.push_back(set.count(i) ? (i % 2 ? -0.5f : 2.0f) : 0.0f);
  return rows;
}

void feed(FfnSparsityStats &stats, int64_t layer,
          const std::vector<float> &rows, int64_t count, int neurons) {
  FfnRows h{rows.data(), count, neurons, neurons};
  FfnRows none{rows.data(), 0, 0, 0};
  stats.observe({layer, none, h, none, {}});
}

// Four neurons, four tokens:
//   t0 {0,1}  t1 {1,2}  t2 {0,3}  t3 {1,2}
const std::vector<std::set<int>> kTokens = {{0, 1}, {1, 2}, {0, 3}, {1, 2}};

void expectHandWorkedFigures(const FfnSparsityStats &stats) {
  // Two of four neurons are 0 for every token.
  EXPECT_DOUBLE_EQ(stats.sparsity(), 0.5);
  // k = 1: t1 brings {2} (1 of 2), t2 {0,3} (2 of 2), t3 {1,2} (2 of 2).
  EXPECT_DOUBLE_EQ(stats.newFraction(1), 5.0 / 6.0);
  // k = 2: t2 vs {0,1,2} brings {3}; t3 vs {1,2,0,3} brings nothing.
  EXPECT_DOUBLE_EQ(stats.newFraction(2), 1.0 / 4.0);
  // k = 3: t3 vs all four neurons: nothing new.
  EXPECT_DOUBLE_EQ(stats.newFraction(3), 0.0);
  // Windows of 1 token hold the 2 active neurons.
  EXPECT_DOUBLE_EQ(stats.windowDensity(1), 0.5);
  // Windows of 2 tokens ending at t1, t2, t3 hold 3, 4 and 4 neurons.
  EXPECT_DOUBLE_EQ(stats.windowDensity(2), 11.0 / 12.0);
  // Windows of 3 tokens ending at t2, t3 hold all 4.
  EXPECT_DOUBLE_EQ(stats.windowDensity(3), 1.0);
  // No window of 5 tokens fits in a 4-token sequence.
  EXPECT_DOUBLE_EQ(stats.windowDensity(5), 0.0);
}

TEST(FfnSparsityStats, HandWorkedSequenceOneTokenPerCall) {
  FfnSparsityStats stats;
  std::vector<float> rows = rowsOf(kTokens, 4);
  for (int t = 0; t < 4; ++t) {
    std::vector<float> one(rows.begin() + 4 * t, rows.begin() + 4 * t + 4);
    feed(stats, 0, one, 1, 4);
  }
  expectHandWorkedFigures(stats);
  ASSERT_EQ(stats.layers().size(), 1u);
  EXPECT_EQ(stats.layers().at(0).tokens, 4);
}

TEST(FfnSparsityStats, PrefillRowsCountAsConsecutiveTokens) {
  FfnSparsityStats stats;
  feed(stats, 0, rowsOf(kTokens, 4), 4, 4);
  expectHandWorkedFigures(stats);
}

TEST(FfnSparsityStats, NewSequenceRestartsWindows) {
  FfnSparsityStats stats;
  feed(stats, 0, rowsOf(kTokens, 4), 4, 4);
  stats.beginSequence();
  // A new sequence whose first token repeats t3's set: it has no
  // predecessor, so the k = 1 figures do not change.
  feed(stats, 0, rowsOf({{1, 2}}, 4), 1, 4);
  EXPECT_DOUBLE_EQ(stats.newFraction(1), 5.0 / 6.0);
  // Sparsity counts it: 10 zeros of 20.
  EXPECT_DOUBLE_EQ(stats.sparsity(), 0.5);
}

TEST(FfnSparsityStats, LayersAreKeptApartAndWeightedByNeurons) {
  FfnSparsityStats stats;
  feed(stats, 0, rowsOf(kTokens, 4), 4, 4);
  // Layer 1: 8 neurons, one token with one active neuron: 7 of 8 are 0.
  feed(stats, 1, rowsOf({{5}}, 8), 1, 8);
  ASSERT_EQ(stats.layers().size(), 2u);
  EXPECT_DOUBLE_EQ(stats.layers().at(1).sparsity(), 7.0 / 8.0);
  // (8 + 7) zeros of (16 + 8) values.
  EXPECT_DOUBLE_EQ(stats.sparsity(), 15.0 / 24.0);
  // Layer 1 has no second token, so k = 1 is layer 0's alone.
  EXPECT_DOUBLE_EQ(stats.newFraction(1), 5.0 / 6.0);
  std::string report = stats.report();
  EXPECT_NE(report.find("62.5% of neurons are 0 (2 layers)"), std::string::npos)
      << report;
}

TEST(FfnSparsityStats, ObserverReceivesProbeCalls) {
  FfnSparsityStats stats;
  setFfnObserver(&stats);
  std::vector<float> x(8, 1.0f), h = rowsOf({{0}, {0, 1}}, 2);
  ActSparseMemRef2DF32 xd{x.data(), x.data(), 0, {2, 4}, {4, 1}};
  ActSparseMemRef2DF32 hd{h.data(), h.data(), 0, {2, 2}, {2, 1}};
  ActSparseMemRef2DF32 rd{x.data(), x.data(), 0, {0, 4}, {4, 1}};
  _mlir_ciface_actsparse_rt_ffn_probe(3, &xd, &hd, &rd);
  setFfnObserver(nullptr);
  _mlir_ciface_actsparse_rt_ffn_probe(3, &xd, &hd, &rd); // no observer: ignored
  ASSERT_EQ(stats.layers().count(3), 1u);
  EXPECT_EQ(stats.layers().at(3).tokens, 2);
  EXPECT_DOUBLE_EQ(stats.sparsity(), 0.25);
}

} // namespace
