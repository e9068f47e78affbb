//===- Relufy.cpp - make FFN activations exactly zero for most neurons ----===//
//
// Stage 1 of "ReLU Strikes Back" (and its shifted / thresholded variants)
// changes the activation of every actsparse.ffn; stage 2 puts a ReLU after
// the normalisations that feed attention projections and FFN blocks.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_RELUFY
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

bool isVectorParameter(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getRank() == 1 &&
         isa_and_nonnull<WeightOp, ConstantOp>(v.getDefiningOp());
}

/// True if `v` is computed from a square root (the RMS or standard deviation
/// of a normalisation), through reciprocal or a division.
bool isInverseScale(Value v) {
  if (auto r = v.getDefiningOp<ReciprocalOp>())
    return r.getInput().getDefiningOp<SqrtOp>() != nullptr;
  if (auto d = v.getDefiningOp<DivOp>())
    return matchPattern(d.getLhs(), m_Constant()) &&
           d.getRhs().getDefiningOp<SqrtOp>();
  return false;
}

/// True if `v` is the output of a normalisation layer: actsparse.layer_norm,
/// or the decomposed RMSNorm / LayerNorm of older opsets,
/// `(x * 1/sqrt(...) | x / sqrt(...)) (* gamma) (+ beta)`.
bool isNormalization(Value v) {
  if (v.getDefiningOp<LayerNormOp>())
    return true;
  // Peel the affine part: Mul / Add by per-feature parameters.
  for (int i = 0; i < 2; ++i) {
    Operation *op = v.getDefiningOp();
    if (!isa_and_nonnull<AddOp, MulOp>(op))
      break;
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    if (isVectorParameter(rhs))
      v = lhs;
    else if (isVectorParameter(lhs))
      v = rhs;
    else
      break;
  }
  if (auto mul = v.getDefiningOp<MulOp>())
    return isInverseScale(mul.getLhs()) || isInverseScale(mul.getRhs());
  if (auto div = v.getDefiningOp<DivOp>())
    return div.getRhs().getDefiningOp<SqrtOp>() != nullptr;
  return false;
}

/// True if `v` is returned by its function, directly or after a bias Add:
/// the LM head, whose input must stay dense.
bool reachesReturn(Value v) {
  for (int i = 0; i < 2; ++i) {
    for (Operation *user : v.getUsers())
      if (isa<func::ReturnOp>(user))
        return true;
    if (!v.hasOneUse() || !isa<AddOp>(*v.getUsers().begin()))
      return false;
    v = v.getUsers().begin()->getResult(0);
  }
  return false;
}

struct RelufyPass : mlir::actsparse::impl::RelufyBase<RelufyPass> {
  using RelufyBase::RelufyBase;

  void runOnOperation() override {
    if (mode != "relu" && mode != "shifted-relu" && mode != "fatrelu" &&
        mode != "threshold") {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: unknown mode '" << mode
          << "' (expected relu, shifted-relu, fatrelu or threshold)";
      return signalPassFailure();
    }
    if (shift != 0.0 && mode != "shifted-relu") {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: shift is only meaningful with "
             "mode=shifted-relu";
      return signalPassFailure();
    }
    if (threshold != 0.0 && mode != "fatrelu" && mode != "threshold") {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: threshold is only meaningful with "
             "mode=fatrelu or mode=threshold (calibration sets thresholds "
             "for any mode)";
      return signalPassFailure();
    }
    if (!symbolizeThresholdOn(thresholdOn)) {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: threshold-on must be activation or neuron, "
             "not '"
          << thresholdOn << "'";
      return signalPassFailure();
    }
    if (thresholdOn == "neuron" && mode != "fatrelu" && mode != "threshold") {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: threshold-on=neuron needs mode=fatrelu or "
             "mode=threshold";
      return signalPassFailure();
    }
    if (threshold < 0.0) {
      emitError(getOperation()->getLoc())
          << "--actsparse-relufy: threshold must be >= 0";
      return signalPassFailure();
    }

    bool anyFfn = false, warnedPlain = false;
    getOperation()->walk([&](FfnOp op) {
      anyFfn = true;
      relufy(op, warnedPlain);
    });
    if (!anyFfn)
      emitWarning(getOperation()->getLoc())
          << "--actsparse-relufy found no actsparse.ffn; run "
             "--actsparse-fuse-ffn first";
    if (stage2)
      insertStage2Relus();
  }

  void relufy(FfnOp op, bool &warnedPlain) {
    OpBuilder b(op);
    if (mode == "threshold") {
      // TEAL / CATS: the trained activation stays, small outputs become 0.
      op.setMagnitudeThreshold(threshold, *symbolizeThresholdOn(thresholdOn));
      return;
    }
    if (!op.getOriginal())
      op.setOriginal(op.getActivation());
    op.setActivation(Activation::relu);
    if (mode == "shifted-relu" && !op.getShift()) {
      auto type = RankedTensorType::get({}, op.getType().getElementType());
      Value s = ConstantOp::create(
          b, op.getLoc(), type,
          DenseElementsAttr::get(type, b.getFloatAttr(type.getElementType(),
                                                      shift)));
      op.getShiftMutable().assign(s);
    }
    if (mode == "fatrelu")
      op.setMagnitudeThreshold(threshold, *symbolizeThresholdOn(thresholdOn));
    if (drelu) {
      if (op.getGate())
        op.setReluUp(true);
      else if (!warnedPlain) {
        op.emitWarning("dReLU needs a gated FFN; this block has no gate and "
                       "keeps ReLU on its only projection");
        warnedPlain = true;
      }
    }
  }

  /// Stage 2: ReLU on every normalisation output that feeds an FFN or an
  /// attention projection (any weight projection except the LM head).
  void insertStage2Relus() {
    SmallVector<Value> norms;
    getOperation()->walk([&](Operation *op) {
      for (Value result : op->getResults())
        if (isNormalization(result))
          norms.push_back(result);
    });
    for (Value norm : norms) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : norm.getUses()) {
        Operation *user = use.getOwner();
        if (auto ffn = dyn_cast<FfnOp>(user); ffn && use.getOperandNumber() == 0)
          uses.push_back(&use);
        else if (auto mm = dyn_cast<MatMulOp>(user);
                 mm && use.getOperandNumber() == 0 &&
                 isa_and_nonnull<WeightOp, ConstantOp>(
                     mm.getRhs().getDefiningOp()) &&
                 !reachesReturn(mm.getResult()))
          uses.push_back(&use);
      }
      if (uses.empty())
        continue;
      OpBuilder b(norm.getContext());
      b.setInsertionPointAfterValue(norm);
      auto relu = ReluOp::create(b, norm.getLoc(), norm);
      relu->setAttr(ActSparseDialect::getStage2AttrName(), b.getUnitAttr());
      for (OpOperand *use : uses)
        use->set(relu);
    }
  }
};

} // namespace
