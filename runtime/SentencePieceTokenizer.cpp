//===- SentencePieceTokenizer.cpp - SentencePiece models ------------------===//
//
// SentencePiece `.model` files through Debian's libsentencepiece, and
// Tokenizer::open, which picks the format. A library of its own
// (ActSparseText): libsentencepiece carries its own protobuf and must not
// share a process with libonnx's.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/HfTokenizer.h"
#include "actsparse/runtime/Tokenizer.h"

#include <cstdio>
#include <sentencepiece_processor.h>

namespace actsparse::runtime {

namespace {
/// SentencePiece models through libsentencepiece.
class SentencePieceTokenizer : public Tokenizer {
public:
  Status load(const std::string &path) {
    // libsentencepiece reports most errors by status, but its trie builder
    // (Darts) throws on some damaged vocabularies (found by fuzzing).
    try {
      auto s = sp_.Load(path);
      if (!s.ok())
        return Status::error("cannot load SentencePiece model '" + path +
                             "': " + s.ToString());
    } catch (const std::exception &e) {
      return Status::error("cannot load SentencePiece model '" + path +
                           "': " + e.what());
    }
    return {};
  }
  int vocabSize() const override { return sp_.GetPieceSize(); }
  std::vector<int> encode(const std::string &text, bool bos) const override {
    std::vector<int> ids;
    if (bos)
      ids.push_back(sp_.bos_id() >= 0 ? sp_.bos_id() : kBos);
    std::vector<int> body;
    sp_.Encode(text, &body).IgnoreError();
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  }
  std::string decode(int prev, int token) const override {
    if (token < 0 || token >= vocabSize() || sp_.IsControl(token))
      return "";
    if (sp_.IsByte(token)) {
      unsigned byte;
      std::sscanf(sp_.IdToPiece(token).c_str(), "<0x%02X>", &byte);
      return std::string(1, char(byte));
    }
    // "\xe2\x96\x81" (U+2581) marks a word start; it is a space except at
    // the very beginning of the text.
    std::string piece = sp_.IdToPiece(token);
    std::string out;
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xe2\x96\x81") == 0) {
        if (!(i == 0 && (prev < 0 || sp_.IsControl(prev))))
          out += ' ';
        i += 3;
      } else {
        out += piece[i++];
      }
    }
    return out;
  }

private:
  sentencepiece::SentencePieceProcessor sp_;
};
} // namespace

std::unique_ptr<Tokenizer> Tokenizer::open(const std::string &path,
                                           int vocabSize, Status &status) {
  if (path.size() > 6 && path.compare(path.size() - 6, 6, ".model") == 0) {
    auto t = std::make_unique<SentencePieceTokenizer>();
    status = t->load(path);
    if (status && t->vocabSize() != vocabSize)
      status = Status::error("tokenizer '" + path + "' has " +
                             std::to_string(t->vocabSize()) +
                             " tokens but the model has " +
                             std::to_string(vocabSize));
    return status ? std::move(t) : nullptr;
  }
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    auto t = std::make_unique<HfBpeTokenizer>();
    status = t->load(path, vocabSize);
    return status ? std::move(t) : nullptr;
  }
  auto t = std::make_unique<Llama2cTokenizer>();
  status = t->load(path, vocabSize);
  return status ? std::move(t) : nullptr;
}

} // namespace actsparse::runtime
