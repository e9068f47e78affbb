//===- UnshareDestinations.cpp - one init value per destination -----------===//
//
// Undoes CSE's merging of tensor.empty and linalg.fill inits right before
// bufferization (Passes.td says why).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_UNSHAREDESTINATIONS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// Gives every use of `op`'s single result but the first a clone of `op`
/// made right before the user; `cloneInit` also clones what the op's init
/// operand is (a fill's tensor.empty), so that the clone shares nothing.
void unshare(Operation *op, bool cloneInit) {
  Value result = op->getResult(0);
  SmallVector<OpOperand *> uses;
  for (OpOperand &use : result.getUses())
    uses.push_back(&use);
  // The original dominates every user, so any one of them may keep it. A
  // use list usually runs from the newest use, so the first user in the
  // block tends to keep it and the IR reads in order.
  for (OpOperand *use : llvm::drop_begin(llvm::reverse(uses))) {
    OpBuilder b(use->getOwner());
    IRMapping map;
    if (cloneInit)
      if (auto fill = dyn_cast<linalg::FillOp>(op))
        if (auto empty =
                fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>())
          map.map(empty.getResult(), b.clone(*empty)->getResult(0));
    use->set(b.clone(*op, map)->getResult(0));
  }
}

struct UnshareDestinationsPass
    : mlir::actsparse::impl::UnshareDestinationsBase<UnshareDestinationsPass> {
  void runOnOperation() override {
    SmallVector<linalg::FillOp> fills;
    getOperation().walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && !fill->getResult(0).hasOneUse())
        fills.push_back(fill);
    });
    for (linalg::FillOp fill : fills)
      unshare(fill, /*cloneInit=*/true);
    SmallVector<tensor::EmptyOp> empties;
    getOperation().walk([&](tensor::EmptyOp empty) {
      if (!empty->getResult(0).hasOneUse() && !empty->use_empty())
        empties.push_back(empty);
    });
    for (tensor::EmptyOp empty : empties)
      unshare(empty, /*cloneInit=*/false);
  }
};

} // namespace
