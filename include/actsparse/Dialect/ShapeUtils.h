//===- ShapeUtils.h - ONNX shape rules --------------------------*- C++ -*-===//
//
// The shape rules of ONNX ops that more than one place needs: verifiers check
// result types with them and the importer uses them when ONNX shape inference
// left a result type unknown. Dynamic dimensions are ShapedType::kDynamic.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_DIALECT_SHAPEUTILS_H
#define ACTSPARSE_DIALECT_SHAPEUTILS_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

namespace mlir::actsparse {

/// Result shape of ONNX multidirectional (numpy) broadcasting, or nullopt if
/// two static dimensions differ and neither is 1.
std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs,
                                                    ArrayRef<int64_t> rhs);

/// Result shape of ONNX MatMul (numpy matmul), or nullopt with `why` set to a
/// human-readable reason when the operand shapes are incompatible.
std::optional<SmallVector<int64_t>>
matmulShape(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs, std::string &why);

/// True if `actual` may describe a value of shape `expected`: equal rank and
/// every dimension equal or dynamic in either.
bool isCompatibleShape(ArrayRef<int64_t> actual, ArrayRef<int64_t> expected);

} // namespace mlir::actsparse

#endif // ACTSPARSE_DIALECT_SHAPEUTILS_H
