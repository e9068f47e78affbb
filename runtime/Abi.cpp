//===- Abi.cpp - runtime functions called by generated code ---------------===//

#include "actsparse/runtime/Abi.h"

namespace {
thread_local bool gOutOfRange = false;
thread_local int64_t gIndex = 0, gSize = 0;
} // namespace

extern "C" void actsparse_rt_index_out_of_range(int64_t index, int64_t size) {
  if (gOutOfRange)
    return; // keep the first report
  gOutOfRange = true;
  gIndex = index;
  gSize = size;
}

namespace actsparse::runtime {
bool takeIndexOutOfRange(int64_t &index, int64_t &size) {
  if (!gOutOfRange)
    return false;
  gOutOfRange = false;
  index = gIndex;
  size = gSize;
  return true;
}
} // namespace actsparse::runtime
