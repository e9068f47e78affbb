//===- ShapeUtils.cpp - ONNX shape rules ----------------------------------===//
//
// Broadcasting and MatMul shape rules shared by verifiers and the importer.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ShapeUtils.h"
#include "mlir/IR/BuiltinTypeInterfaces.h"

using namespace mlir;

namespace mlir::actsparse {

std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs,
                                                    ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the trailing dimension; missing leading dimensions are 1.
    int64_t a = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t b = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (a == 1) {
      result[i] = b;
    } else if (b == 1) {
      result[i] = a;
    } else if (ShapedType::isDynamic(a)) {
      // A dynamic dimension is either 1 or equal to the other side.
      result[i] = b;
    } else if (ShapedType::isDynamic(b) || a == b) {
      result[i] = a;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

std::optional<SmallVector<int64_t>>
matmulShape(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs, std::string &why) {
  if (lhs.empty() || rhs.empty()) {
    why = "MatMul operands must have rank >= 1";
    return std::nullopt;
  }
  SmallVector<int64_t> l(lhs), r(rhs);
  if (l.size() == 1)
    l.insert(l.begin(), 1);
  if (r.size() == 1)
    r.push_back(1);
  int64_t lk = l[l.size() - 1], rk = r[r.size() - 2];
  if (!ShapedType::isDynamic(lk) && !ShapedType::isDynamic(rk) && lk != rk) {
    why = "contracted dimensions differ (" + std::to_string(lk) + " vs " +
          std::to_string(rk) + ")";
    return std::nullopt;
  }
  std::optional<SmallVector<int64_t>> batch =
      broadcastShapes(ArrayRef<int64_t>(l).drop_back(2),
                      ArrayRef<int64_t>(r).drop_back(2));
  if (!batch) {
    why = "batch dimensions do not broadcast";
    return std::nullopt;
  }
  SmallVector<int64_t> result = std::move(*batch);
  if (lhs.size() > 1)
    result.push_back(l[l.size() - 2]);
  if (rhs.size() > 1)
    result.push_back(r.back());
  return result;
}

bool isCompatibleShape(ArrayRef<int64_t> actual, ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip_equal(actual, expected))
    if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(e) && a != e)
      return false;
  return true;
}

} // namespace mlir::actsparse
