//===- EntryTest.cpp - results read back through the entry ABI ------------===//
//
// invokeEntry copies each result out of the descriptor generated code
// returned. Results are usually dense row-major buffers, but a descriptor
// may carry an offset, padded rows or a transposed layout; every element
// must land at its logical position, whichever copy path is taken.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Entry.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>

using namespace actsparse::runtime;

namespace {

/// One 2-D f32 result the fake model returns: its layout in a buffer of
/// `capacity` floats, where element (i, j) is at offset + i*s0 + j*s1.
struct Layout {
  int64_t rows, cols, offset, s0, s1, capacity;
};

/// The layouts the fake entry returns, in result order.
std::vector<Layout> layouts;

/// Element (i, j)'s value: independent of the layout.
float valueAt(int64_t i, int64_t j) { return float(100 * i + j) + 0.5f; }

/// A model with no inputs whose results are the layouts above, each in a
/// fresh buffer of the runtime's allocator, as generated code allocates
/// them (invokeEntry frees them), padding filled with NaN.
void fakeEntry(void **params) {
  auto *words = static_cast<uint64_t *>(params[0]);
  for (const Layout &l : layouts) {
    auto *buf = static_cast<float *>(
        _mlir_memref_to_llvm_aligned_alloc(64, l.capacity * sizeof(float)));
    for (int64_t k = 0; k < l.capacity; ++k)
      buf[k] = std::nanf("");
    for (int64_t i = 0; i < l.rows; ++i)
      for (int64_t j = 0; j < l.cols; ++j)
        buf[l.offset + i * l.s0 + j * l.s1] = valueAt(i, j);
    uint64_t d[7] = {reinterpret_cast<uint64_t>(buf),
                     reinterpret_cast<uint64_t>(buf),
                     uint64_t(l.offset),
                     uint64_t(l.rows),
                     uint64_t(l.cols),
                     uint64_t(l.s0),
                     uint64_t(l.s1)};
    std::memcpy(words, d, sizeof d);
    words += 7;
  }
}

TEST(Entry, ResultsOfEveryLayoutAreCopiedElementByPosition) {
  layouts = {
      {3, 5, 0, 5, 1, 15},   // dense row-major: one copy
      {3, 5, 7, 5, 1, 22},   // dense after an offset
      {3, 5, 0, 8, 1, 24},   // padded rows: row by row
      {3, 5, 0, 1, 3, 15},   // transposed: element by element
      {1, 5, 2, 99, 1, 7},   // one row with any outer stride
      {4, 1, 0, 1, 42, 4},   // one column with any inner stride
      {0, 5, 0, 5, 1, 1},    // empty
  };
  EntrySignature sig;
  for (size_t r = 0; r < layouts.size(); ++r)
    sig.results.push_back(
        {"r" + std::to_string(r), DType::F32, {layouts[r].rows, layouts[r].cols}});
  std::vector<Tensor> outputs;
  Status s = invokeEntry(fakeEntry, sig, {}, nullptr, {}, outputs);
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(outputs.size(), layouts.size());
  for (size_t r = 0; r < layouts.size(); ++r) {
    const Layout &l = layouts[r];
    ASSERT_EQ(outputs[r].shape, (std::vector<int64_t>{l.rows, l.cols}));
    const float *got = static_cast<const float *>(outputs[r].data());
    for (int64_t i = 0; i < l.rows; ++i)
      for (int64_t j = 0; j < l.cols; ++j)
        EXPECT_EQ(got[i * l.cols + j], valueAt(i, j))
            << "result " << r << " element (" << i << ", " << j << ")";
  }
}

} // namespace
