//===- Reductions.cpp - ONNX reductions handlers ----------------------------===//
//
// Handlers of the importer's registration table (OnnxImporter.cpp) for
// reductions and normalization: Softmax, ReduceMean, LayerNormalization.
//
//===----------------------------------------------------------------------===//

#include "../Importer.h"

using namespace mlir;
using namespace mlir::actsparse;

namespace mlir::actsparse::onnx_import {

LogicalResult Importer::softmax(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  if (opset < 13)
    return emitError(n.loc) << "Softmax before opset 13 (2-D coercion) is "
                               "not supported; re-export with opset >= 13";
  int64_t rank = shapeOf(n.in(0)).size();
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", -1), rank);
  if (failed(axis))
    return failure();
  n.results.push_back(
      SoftmaxOp::create(b, n.loc, n.in(0), b.getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult Importer::reduceMean(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  SmallVector<int64_t> axes;
  if (opset >= 18 && n.in(1)) {
    FailureOr<SmallVector<int64_t>> a = constInts(n, 1, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else if (auto a = intsAttr(n.node, "axes")) {
    axes = *a;
  }
  if (axes.empty()) {
    if (intAttr(n.node, "noop_with_empty_axes", 0))
      return identity(n);
    for (int64_t i = 0; i < (int64_t)in.size(); ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes) {
    FailureOr<int64_t> na = normAxis(n, a, in.size());
    if (failed(na))
      return failure();
    a = *na;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  bool keep = intAttr(n.node, "keepdims", 1);
  SmallVector<int64_t> shape;
  for (auto [i, d] : llvm::enumerate(in)) {
    if (!llvm::is_contained(axes, (int64_t)i))
      shape.push_back(d);
    else if (keep)
      shape.push_back(1);
  }
  n.results.push_back(ReduceMeanOp::create(b, n.loc, withShape(n.in(0), shape),
                                           n.in(0), axes, keep));
  return success();
}

LogicalResult Importer::layerNorm(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 3)))
    return failure();
  FailureOr<int64_t> axis =
      normAxis(n, intAttr(n.node, "axis", -1), shapeOf(n.in(0)).size());
  if (failed(axis))
    return failure();
  n.results.push_back(LayerNormOp::create(
      b, n.loc, n.in(0).getType(), n.in(0), n.in(1), n.in(2),
      b.getI64IntegerAttr(*axis),
      b.getF32FloatAttr(floatAttr(n.node, "epsilon", 1e-5f))));
  return success();
}

} // namespace mlir::actsparse::onnx_import
