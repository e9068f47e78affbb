//===- MatMul.cpp - ONNX matmul handlers ------------------------------------===//
//
// Handlers of the importer's registration table (OnnxImporter.cpp) for
// MatMul.
//
//===----------------------------------------------------------------------===//

#include "../Importer.h"

using namespace mlir;
using namespace mlir::actsparse;

namespace mlir::actsparse::onnx_import {

LogicalResult Importer::matmul(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  std::string why;
  auto shape = matmulShape(shapeOf(n.in(0)), shapeOf(n.in(1)), why);
  if (!shape)
    return emitError(n.loc) << "MatMul operands are incompatible: " << why;
  if (getElementTypeOrSelf(n.in(0)) != getElementTypeOrSelf(n.in(1)))
    return emitError(n.loc) << "MatMul operands have different element types";
  n.results.push_back(MatMulOp::create(b, n.loc, withShape(n.in(0), *shape),
                                       n.in(0), n.in(1)));
  return success();
}

LogicalResult Importer::gemm(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 3)))
    return failure();
  Value a = n.in(0), bm = n.in(1), c = n.in(2);
  Type t = getElementTypeOrSelf(a);
  if (!isa<FloatType>(t))
    return emitError(n.loc) << "Gemm is supported on floating-point tensors "
                               "only";
  if (shapeOf(a).size() != 2 || shapeOf(bm).size() != 2)
    return emitError(n.loc) << "Gemm operands A and B must be matrices";
  if (getElementTypeOrSelf(bm) != t || (c && getElementTypeOrSelf(c) != t))
    return emitError(n.loc) << "Gemm operands have different element types";
  auto transposed = [&](Value v) -> Value {
    ArrayRef<int64_t> s = shapeOf(v);
    return TransposeOp::create(b, n.loc, withShape(v, {s[1], s[0]}), v,
                               ArrayRef<int64_t>{1, 0});
  };
  if (intAttr(n.node, "transA", 0))
    a = transposed(a);
  if (intAttr(n.node, "transB", 0))
    bm = transposed(bm);
  std::string why;
  auto shape = matmulShape(shapeOf(a), shapeOf(bm), why);
  if (!shape)
    return emitError(n.loc) << "Gemm operands are incompatible: " << why;
  Value y = MatMulOp::create(b, n.loc, withShape(a, *shape), a, bm);
  auto scalar = [&](float v) {
    return constant(DenseElementsAttr::get(RankedTensorType::get({}, t),
                                           b.getFloatAttr(t, v)),
                    n.loc);
  };
  float alpha = floatAttr(n.node, "alpha", 1.0f);
  float beta = floatAttr(n.node, "beta", 1.0f);
  if (alpha != 1.0f)
    y = MulOp::create(b, n.loc, y.getType(), y, scalar(alpha));
  if (c) {
    if (beta != 1.0f)
      c = MulOp::create(b, n.loc, c.getType(), c, scalar(beta));
    auto out = broadcastShapes(shapeOf(y), shapeOf(c));
    if (!out || !isCompatibleShape(*out, shapeOf(y)))
      return emitError(n.loc) << "Gemm C does not broadcast to A * B";
    y = AddOp::create(b, n.loc, y.getType(), y, c);
  }
  n.results.push_back(y);
  return success();
}

} // namespace mlir::actsparse::onnx_import
