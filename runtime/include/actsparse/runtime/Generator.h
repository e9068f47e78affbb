//===- Generator.h - autoregressive decoding over a compiled model -*- C++ -*-===//
//
// Drives an Executable that follows the exported-LLM convention: input
// `input_ids` (and optionally `position_ids`), output `logits`; with
// `past_key_values.N.key/value` inputs and `present.N.key/value` outputs the
// KV cache is carried between calls and only new tokens are fed, otherwise
// every step recomputes the whole prefix.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_GENERATOR_H
#define ACTSPARSE_RUNTIME_GENERATOR_H

#include "actsparse/runtime/Tensor.h"
#include "actsparse/runtime/Tokenizer.h"

#include <functional>
#include <memory>
#include <vector>

namespace actsparse::runtime {

struct GenerationOptions {
  int steps = 256;          ///< tokens to generate at most
  float temperature = 0.0f; ///< 0: greedy
  float topp = 0.9f;
  uint64_t seed = 42;
  int context = 0;          ///< positions the model supports; 0: unchecked
  /// Tokens that end generation when sampled (not printed): llama2.c's rule,
  /// BOS, by default; a chat model's end-of-turn token, say; none at all.
  std::vector<int> stopTokens = {1};
};

struct GenerationStats {
  int promptTokens = 0;
  int generatedTokens = 0;
  double prefillSeconds = 0;
  double decodeSeconds = 0;
  /// Model calls after the prompt, the allocations generated code made in
  /// them, and those the buffer pool passed on to the system's allocator.
  int decodeCalls = 0;
  uint64_t decodeAllocations = 0, decodeSystemAllocations = 0;
  long peakRssKiB = 0;
  /// Generation ended because the sequence filled the context.
  bool stoppedAtContext = false;
};

/// What score() measured.
struct ScoreResult {
  double nll = 0; ///< summed negative log-likelihood of the scored tokens
  int count = 0;  ///< tokens scored (all but the first)
  int windows = 0;
  /// The window and stride used: the whole text and 0 in one pass.
  int window = 0, stride = 0;
  int scoreFrom = 0; ///< as passed to Generator::score
};

class Generator {
public:
  /// Checks the executable's interface; errors name what is missing.
  static std::unique_ptr<Generator> create(Executable &model, Status &status);

  bool usesKvCache() const { return !pastInputs_.empty(); }
  int vocabSize() const { return vocab_; }
  /// Whether the model returns the logits of the last position only
  /// (`[batch, 1, vocab]`, --actsparse-last-position-logits): enough to
  /// generate, not to score.
  bool lastPositionLogits() const { return lastPositionOnly_; }

  /// Feeds `prompt` (which should start with BOS), then samples up to
  /// options.steps tokens, stopping early at BOS as llama2.c's run.c does.
  /// onToken(prev, token) sees every generated token.
  Status generate(const std::vector<int> &prompt,
                  const GenerationOptions &options,
                  const std::function<void(int, int)> &onToken,
                  GenerationStats &stats);

  /// Negative log-likelihood of tokens[1..] given their prefixes, summed.
  /// With `window` > 0 and more tokens than that, the text is cut into
  /// windows of `window` tokens, `stride` apart (0: window / 2), each run
  /// from an empty cache; a window scores only the tokens after the
  /// previous window's end (the first scores all of its own), so every
  /// token is scored once, with at least window - stride tokens before it
  /// (the first window's excepted). Otherwise one pass.
  ///
  /// With `scoreFrom` > 0 (llama.cpp's perplexity tool: scoreFrom =
  /// window / 2, stride = window), each window instead scores the tokens
  /// its logits at positions scoreFrom .. window - 2 predict, whatever the
  /// other windows scored, and only whole windows are run: the tokens past
  /// the last whole window are not scored.
  Status score(const std::vector<int> &tokens, int window, int stride,
               ScoreResult &result, int scoreFrom = 0);

  /// Called with the logits of every step (vocabSize() floats).
  std::function<void(const float *)> onLogits;

private:
  explicit Generator(Executable &model) : model_(model) {}
  void reset();
  /// Runs the model on `tokens` placed at positions start.., returning the
  /// logits of every fed position (of the last one with
  /// lastPositionLogits()).
  Status forward(const std::vector<int> &tokens, int start, Tensor &logits);

  /// Makes room for `rows` more positions in every in-place cache.
  void reserveCacheRows(int64_t rows);

  Executable &model_;
  int idsInput_ = -1, posInput_ = -1, maskInput_ = -1, logitsOutput_ = -1,
      vocab_ = 0;
  bool lastPositionOnly_ = false;
  std::vector<int> pastInputs_, presentOutputs_;
  std::vector<Tensor> past_;
  /// With in-place caches (Executable::cacheSpecs()): one buffer per
  /// cache, `capacity_` rows along its axis, of which `cachedRows_` hold
  /// past positions. The model appends to them; nothing is copied per step.
  bool inPlace_ = false;
  std::vector<Tensor> cacheBuffers_;
  std::vector<CacheView> cacheViews_; ///< of cacheBuffers_, kept across steps
  int64_t capacity_ = 0, cachedRows_ = 0;
  /// The capacity to start with (the model's context when known).
  int64_t initialCapacity_ = 0;
};

/// Peak resident set size of this process, in KiB.
long peakRssKiB();

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_GENERATOR_H
