//===- HfTokenizer.h - Hugging Face tokenizer.json (byte-level BPE) -*- C++ -*-===//
//
// Reads the `tokenizer.json` of the Hugging Face tokenizers library for
// byte-level BPE models (GPT-2 style: SmolLM2, Llama 3, Qwen) and encodes
// and decodes as that library does. Part of the ActSparseText library
// (nlohmann-json and ICU).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_HFTOKENIZER_H
#define ACTSPARSE_RUNTIME_HFTOKENIZER_H

#include "actsparse/runtime/Tokenizer.h"

#include <set>
#include <unordered_map>

namespace actsparse::runtime {

class HfBpeTokenizer : public Tokenizer {
public:
  /// Loads `path`; refuses what it does not implement (normalizers, models
  /// other than BPE, pre-tokenizers other than ByteLevel and Digits) and
  /// vocabularies larger than the model's `vocabSize`.
  Status load(const std::string &path, int vocabSize);
  int vocabSize() const override { return (int)pieces_.size(); }

  /// tokenizers' encode(text, add_special_tokens = specials): added tokens
  /// matched literally (longest first), the rest pre-tokenized and merged;
  /// `specials` adds the post-processor's tokens (SmolLM2: <|im_start|>).
  std::vector<int> encode(const std::string &text, bool specials) const override;
  /// The bytes of `token` (an added token's text as it is).
  std::string decode(int prev, int token) const override;
  /// Id of an added token or vocabulary entry, -1 when there is none.
  int tokenId(const std::string &piece) const;

  std::vector<std::string> preTokenize(const std::string &text) const;

private:
  struct Added {
    std::string content;
    int id = 0;
  };
  void bpe(const std::string &word, std::vector<int> &ids) const;

  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int> index_;
  std::unordered_map<std::string, int> ranks_; ///< "a\0b" -> merge rank
  std::vector<Added> added_;                   ///< longest first
  std::set<int> addedIds_;
  std::vector<int> prefix_, suffix_;
  std::vector<std::string> byteChars_;
  std::unordered_map<std::string, char> charBytes_;
  bool byteLevel_ = false, addPrefixSpace_ = false, useRegex_ = true,
       byteFallback_ = false;
  int splitDigits_ = 0; ///< 1: each digit alone (Digits individual_digits)
  mutable std::unordered_map<std::string, std::vector<int>> cache_;
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_HFTOKENIZER_H
