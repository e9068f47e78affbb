//===- FfnStats.cpp - the FFN probe and sparsity statistics ---------------===//

#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Abi.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace actsparse::runtime {
namespace {
std::atomic<FfnObserver *> observer{nullptr};

FfnRows rowsOf(const ActSparseMemRef2DF32 *m) {
  return {m->aligned + m->offset, m->sizes[0], m->sizes[1], m->strides[0]};
}
} // namespace

void setFfnObserver(FfnObserver *o) { observer.store(o); }
FfnObserver *ffnObserver() { return observer.load(); }

void FfnSparsityStats::beginSequence() {
  for (auto &[id, layer] : layers_)
    layer.position = 0;
}

void FfnSparsityStats::observe(const FfnProbe &probe) {
  const FfnRows &h = probe.neurons;
  Layer &l = layers_[probe.layer];
  if (l.neurons != h.cols) {
    l = Layer();
    l.neurons = h.cols;
    l.words = (h.cols + 63) / 64;
    l.masks.assign((kMaxWindow + 1) * l.words, 0);
  }
  if (probe.sparse.present) {
    l.sparse = true;
    l.sparseTokens += h.rows;
    l.predicted += probe.sparse.predicted;
    l.computed += probe.sparse.computed;
    l.bytesRead += probe.sparse.bytesRead;
    l.denseBytes += probe.sparse.denseBytes;
    if (probe.sparse.exactActive >= 0) {
      l.checkedPredicted += probe.sparse.predicted;
      l.exactActive += probe.sparse.exactActive;
      l.truePositive += probe.sparse.truePositive;
    }
  }
  const int64_t words = l.words;
  auto maskOf = [&](int64_t position) {
    return l.masks.data() + (position % (kMaxWindow + 1)) * words;
  };
  for (int64_t r = 0; r < h.rows; ++r) {
    const float *row = h.row(r);
    int64_t t = l.position++;
    // This token's activity as bits, 64 neurons per word.
    uint64_t *now = maskOf(t);
    int64_t activeCount = 0;
    for (int64_t w = 0; w < words; ++w) {
      uint64_t bits = 0;
      int64_t base = w * 64, n = std::min<int64_t>(64, h.cols - base);
      for (int64_t b = 0; b < n; ++b)
        bits |= uint64_t(row[base + b] != 0.0f) << b;
      now[w] = bits;
      activeCount += __builtin_popcountll(bits);
    }
    ++l.tokens;
    l.zeros += h.cols - activeCount;
    // Grow the union of the previous tokens one token at a time: after k
    // steps `before` holds the neurons active in the k tokens before this
    // one. Neurons active now but not in `before` are new for window k;
    // `now | before` (k - 1 steps) is what a window of k tokens holds.
    int64_t previous = std::min<int64_t>(t, kMaxWindow);
    std::vector<uint64_t> &before = scratch_;
    before.assign(words, 0);
    for (int k = 1; k <= kMaxWindow; ++k) {
      if (t + 1 >= k) { // a full window of k tokens ends here
        int64_t inWindow = 0;
        for (int64_t w = 0; w < words; ++w)
          inWindow += __builtin_popcountll(now[w] | before[w]);
        l.windows[k] += 1;
        l.windowActive[k] += inWindow;
      }
      if (k > previous)
        continue;
      const uint64_t *older = maskOf(t - k);
      int64_t fresh = 0;
      for (int64_t w = 0; w < words; ++w) {
        before[w] |= older[w];
        fresh += __builtin_popcountll(now[w] & ~before[w]);
      }
      // k previous tokens to compare against
      l.active[k] += activeCount;
      l.fresh[k] += fresh;
    }
  }
}

double FfnSparsityStats::sparsity() const {
  double zeros = 0, total = 0;
  for (const auto &[id, l] : layers_) {
    zeros += l.zeros;
    total += double(l.tokens) * l.neurons;
  }
  return total ? zeros / total : 0.0;
}

double FfnSparsityStats::newFraction(int k) const {
  double fresh = 0, active = 0;
  for (const auto &[id, l] : layers_) {
    fresh += l.fresh[k];
    active += l.active[k];
  }
  return active ? fresh / active : 0.0;
}

double FfnSparsityStats::windowDensity(int k) const {
  double inWindow = 0, total = 0;
  for (const auto &[id, l] : layers_) {
    inWindow += l.windowActive[k];
    total += double(l.windows[k]) * l.neurons;
  }
  return total ? inWindow / total : 0.0;
}

