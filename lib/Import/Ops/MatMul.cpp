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

} // namespace mlir::actsparse::onnx_import
