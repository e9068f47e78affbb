//===- LastPositionLogits.cpp - the classifier on the last position -------===//
//
// Generation reads the logits of the last position only; this pass makes
// the classifier product compute just that row (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "MainGraph.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_LASTPOSITIONLOGITS
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// The classifier product that result `index` of `func` returns, when it
/// is `[B, S, K] x [K, V]` and read by nothing but the return.
MatMulOp classifierProduct(func::ReturnOp ret, unsigned index) {
  Value v = ret.getOperand(index);
  auto matmul = v.getDefiningOp<MatMulOp>();
  if (!matmul || !v.hasOneUse())
    return nullptr;
  auto lhs = dyn_cast<RankedTensorType>(matmul.getLhs().getType());
  auto rhs = dyn_cast<RankedTensorType>(matmul.getRhs().getType());
  auto result = dyn_cast<RankedTensorType>(matmul.getType());
  if (!lhs || !rhs || !result || lhs.getRank() != 3 || rhs.getRank() != 2 ||
      result.getRank() != 3)
    return nullptr;
  // Already one position: nothing to save.
  if (lhs.getDimSize(1) == 1)
    return nullptr;
  return matmul;
}

struct LastPositionLogitsPass
    : mlir::actsparse::impl::LastPositionLogitsBase<LastPositionLogitsPass> {
  void runOnOperation() override {
    auto [func, ret, nameKey] = MainGraph::of(getOperation());
    if (!func)
      return;
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      auto name = func.getResultAttrOfType<StringAttr>(i, nameKey);
      if (!name || name.getValue() != "logits")
        continue;
      MatMulOp matmul = classifierProduct(ret, i);
      if (!matmul)
        return;
      OpBuilder b(matmul);
      Location loc = matmul.getLoc();
      auto lhsType = cast<RankedTensorType>(matmul.getLhs().getType());
      auto indexType = RankedTensorType::get({1}, b.getI64Type());
      auto last = ConstantOp::create(
          b, loc, DenseElementsAttr::get(indexType, int64_t(-1)));
      auto rowType = RankedTensorType::get(
          {lhsType.getDimSize(0), 1, lhsType.getDimSize(2)},
          lhsType.getElementType());
      auto row = GatherOp::create(b, loc, rowType, matmul.getLhs(), last,
                                  b.getI64IntegerAttr(1));
      auto resultType = cast<RankedTensorType>(matmul.getType());
      matmul.getLhsMutable().assign(row);
      matmul.getResult().setType(RankedTensorType::get(
          {resultType.getDimSize(0), 1, resultType.getDimSize(2)},
          resultType.getElementType()));
      SmallVector<Type> results(func.getResultTypes());
      results[i] = matmul.getType();
      func.setType(
          FunctionType::get(&getContext(), func.getArgumentTypes(), results));
      return;
    }
  }
};

} // namespace