std::string FfnSparsityStats::report() const {
  std::string out;
  char buf[160];
  std::snprintf(buf, sizeof buf, "ffn sparsity: %.1f%% of neurons are 0 "
                "(%zu layers)\n", 100 * sparsity(), layers_.size());
  out += buf;
  for (const auto &[id, l] : layers_) {
    std::snprintf(buf, sizeof buf, "  layer %-3lld %6lld neurons  %5.1f%% zero  "
                  "(%lld tokens)\n", (long long)id, (long long)l.neurons,
                  100 * l.sparsity(), (long long)l.tokens);
    out += buf;
  }
  // What the sparse kernel did, for blocks it ran.
  int64_t read = 0, dense = 0, tokens = 0;
  for (const auto &[id, l] : layers_) {
    if (!l.sparse)
      continue;
    double pairs = double(std::max<int64_t>(1, l.sparseTokens)) * l.neurons;
    std::snprintf(buf, sizeof buf, "  layer %-3lld sparse: %5.1f%% predicted, "
                  "%5.1f%% computed", (long long)id, 100 * l.predicted / pairs,
                  100 * l.computed / pairs);
    out += buf;
    if (l.exactActive > 0 || l.checkedPredicted > 0) {
      std::snprintf(buf, sizeof buf, ", recall %5.1f%%, precision %5.1f%%",
                    l.exactActive ? 100.0 * l.truePositive / l.exactActive : 100.0,
                    l.checkedPredicted
                        ? 100.0 * l.truePositive / l.checkedPredicted
                        : 100.0);
      out += buf;
    }
    out += "\n";
    read += l.bytesRead;
    dense += l.denseBytes;
    tokens = std::max(tokens, l.sparseTokens);
  }
  if (dense > 0 && tokens > 0) {
    std::snprintf(buf, sizeof buf, "  ffn weight bytes read per token: %.1f KiB "
                  "(dense: %.1f KiB, %.1f%%)\n", read / 1024.0 / tokens,
                  dense / 1024.0 / tokens, 100.0 * read / dense);
    out += buf;
  }
  out += "  window k:            ";
  for (int k = 1; k <= kMaxWindow; ++k) {
    std::snprintf(buf, sizeof buf, " %6d", k);
    out += buf;
  }
  out += "\n  new active (%):      ";
  for (int k = 1; k <= kMaxWindow; ++k) {
    std::snprintf(buf, sizeof buf, " %6.1f", 100 * newFraction(k));
    out += buf;
  }
  out += "\n  active in window (%):";
  for (int k = 1; k <= kMaxWindow; ++k) {
    std::snprintf(buf, sizeof buf, " %6.1f", 100 * windowDensity(k));
    out += buf;
  }
  out += "\n";
  return out;
}

std::string FfnSparsityStats::json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto &[id, l] : layers_) {
    nlohmann::json j = {{"layer", id},
                        {"neurons", l.neurons},
                        {"tokens", l.tokens},
                        {"sparsity", l.sparsity()}};
    if (l.sparse) {
      j["predicted"] = l.predicted;
      j["computed"] = l.computed;
      j["bytes_read"] = l.bytesRead;
      j["dense_bytes"] = l.denseBytes;
      if (l.exactActive > 0 || l.checkedPredicted > 0) {
        j["exact_active"] = l.exactActive;
        j["true_positive"] = l.truePositive;
      }
    }
    layers.push_back(std::move(j));
  }
  nlohmann::json newActive = nlohmann::json::array(),
                 density = nlohmann::json::array();
  for (int k = 1; k <= kMaxWindow; ++k) {
    newActive.push_back(newFraction(k));
    density.push_back(windowDensity(k));
  }
  return nlohmann::json{{"sparsity", sparsity()},
                        {"layers", std::move(layers)},
                        {"new_active", std::move(newActive)},
                        {"window_density", std::move(density)}}
      .dump();
}

} // namespace actsparse::runtime

extern "C" void _mlir_ciface_actsparse_rt_ffn_probe(int64_t layer,
                                                    ActSparseMemRef2DF32 *x,
                                                    ActSparseMemRef2DF32 *h,
                                                    ActSparseMemRef2DF32 *r) {
  using namespace actsparse::runtime;
  if (FfnObserver *o = observer.load())
    o->observe({layer, rowsOf(x), rowsOf(h), rowsOf(r), {}});
}
