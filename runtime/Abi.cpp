//===- Abi.cpp - runtime functions called by generated code ---------------===//

#include "actsparse/runtime/Abi.h"

namespace {
/// The first report of one kind since it was last taken: two numbers.
struct Report {
  bool set = false;
  int64_t a = 0, b = 0;

  void put(int64_t x, int64_t y) {
    if (set)
      return; // keep the first report
    set = true;
    a = x;
    b = y;
  }
  bool take(int64_t &x, int64_t &y) {
    if (!set)
      return false;
    set = false;
    x = a;
    y = b;
    return true;
  }
};
thread_local Report gOutOfRange, gMismatch;
} // namespace

extern "C" void actsparse_rt_index_out_of_range(int64_t index, int64_t size) {
  gOutOfRange.put(index, size);
}

extern "C" void actsparse_rt_shape_mismatch(int64_t got, int64_t expected) {
  gMismatch.put(got, expected);
}

namespace actsparse::runtime {
bool takeIndexOutOfRange(int64_t &index, int64_t &size) {
  return gOutOfRange.take(index, size);
}

bool takeShapeMismatch(int64_t &got, int64_t &expected) {
  return gMismatch.take(got, expected);
}
} // namespace actsparse::runtime
