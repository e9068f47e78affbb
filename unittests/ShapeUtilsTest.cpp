//===- ShapeUtilsTest.cpp - ONNX broadcasting and MatMul shapes -----------===//
//
// Expected shapes are numpy's broadcasting and matmul rules (which ONNX
// adopts), worked by hand for each case.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ShapeUtils.h"
#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::actsparse;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

std::vector<int64_t> vec(const std::optional<SmallVector<int64_t>> &s) {
  return std::vector<int64_t>(s->begin(), s->end());
}

TEST(BroadcastShapes, TrailingAlignment) {
  auto r = broadcastShapes({2, 3, 4}, {4});
  ASSERT_TRUE(r);
  EXPECT_EQ(vec(r), (std::vector<int64_t>{2, 3, 4}));
}

TEST(BroadcastShapes, OnesStretch) {
  auto r = broadcastShapes({2, 1, 4}, {1, 3, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ(vec(r), (std::vector<int64_t>{2, 3, 4}));
}

TEST(BroadcastShapes, ScalarOperand) {
  auto r = broadcastShapes({}, {5, 6});
  ASSERT_TRUE(r);
  EXPECT_EQ(vec(r), (std::vector<int64_t>{5, 6}));
}

TEST(BroadcastShapes, DynamicMeetsStatic) {
  // A dynamic dimension is 1 or equal to the other side, so a static
  // non-1 dimension fixes it; against 1 it stays dynamic.
  auto r = broadcastShapes({kDyn, kDyn, 1}, {7, 1, 8});
  ASSERT_TRUE(r);
  EXPECT_EQ(vec(r), (std::vector<int64_t>{7, kDyn, 8}));
}

TEST(BroadcastShapes, Mismatch) {
  EXPECT_FALSE(broadcastShapes({2, 3}, {4, 3}));
  EXPECT_FALSE(broadcastShapes({3}, {2}));
}

TEST(MatMulShape, Batched) {
  std::string why;
  auto r = matmulShape({2, 1, 5, 64}, {3, 64, 7}, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(vec(r), (std::vector<int64_t>{2, 3, 5, 7}));
}

TEST(MatMulShape, VectorOperandsDropTheirDimension) {
  std::string why;
  auto r = matmulShape({64}, {64, 10}, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(vec(r), (std::vector<int64_t>{10}));
  r = matmulShape({4, 64}, {64}, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(vec(r), (std::vector<int64_t>{4}));
  r = matmulShape({64}, {64}, why);
  ASSERT_TRUE(r) << why;
  EXPECT_TRUE(r->empty());
}

TEST(MatMulShape, DynamicContractionIsAccepted) {
  std::string why;
  auto r = matmulShape({kDyn, kDyn, 64}, {kDyn, 172}, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(vec(r), (std::vector<int64_t>{kDyn, kDyn, 172}));
}

TEST(MatMulShape, Errors) {
  std::string why;
  EXPECT_FALSE(matmulShape({4, 8}, {9, 2}, why));
  EXPECT_NE(why.find("contracted dimensions differ (8 vs 9)"),
            std::string::npos);
  EXPECT_FALSE(matmulShape({2, 4, 8}, {3, 8, 2}, why));
  EXPECT_NE(why.find("batch"), std::string::npos);
  EXPECT_FALSE(matmulShape({}, {3}, why));
}

TEST(CompatibleShape, DynamicMatchesAnything) {
  EXPECT_TRUE(isCompatibleShape({kDyn, 4}, {3, 4}));
  EXPECT_TRUE(isCompatibleShape({3, 4}, {kDyn, 4}));
  EXPECT_FALSE(isCompatibleShape({3, 4}, {3, 5}));
  EXPECT_FALSE(isCompatibleShape({3, 4}, {3, 4, 1}));
}
} // namespace
