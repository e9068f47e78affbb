//===- TensorTest.cpp - comparing tensors as ONNX's runner does -----------===//

#include "actsparse/runtime/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace actsparse::runtime;

namespace {

Tensor f32(std::vector<float> v) {
  Tensor t(DType::F32, {(int64_t)v.size()});
  for (size_t i = 0; i < v.size(); ++i)
    t.as<float>()[i] = v[i];
  return t;
}

// numpy's allclose: |got - want| <= atol + rtol * |want|, worked by hand.
TEST(CompareTensors, AllcloseRule) {
  Tensor want = f32({100.0f, 0.0f});
  // 100.1 is 0.1 away; 1e-3 * 100 = 0.1 allows it (floats: 100.0999985).
  EXPECT_EQ(compareTensors(f32({100.09f, 0.0f}), want, 0, 1e-3).mismatches,
            0u);
  EXPECT_EQ(compareTensors(f32({100.2f, 0.0f}), want, 0, 1e-3).mismatches, 1u);
  // Near zero only atol helps.
  EXPECT_EQ(compareTensors(f32({100.0f, 1e-8f}), want, 1e-7, 1e-3).mismatches,
            0u);
  TensorComparison c = compareTensors(f32({100.0f, 1e-6f}), want, 1e-7, 1e-3);
  EXPECT_EQ(c.mismatches, 1u);
  EXPECT_EQ(c.firstMismatch.rfind("element 1: got 9.99999997e-07, "
                                  "expected 0",
                                  0),
            0u)
      << c.firstMismatch;
  EXPECT_NEAR(c.maxAbsError, 1e-6, 1e-12);
}

TEST(CompareTensors, NanAndInfinity) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  float inf = std::numeric_limits<float>::infinity();
  Tensor want = f32({nan, inf, -inf});
  EXPECT_EQ(compareTensors(f32({nan, inf, -inf}), want, 0, 0).mismatches, 0u);
  // A NaN meets only a NaN, an infinity only itself, whatever the
  // tolerance.
  EXPECT_EQ(compareTensors(f32({0.0f, inf, -inf}), want, 1e30, 1).mismatches,
            1u);
  EXPECT_EQ(compareTensors(f32({nan, -inf, inf}), want, 1e30, 1).mismatches,
            2u);
  EXPECT_EQ(compareTensors(f32({nan, 1e38f, -inf}), want, 1e30, 1).mismatches,
            1u);
}

TEST(CompareTensors, IntegersExactly) {
  Tensor want(DType::I64, {2}), got(DType::I64, {2});
  // 2^53 + 1 and 2^53 are the same double: the comparison must not use one.
  want.as<int64_t>()[0] = (int64_t(1) << 53) + 1;
  got.as<int64_t>()[0] = int64_t(1) << 53;
  want.as<int64_t>()[1] = got.as<int64_t>()[1] = -7;
  EXPECT_EQ(compareTensors(got, want, 10, 10).mismatches, 1u);
  Tensor b1(DType::Bool, {1}), b2(DType::Bool, {1});
  b1.as<uint8_t>()[0] = 1;
  b2.as<uint8_t>()[0] = 0;
  EXPECT_EQ(compareTensors(b1, b2, 1, 1).mismatches, 1u);
  Tensor s1(DType::I16, {1}), s2(DType::I16, {1});
  s1.as<int16_t>()[0] = -300;
  s2.as<int16_t>()[0] = -300;
  EXPECT_EQ(compareTensors(s1, s2, 0, 0).mismatches, 0u);
}

TEST(CompareTensors, HalfTypes) {
  // bf16 0x3F80 = 1, 0xC000 = -2; f16 0x3C00 = 1, 0x3800 = 0.5.
  Tensor b(DType::BF16, {2}), h(DType::F16, {2});
  b.as<uint16_t>()[0] = 0x3F80;
  b.as<uint16_t>()[1] = 0xC000;
  h.as<uint16_t>()[0] = 0x3C00;
  h.as<uint16_t>()[1] = 0x3800;
  EXPECT_EQ(elementAsDouble(b, 0), 1.0);
  EXPECT_EQ(elementAsDouble(b, 1), -2.0);
  EXPECT_EQ(elementAsDouble(h, 0), 1.0);
  EXPECT_EQ(elementAsDouble(h, 1), 0.5);
}

} // namespace

namespace {

// Leaves a freed block of `words` words full of 0xAB bytes, which the
// allocator is likely to hand out next for the same size.
void dirtyFreedBlock(size_t words) {
  Tensor t(DType::U8, {int64_t(words * 8)});
  std::memset(t.data(), 0xAB, words * 8);
}

// 301 floats: 1,204 bytes in 152 words (rounded up, one word past), a
// block size no shape vector shares.
TEST(TensorStorage, ZeroFilledEvenOnReusedMemory) {
  dirtyFreedBlock(152);
  Tensor t(DType::F32, {301});
  EXPECT_EQ(t.storage.size(), 152u);
  for (size_t i = 0; i < t.storage.size(); ++i)
    EXPECT_EQ(t.storage[i], 0u) << "word " << i;
}

TEST(TensorStorage, UninitializedHasItsShapeAndAZeroTail) {
  dirtyFreedBlock(152);
  Tensor t = Tensor::uninitialized(DType::F32, {301});
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, std::vector<int64_t>{301});
  EXPECT_EQ(t.byteSize(), 1204u);
  ASSERT_EQ(t.storage.size(), 152u);
  // Bytes 1204..1215, past the data, are zero as in a zero-filled tensor.
  const unsigned char *bytes = static_cast<const unsigned char *>(t.data());
  for (size_t b = 1204; b < 1216; ++b)
    EXPECT_EQ(bytes[b], 0) << "byte " << b;
  // The data itself is the caller's to write.
  t.as<float>()[300] = 1.5f;
  EXPECT_EQ(t.as<float>()[300], 1.5f);
  EXPECT_EQ(bytes[1204], 0);
}

} // namespace
