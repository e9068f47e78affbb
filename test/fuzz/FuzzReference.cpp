//===- FuzzReference.cpp - reference files (--check-ref) ------------------===//

#include "FuzzInput.h"

#include "actsparse/runtime/Tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace actsparse::runtime;
  std::string path = actsparse::fuzz::writeInput(data, size, ".ref.txt");
  std::vector<NamedTensor> tensors;
  (void)readReferenceFile(path, tensors);
  return 0;
}
