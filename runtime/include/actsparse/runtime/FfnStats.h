//===- FfnStats.h - what lowered FFN blocks compute, observed ---*- C++ -*-===//
//
// Every lowered actsparse.ffn calls the runtime's FFN probe (Abi.h) with its
// input rows and its neuron rows. An FfnObserver installed here receives
// them: sparse-run counts zero neurons with FfnSparsityStats, calibration
// records block inputs.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_FFNSTATS_H
#define ACTSPARSE_RUNTIME_FFNSTATS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace actsparse::runtime {

/// Row-major rows of one FFN call: `rows` tokens in sequence order.
struct FfnRows {
  const float *data;
  int64_t rows, cols, rowStride;
  const float *row(int64_t r) const { return data + r * rowStride; }
};

/// What one call of a lowered FFN block reports.
struct FfnProbe {
  int64_t layer;    ///< the block's `layer` attribute (-1 if it had none)
  FfnRows input;    ///< the block's input rows x [T, D]
  FfnRows neurons;  ///< its neuron rows h [T, H], what the down projection reads
  /// The residual stream the block's output is added to [T, E]; 0 rows when
  /// the block's result is not added to anything.
  FfnRows residual;

  /// What the sparse kernel did (actsparse.sparse_ffn blocks only).
  struct Sparse {
    bool present = false;
    /// (token, neuron) pairs the predictor let through (all of them
    /// without a low-rank predictor), and those whose up row and down
    /// column were used.
    int64_t predicted = 0, computed = 0;
    /// FFN weight and predictor bytes read for these tokens, and what the
    /// dense block reads for them.
    int64_t bytesRead = 0, denseBytes = 0;
    /// With setCheckPredictor(true): (token, neuron) pairs active in the
    /// exact block, and those of them that were also computed; -1 without.
    int64_t exactActive = -1, truePositive = -1;
  } sparse;
};

class FfnObserver {
public:
  virtual ~FfnObserver() = default;
  virtual void observe(const FfnProbe &probe) = 0;
};

/// Installs the observer every probe forwards to (nullptr: none). Not
/// thread-safe against running models; set it between calls.
void setFfnObserver(FfnObserver *observer);
/// The installed observer, or null.
FfnObserver *ffnObserver();

/// Makes sparse FFN blocks with a predictor also compute the exact block
/// (every neuron), so that observers learn the predictor's recall and
/// precision (FfnProbe::Sparse). Costs a dense block per call.
void setCheckPredictor(bool check);
bool checkPredictor();

/// Sparse FFN calls with at least `rows` tokens compute the whole block
/// with the dense kernels on the bundles, exactly, whatever the predictor;
/// 0: never (every call skips rows as decode does); negative: the default,
/// 8 for blocks without a predictor and never for the others.
void setSparseDenseRows(int64_t rows);

/// Per-layer FFN sparsity (the fraction of neurons exactly 0) and the
/// figures windowing relies on, for one token sequence at a time.
///
/// For window size k = 1..kMaxWindow:
///   - newFraction(k): of the neurons active (non-zero) for a token, the
///     fraction that was not active in any of the previous k tokens: what a
///     window of k tokens must still load;
///   - windowDensity(k): the fraction of neurons active in at least one of
///     k consecutive tokens: what a window of k tokens keeps resident.
/// Tokens without k predecessors in the sequence are not counted for k.
class FfnSparsityStats : public FfnObserver {
public:
  static constexpr int kMaxWindow = 8;

  void observe(const FfnProbe &probe) override;
  /// The next observed token starts a new sequence (windows restart).
  void beginSequence();

  struct Layer {
    int64_t neurons = 0, tokens = 0, zeros = 0;
    int64_t active[kMaxWindow + 1] = {}, fresh[kMaxWindow + 1] = {};
    int64_t windows[kMaxWindow + 1] = {}, windowActive[kMaxWindow + 1] = {};
    // Activity bitmasks of the current token and the kMaxWindow before it
    // (a ring indexed by token position), one bit per neuron.
    std::vector<uint64_t> masks;
    int64_t words = 0;
    int64_t position = 0; // tokens of the current sequence so far
    // Sparse-kernel figures (FfnProbe::Sparse), summed over calls.
    bool sparse = false;
    int64_t sparseTokens = 0, predicted = 0, computed = 0, bytesRead = 0,
            denseBytes = 0;
    int64_t checkedPredicted = 0, exactActive = 0, truePositive = 0;

    double sparsity() const {
      return tokens ? double(zeros) / (double(tokens) * neurons) : 0.0;
    }
  };

  const std::map<int64_t, Layer> &layers() const { return layers_; }
  /// Over all layers, weighted by neurons x tokens.
  double sparsity() const;
  double newFraction(int k) const;
  double windowDensity(int k) const;

  /// The human-readable report sparse-run prints.
  std::string report() const;
  /// The same figures as a JSON object.
  std::string json() const;

private:
  std::map<int64_t, Layer> layers_;
  std::vector<uint64_t> scratch_; // union of recent tokens, reused
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_FFNSTATS_H
