//===- Reductions.cpp - ONNX reductions handlers ----------------------------===//
//
// Handlers of the importer's registration table (OnnxImporter.cpp) for
// reductions and normalization: Softmax, ReduceMean, LayerNormalization.
//
//===----------------------------------------------------------------------===//

#include "../Importer.h"

#include "llvm/ADT/StringSwitch.h"

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

FailureOr<std::optional<SmallVector<int64_t>>>
Importer::reductionAxes(NodeCtx &n, int64_t axesInputSince) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  FailureOr<SmallVector<int64_t>> given =
      intsOperand(n, 1, "axes", axesInputSince);
  if (failed(given))
    return failure();
  SmallVector<int64_t> axes = *given;
  if (axes.empty()) {
    if (opset >= axesInputSince && intAttr(n.node, "noop_with_empty_axes", 0))
      return std::optional<SmallVector<int64_t>>();
    for (int64_t i = 0; i < (int64_t)in.size(); ++i)
      axes.push_back(i);
  }
  if (failed(normAxes(n, axes, in.size())))
    return failure();
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return std::optional<SmallVector<int64_t>>(axes);
}

RankedTensorType Importer::reducedType(Value input, ArrayRef<int64_t> axes,
                                       bool keepdims, Type elt) {
  SmallVector<int64_t> shape;
  for (auto [i, d] : llvm::enumerate(shapeOf(input))) {
    if (!llvm::is_contained(axes, (int64_t)i))
      shape.push_back(d);
    else if (keepdims)
      shape.push_back(1);
  }
  return withShape(input, shape, elt);
}

LogicalResult Importer::reduceMean(NodeCtx &n) {
  auto axes = reductionAxes(n, 18);
  if (failed(axes))
    return failure();
  if (!*axes) {
    n.results.push_back(n.in(0));
    return success();
  }
  if (!isa<FloatType>(getElementTypeOrSelf(n.in(0))))
    return emitError(n.loc) << "ReduceMean is supported on floating-point "
                               "tensors only";
  bool keep = intAttr(n.node, "keepdims", 1);
  n.results.push_back(ReduceMeanOp::create(
      b, n.loc, reducedType(n.in(0), **axes, keep), n.in(0), **axes, keep));
  return success();
}

LogicalResult Importer::reduce(NodeCtx &n) {
  StringRef op = n.node.op_type();
  auto kind = llvm::StringSwitch<std::optional<ReduceKind>>(op)
                  .Case("ReduceSum", ReduceKind::sum)
                  .Case("ReduceMax", ReduceKind::max)
                  .Case("ReduceMin", ReduceKind::min)
                  .Case("ReduceProd", ReduceKind::prod)
                  .Case("ReduceL1", ReduceKind::l1)
                  .Case("ReduceL2", ReduceKind::l2)
                  .Case("ReduceSumSquare", ReduceKind::sum_square)
                  .Case("ReduceLogSum", ReduceKind::log_sum)
                  .Case("ReduceLogSumExp", ReduceKind::log_sum_exp)
                  .Default(std::nullopt);
  if (!kind)
    return emitError(n.loc) << "internal error: " << op
                            << " is not a reduction";
  // ReduceSum took its axes as an input from opset 13, the others from 18.
  auto axes = reductionAxes(n, op == "ReduceSum" ? 13 : 18);
  if (failed(axes))
    return failure();
  if (!*axes) {
    n.results.push_back(n.in(0));
    return success();
  }
  Type t = getElementTypeOrSelf(n.in(0));
  bool floatOnly = *kind == ReduceKind::l2 || *kind == ReduceKind::log_sum ||
                   *kind == ReduceKind::log_sum_exp;
  if (t.isInteger(1) || (floatOnly && !isa<FloatType>(t)))
    return emitError(n.loc) << op << " is not supported on "
                            << (t.isInteger(1) ? "boolean" : "integer")
                            << " tensors";
  bool keep = intAttr(n.node, "keepdims", 1);
  n.results.push_back(ReduceOp::create(b, n.loc,
                                       reducedType(n.in(0), **axes, keep),
                                       *kind, n.in(0), **axes, keep));
  return success();
}

LogicalResult Importer::argReduce(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  Type t = getElementTypeOrSelf(n.in(0));
  if (t.isInteger(1))
    return emitError(n.loc) << n.node.op_type()
                            << " is not supported on boolean tensors";
  FailureOr<int64_t> axis =
      normAxis(n, intAttr(n.node, "axis", 0), shapeOf(n.in(0)).size());
  if (failed(axis))
    return failure();
  bool keep = intAttr(n.node, "keepdims", 1);
  ReduceKind kind =
      n.node.op_type() == "ArgMax" ? ReduceKind::max : ReduceKind::min;
  n.results.push_back(ArgReduceOp::create(
      b, n.loc, reducedType(n.in(0), {*axis}, keep, b.getI64Type()), kind,
      n.in(0), *axis, keep, intAttr(n.node, "select_last_index", 0) != 0));
  return success();
}

LogicalResult Importer::logSoftmax(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  if (opset < 13)
    return emitError(n.loc) << "LogSoftmax before opset 13 (2-D coercion) is "
                               "not supported; re-export with opset >= 13";
  if (!isa<FloatType>(getElementTypeOrSelf(n.in(0))))
    return emitError(n.loc) << "LogSoftmax is supported on floating-point "
                               "tensors only";
  int64_t rank = shapeOf(n.in(0)).size();
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", -1), rank);
  if (failed(axis))
    return failure();
  n.results.push_back(
      LogSoftmaxOp::create(b, n.loc, n.in(0), b.getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult Importer::layerNorm(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 3)))
    return failure();
  Value x = n.in(0);
  if (!isa<FloatType>(getElementTypeOrSelf(x)))
    return emitError(n.loc) << "LayerNormalization is supported on "
                               "floating-point tensors only";
  int64_t rank = shapeOf(x).size();
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", -1), rank);
  if (failed(axis))
    return failure();
  float epsilon = floatAttr(n.node, "epsilon", 1e-5f);
  n.results.push_back(LayerNormOp::create(
      b, n.loc, x.getType(), x, n.in(1), n.in(2), b.getI64IntegerAttr(*axis),
      b.getF32FloatAttr(epsilon)));
  // The optional outputs Mean and InvStdDev (the statistics over the
  // normalized axes, kept as size-1 dimensions), built from plain ops only
  // when the graph reads them.
  bool wantStats = false;
  for (int i = 1; i < n.node.output_size(); ++i)
    wantStats |= !n.node.output(i).empty();
  if (!wantStats)
    return success();
  SmallVector<int64_t> axes;
  for (int64_t i = *axis; i < rank; ++i)
    axes.push_back(i);
  RankedTensorType statType = reducedType(x, axes, /*keepdims=*/true);
  Type t = statType.getElementType();
  Value mean = ReduceMeanOp::create(b, n.loc, statType, x, axes, true);
  Value centered = SubOp::create(b, n.loc, x.getType(), x, mean);
  Value sq = MulOp::create(b, n.loc, x.getType(), centered, centered);
  Value var = ReduceMeanOp::create(b, n.loc, statType, sq, axes, true);
  Value eps = constant(DenseElementsAttr::get(RankedTensorType::get({}, t),
                                              b.getFloatAttr(t, epsilon)),
                       n.loc);
  Value invStd = ReciprocalOp::create(
      b, n.loc,
      SqrtOp::create(b, n.loc, AddOp::create(b, n.loc, statType, var, eps)));
  n.results.push_back(mean);
  n.results.push_back(invStd);
  return success();
}

} // namespace mlir::actsparse::onnx_import
