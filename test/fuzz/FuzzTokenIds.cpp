//===- FuzzTokenIds.cpp - token-id lists (token files, --input-ids) -------===//

#include "actsparse/runtime/Tokenizer.h"

#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  std::vector<int> ids;
  std::string error;
  bool ok = actsparse::runtime::parseTokenIds(text, ids, error);
  for (int id : ids)
    if (id < 0)
      std::abort();
  if (!ok && error.empty())
    std::abort();
  return 0;
}
