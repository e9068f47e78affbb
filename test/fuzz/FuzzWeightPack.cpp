//===- FuzzWeightPack.cpp - the weight-pack reader ------------------------===//
//
// WeightPack::open checks the header, the table and every entry's bounds;
// reading each tensor then checks its checksum. Nothing the header claims
// may make the reader allocate or read past what the file holds.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "actsparse/runtime/WeightPack.h"

#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace actsparse::runtime;
  std::string path = actsparse::fuzz::writeInput(data, size, ".pack");
  Status status;
  std::unique_ptr<WeightPack> pack = WeightPack::open(path, status);
  if (!pack)
    return 0;
  for (const TensorInfo &info : pack->tensors()) {
    // open() promised that every tensor lies inside the file.
    if (info.size > size || info.offset > size - info.size)
      std::abort();
    std::vector<char> buffer(info.size);
    (void)pack->read(info, buffer.data());
  }
  (void)pack->verifyData();
  return 0;
}
