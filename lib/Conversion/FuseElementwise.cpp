//===- FuseElementwise.cpp - elementwise linalg chains as one op ----------===//
//
// Fuses elementwise linalg.generic producers into their consumers on
// tensors (upstream's linalg::fuseElementwiseOps), where no element is
// computed twice and no runtime kernel's operands change (Passes.td says
// why and when).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// True when every op of `op`'s body is free of memory effects.
bool hasPureBody(linalg::GenericOp op) {
  return !op.getBody()
              ->walk([](Operation *inner) {
                return isMemoryEffectFree(inner) ? WalkResult::advance()
                                                 : WalkResult::interrupt();
              })
              .wasInterrupted();
}

/// Whether to fuse the producer of `operand` (an input of a generic) into
/// its owner: see Passes.td.
bool shouldFuse(OpOperand &operand) {
  auto consumer = dyn_cast<linalg::GenericOp>(operand.getOwner());
  auto producer = operand.get().getDefiningOp<linalg::GenericOp>();
  if (!consumer || !producer || !consumer.isDpsInput(&operand))
    return false;
  if (consumer.getLibraryCallAttr() || producer.getLibraryCallAttr())
    return false;
  if (!operand.get().hasOneUse())
    return false;
  if (!consumer.getMatchingIndexingMap(&operand).isPermutation())
    return false;
  if (!hasPureBody(producer) || !hasPureBody(consumer))
    return false;
  return linalg::areElementwiseOpsFusable(&operand);
}

/// Fuses the first fusable producer of a generic's inputs into it.
struct FuseProducer : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      if (!shouldFuse(*operand))
        continue;
      Operation *producer = operand->get().getDefiningOp();
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, operand);
      if (failed(fused))
        continue;
      // The replacements cover the consumer's results (and would cover the
      // producer's other uses, which shouldFuse excludes).
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceUsesWithIf(original, replacement, [&](OpOperand &use) {
          return use.getOwner() != producer;
        });
      rewriter.eraseOp(consumer);
      if (producer->use_empty())
        rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

struct FuseElementwisePass
    : mlir::actsparse::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseProducer>(&getContext());
    GreedyRewriteConfig config;
    // Only the fused generics change; no folding of other ops is needed.
    config.enableFolding(false);
    // Not converging within the driver's rounds leaves valid, partly fused
    // IR: nothing to fail for.
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), config);
  }
};

} // namespace
