//===- FfnStats.cpp - the FFN probe and sparsity statistics ---------------===//

#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Abi.h"

#include <atomic>
#include <cstdio>

namespace actsparse::runtime {
namespace {
std::atomic<FfnObserver *> observer{nullptr};

FfnRows rowsOf(const ActSparseMemRef2DF32 *m) {
  return {m->aligned + m->offset, m->sizes[0], m->sizes[1], m->strides[0]};
}
} // namespace

void setFfnObserver(FfnObserver *o) { observer.store(o); }

void FfnSparsityStats::beginSequence() {
  for (auto &[id, layer] : layers_) {
    layer.position = 0;
    std::fill(layer.lastActive.begin(), layer.lastActive.end(), -1);
  }
}

void FfnSparsityStats::observe(const FfnProbe &probe) {
  const FfnRows &h = probe.neurons;
  Layer &l = layers_[probe.layer];
  if (l.neurons != h.cols) {
    l = Layer();
    l.neurons = h.cols;
    l.lastActive.assign(h.cols, -1);
  }
  for (int64_t r = 0; r < h.rows; ++r) {
    const float *row = h.row(r);
    int64_t t = l.position++;
    int64_t activeCount = 0;
    // gaps[g]: active neurons last active g tokens ago (g = kMaxWindow + 1:
    // longer ago, or never); fresh for window k are those with g > k.
    int64_t gaps[kMaxWindow + 2] = {};
    // recent[e]: neurons whose last activity (this token included) was e
    // tokens ago; a window of k tokens ending here holds those with e < k.
    int64_t recent[kMaxWindow + 1] = {};
    int64_t *last = l.lastActive.data();
    for (int64_t i = 0; i < h.cols; ++i) {
      if (row[i] != 0.0f) {
        ++activeCount;
        int64_t gap = last[i] < 0 ? kMaxWindow + 1 : t - last[i];
        ++gaps[gap > kMaxWindow ? kMaxWindow + 1 : gap];
        last[i] = t;
        ++recent[0];
      } else if (last[i] >= 0 && t - last[i] < kMaxWindow) {
        ++recent[t - last[i]];
      }
    }
    int64_t fresh[kMaxWindow + 1] = {};
    int64_t above = gaps[kMaxWindow + 1];
    for (int k = kMaxWindow; k >= 1; --k) {
      fresh[k] = above; // gap > k
      above += gaps[k];
    }
    ++l.tokens;
    l.zeros += h.cols - activeCount;
    int64_t inWindow = 0;
    for (int k = 1; k <= kMaxWindow; ++k) {
      inWindow += recent[k - 1];
      if (t + 1 >= k) { // a full window of k tokens ends here
        l.windows[k] += 1;
        l.windowActive[k] += inWindow;
      }
      if (t >= k) { // k previous tokens to compare against
        l.active[k] += activeCount;
        l.fresh[k] += fresh[k];
      }
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
  std::string out = "{\"sparsity\": ";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.6f", sparsity());
  out += buf;
  out += ", \"layers\": [";
  bool first = true;
  for (const auto &[id, l] : layers_) {
    std::snprintf(buf, sizeof buf, "%s{\"layer\": %lld, \"neurons\": %lld, "
                  "\"tokens\": %lld, \"sparsity\": %.6f}", first ? "" : ", ",
                  (long long)id, (long long)l.neurons, (long long)l.tokens,
                  l.sparsity());
    out += buf;
    first = false;
  }
  out += "], \"new_active\": [";
  for (int k = 1; k <= kMaxWindow; ++k) {
    std::snprintf(buf, sizeof buf, "%s%.6f", k > 1 ? ", " : "", newFraction(k));
    out += buf;
  }
  out += "], \"window_density\": [";
  for (int k = 1; k <= kMaxWindow; ++k) {
    std::snprintf(buf, sizeof buf, "%s%.6f", k > 1 ? ", " : "", windowDensity(k));
    out += buf;
  }
  out += "]}";
  return out;
}

} // namespace actsparse::runtime

extern "C" void _mlir_ciface_actsparse_rt_ffn_probe(int64_t layer,
                                                    ActSparseMemRef2DF32 *x,
                                                    ActSparseMemRef2DF32 *h,
                                                    ActSparseMemRef2DF32 *r) {
  using namespace actsparse::runtime;
  if (FfnObserver *o = observer.load())
    o->observe({layer, rowsOf(x), rowsOf(h), rowsOf(r)});
}
