//===- ActSparseOps.cpp - actsparse op verifiers and folders --------------===//
//
// Invariants that ODS constraints cannot express: weight names, and the
// ONNX MatMul shape rule.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Dialect/ShapeUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::actsparse;

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("requires a non-empty weight-pack tensor name");
  return success();
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  os << "]";
  return s;
}

LogicalResult MatMulOp::verify() {
  auto lhs = getLhs().getType().getShape();
  auto rhs = getRhs().getType().getShape();
  auto result = getResult().getType().getShape();
  std::string why;
  std::optional<SmallVector<int64_t>> expected = matmulShape(lhs, rhs, why);
  if (!expected)
    return emitOpError("operand shapes ")
           << shapeString(lhs) << " and " << shapeString(rhs)
           << " are incompatible: " << why;
  if (!isCompatibleShape(result, *expected))
    return emitOpError("result shape ")
           << shapeString(result) << " does not match the MatMul shape "
           << shapeString(*expected);
  return success();
}

#define GET_OP_CLASSES
#include "actsparse/Dialect/ActSparseOps.cpp.inc"
