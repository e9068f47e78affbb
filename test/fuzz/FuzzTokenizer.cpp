//===- FuzzTokenizer.cpp - tokenizer files --------------------------------===//
//
// Tokenizer::open on one file format, chosen by ACTSPARSE_FUZZ_SUFFIX:
// ".bin" (llama2.c), ".json" (Hugging Face tokenizer.json), ".model"
// (SentencePiece). A tokenizer that loads must then encode and decode
// without trouble, and every id it produces must be in its vocabulary.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "actsparse/runtime/Tokenizer.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace actsparse::runtime;
  std::string path =
      actsparse::fuzz::writeInput(data, size, ACTSPARSE_FUZZ_SUFFIX);
  Status status;
  // llama2.c files do not say their vocabulary size: use stories260K's, the
  // seed's. The other formats are checked against it as an upper bound or
  // an exact size, which the fuzzer may or may not match.
  std::unique_ptr<Tokenizer> tok =
      Tokenizer::open(path, ACTSPARSE_FUZZ_VOCAB, status);
  if (!tok)
    return 0;
  for (const char *text : {"", "Once upon a time, 12345 cats!",
                           " \t\n  spaces", "caf\xc3\xa9 \xf0\x9f\x98\x80",
                           "<|im_start|>user\nhi<|im_end|>", "\xff\xfe"}) {
    std::vector<int> ids = tok->encode(text, /*bos=*/true);
    int prev = -1;
    for (int id : ids) {
      if (id < 0 || id >= tok->vocabSize())
        std::abort();
      (void)tok->decode(prev, id);
      prev = id;
    }
  }
  return 0;
}
