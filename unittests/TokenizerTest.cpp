//===- TokenizerTest.cpp - llama2.c tokenizer rules -----------------------===//
//
// Expected token ids come from the stories260K model itself: greedy decoding
// from BOS (test/Import/Inputs/llama-greedy.txt, computed by PyTorch) begins
// "Once upon a time," as tokens 403 407 261 378 432, so BPE-encoding that text
// must give those ids, and decoding them must give the text back.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Tokenizer.h"

#include <gtest/gtest.h>

using namespace actsparse::runtime;

namespace {

class Stories260KTokenizer : public ::testing::Test {
protected:
  void SetUp() override {
    Status s = tok.load(ACTSPARSE_SOURCE_DIR "/models/stories260K/tok512.bin",
                        512);
    ASSERT_TRUE(s) << s.message();
  }
  Llama2cTokenizer tok;
};

TEST_F(Stories260KTokenizer, EncodesLikeTheModelGenerates) {
  EXPECT_EQ(tok.encode("Once upon a time,", /*bos=*/true),
            (std::vector<int>{1, 403, 407, 261, 378, 432}));
}

TEST_F(Stories260KTokenizer, DecodeStripsTheSpaceAfterBos) {
  std::string text;
  std::vector<int> ids = {1, 403, 407, 261, 378, 432};
  for (size_t i = 1; i < ids.size(); ++i)
    text += tok.decode(ids[i - 1], ids[i]);
  EXPECT_EQ(text, "Once upon a time,");
}

TEST_F(Stories260KTokenizer, RawBytesDecodeToThemselves) {
  // Token 3 + b is the byte fallback <0xbb>.
  EXPECT_EQ(tok.decode(5, 3 + 'A'), "A");
  EXPECT_EQ(tok.decode(5, 3 + 10), "\n");
}

TEST_F(Stories260KTokenizer, MissingFileIsAnError) {
  Llama2cTokenizer t;
  EXPECT_NE(t.load("/nonexistent/tok.bin", 512).message().find(
                "cannot open tokenizer"),
            std::string::npos);
}

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(0.0f, 0.9f, 1);
  float logits[] = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_EQ(s.sample(logits, 4), 1);
}

TEST(Sampler, SameSeedSameSamples) {
  float logits[] = {1.0f, 1.1f, 0.9f, 1.05f, 0.2f};
  Sampler a(1.0f, 0.9f, 1234), b(1.0f, 0.9f, 1234);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(a.sample(logits, 5), b.sample(logits, 5));
}

TEST(Sampler, TopPNeverPicksTheTail) {
  // Token 4 has probability ~1e-9: outside any top-p set below 1.
  float logits[] = {5.0f, 5.0f, 5.0f, 5.0f, -15.0f};
  Sampler s(1.0f, 0.9f, 7);
  for (int i = 0; i < 200; ++i)
    EXPECT_NE(s.sample(logits, 5), 4);
}

} // namespace

//===----------------------------------------------------------------------===//
// SentencePiece: a tiny model trained here on the reference story
//===----------------------------------------------------------------------===//

#include <cstdio>
#include <fstream>
#include <sentencepiece_trainer.h>
#include <unistd.h>

namespace {

class SentencePieceModel : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/actsparse-spm-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    // The training text: the story lines of the greedy reference.
    std::ifstream in(ACTSPARSE_SOURCE_DIR
                     "/test/Import/Inputs/llama-greedy.txt");
    std::ofstream out(dir + "/text.txt");
    std::string line;
    int n = 0;
    while (std::getline(in, line))
      if (n++ >= 2)
        out << line << "\n";
    out.close();
    auto s = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + dir + "/text.txt --model_prefix=" + dir +
        "/spm --vocab_size=400 --model_type=bpe --byte_fallback=true "
        "--hard_vocab_limit=false --minloglevel=2");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  static void TearDownTestSuite() {
    for (const char *f : {"/text.txt", "/spm.model", "/spm.vocab"})
      std::remove((dir + f).c_str());
    rmdir(dir.c_str());
  }
  static std::string dir;
};
std::string SentencePieceModel::dir;

TEST_F(SentencePieceModel, RoundTripThroughDecodePieces) {
  Status s;
  std::string path = dir + "/spm.model";
  // The vocabulary size comes from the model itself here.
  auto probe = Tokenizer::open(path, -1, s);
  ASSERT_FALSE(probe); // wrong size is an error naming both sizes
  EXPECT_NE(s.message().find("tokens but the model has -1"), std::string::npos);
  int vocab = std::stoi(s.message().substr(s.message().find("' has ") + 6));
  auto tok = Tokenizer::open(path, vocab, s);
  ASSERT_TRUE(tok) << s.message();
  std::string text = "Lily saw a big, red ball in the park. Zebra!";
  std::vector<int> ids = tok->encode(text, /*bos=*/true);
  ASSERT_GT(ids.size(), 2u);
  EXPECT_EQ(ids[0], Tokenizer::kBos);
  std::string back;
  for (size_t i = 1; i < ids.size(); ++i)
    back += tok->decode(ids[i - 1], ids[i]);
  EXPECT_EQ(back, text); // "Z" and "!" come back through byte fallback
}

TEST_F(SentencePieceModel, MissingModelIsAnError) {
  Status s;
  EXPECT_FALSE(Tokenizer::open(dir + "/missing.model", 120, s));
  EXPECT_NE(s.message().find("cannot load SentencePiece model"),
            std::string::npos);
}

} // namespace
