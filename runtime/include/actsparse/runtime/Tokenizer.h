//===- Tokenizer.h - tokenizers and the sampler ------------------*- C++ -*-===//
//
// Two tokenizers behind one interface: llama2.c's BPE (`tokenizer.bin`:
// int32 max_token_length, then per token a float32 score, an int32 length
// and the bytes) with run.c's encode and decode rules, so generated text
// matches llama2.c's; and SentencePiece `.model` files through Debian's
// libsentencepiece.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_TOKENIZER_H
#define ACTSPARSE_RUNTIME_TOKENIZER_H

#include "actsparse/runtime/WeightPack.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace actsparse::runtime {

class Tokenizer {
public:
  static constexpr int kBos = 1, kEos = 2;
  virtual ~Tokenizer() = default;

  /// Opens `path`: a SentencePiece model when it ends in `.model`, a Hugging
  /// Face byte-level BPE `tokenizer.json` when it ends in `.json`
  /// (HfTokenizer.h), a llama2.c tokenizer otherwise; checks it against the
  /// model's vocabulary.
  static std::unique_ptr<Tokenizer> open(const std::string &path,
                                         int vocabSize, Status &status);

  virtual int vocabSize() const = 0;
  /// Token ids of `text`, after BOS when `bos` is set.
  virtual std::vector<int> encode(const std::string &text, bool bos) const = 0;
  /// The text of `token` when it follows `prev`.
  virtual std::string decode(int prev, int token) const = 0;
};

class Llama2cTokenizer : public Tokenizer {
public:
  Status load(const std::string &path, int vocabSize);
  int vocabSize() const override { return (int)pieces_.size(); }

  /// run.c's encode(): optional BOS, a dummy-prefix space when the text is
  /// not empty, code points (or byte fallbacks), then greedy BPE merges by
  /// score.
  std::vector<int> encode(const std::string &text, bool bos) const override;
  /// run.c's decode(): the piece of `token` following `prev`.
  std::string decode(int prev, int token) const override;

private:
  int lookup(const std::string &s) const;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> index_;
};

/// Parses token ids written as decimal integers separated by whitespace or
/// commas (token files, --input-ids). Each id must be in [0, 2^31 - 1]; on
/// the first word that is not, returns false and says which in `error`.
/// Appends to `ids`; an empty text adds nothing and succeeds.
bool parseTokenIds(const std::string &text, std::vector<int> &ids,
                   std::string &error);

/// Samples the next token as run.c does: argmax at temperature 0, otherwise
/// softmax(logits / temperature) with optional top-p, from an xorshift RNG.
class Sampler {
public:
  Sampler(float temperature, float topp, uint64_t seed)
      : temperature_(temperature), topp_(topp), state_(seed ? seed : 1) {}
  int sample(const float *logits, int n);

private:
  float randomF32();
  float temperature_, topp_;
  uint64_t state_;
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_TOKENIZER_H
