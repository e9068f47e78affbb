//===- FuseFfn.cpp - recognise transformer feed-forward blocks ------------===//
//
// Finds `down(act(up x))` and `down(act(gate x) * up x)` chains whose
// projections multiply by weight matrices and folds each into one
// actsparse.ffn. Every intermediate value must have the chain as its only
// user: a MatMul whose result is read elsewhere (attention, a residual) is not
// part of an FFN, and fusing it would drop that use.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_FUSEFFN
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// A weight-pack tensor or an IR constant of the given rank.
bool isParameter(Value v, int64_t rank) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != rank || !type.hasStaticShape())
    return false;
  return isa_and_nonnull<WeightOp, ConstantOp>(v.getDefiningOp());
}

/// `x * W (+ b)`, either operand order of the bias Add.
struct Projection {
  Value input, weight, bias;
  SmallVector<Operation *, 2> ops; // the ops the FFN replaces
};

std::optional<Projection> matchProjection(Value v) {
  Projection p;
  if (!v.hasOneUse())
    return std::nullopt;
  if (auto add = v.getDefiningOp<AddOp>()) {
    for (auto [mm, bias] : {std::pair(add.getLhs(), add.getRhs()),
                            std::pair(add.getRhs(), add.getLhs())}) {
      if (!isParameter(bias, 1) || !mm.getDefiningOp<MatMulOp>() ||
          !mm.hasOneUse() || mm.getType() != add.getType())
        continue;
      p.bias = bias;
      p.ops.push_back(add);
      v = mm;
      break;
    }
  }
  auto matmul = v.getDefiningOp<MatMulOp>();
  if (!matmul || !isParameter(matmul.getRhs(), 2))
    return std::nullopt;
  p.input = matmul.getLhs();
  p.weight = matmul.getRhs();
  p.ops.push_back(matmul);
  return p;
}

/// The activation op defining `v`, as an FFN activation kind.
std::optional<Activation> matchActivation(Value v, Value &input) {
  Operation *op = v.getDefiningOp();
  if (!op || !v.hasOneUse())
    return std::nullopt;
  if (auto relu = dyn_cast<ReluOp>(op)) {
    input = relu.getInput();
    return Activation::relu;
  }
  if (auto silu = dyn_cast<SiluOp>(op)) {
    input = silu.getInput();
    return Activation::silu;
  }
  if (auto gelu = dyn_cast<GeluOp>(op)) {
    input = gelu.getInput();
    return gelu.getTanh() ? Activation::gelu_tanh : Activation::gelu;
  }
  return std::nullopt;
}

/// The neuron vector `h` of an FFN: `act(up x)` or `act(gate x) * up x`.
struct Neurons {
  Activation activation;
  Projection up;
  std::optional<Projection> gate;
  SmallVector<Operation *, 2> ops;
};

std::optional<Neurons> matchPlain(Value h) {
  Value pre;
  std::optional<Activation> act = matchActivation(h, pre);
  if (!act)
    return std::nullopt;
  std::optional<Projection> up = matchProjection(pre);
  if (!up)
    return std::nullopt;
  return Neurons{*act, *up, std::nullopt, {h.getDefiningOp()}};
}

std::optional<Neurons> matchGated(Value h) {
  auto mul = h.getDefiningOp<MulOp>();
  if (!mul || !h.hasOneUse())
    return std::nullopt;
  for (auto [activated, linear] : {std::pair(mul.getLhs(), mul.getRhs()),
                                   std::pair(mul.getRhs(), mul.getLhs())}) {
    Value pre;
    std::optional<Activation> act = matchActivation(activated, pre);
    if (!act)
      continue;
    std::optional<Projection> gate = matchProjection(pre);
    std::optional<Projection> up = matchProjection(linear);
    if (!gate || !up || gate->input != up->input ||
        activated.getType() != mul.getType() ||
        linear.getType() != mul.getType())
      continue;
    return Neurons{*act, *up, *gate, {mul, activated.getDefiningOp()}};
  }
  return std::nullopt;
}

/// Roots at the down projection: `h * W_down (+ b)`.
struct FuseFfnPattern : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatMulOp down,
                                PatternRewriter &rewriter) const override {
    if (!isParameter(down.getRhs(), 2))
      return rewriter.notifyMatchFailure(down, "down is not a weight matrix");
    Value h = down.getLhs();
    if (!h.hasOneUse())
      return rewriter.notifyMatchFailure(down, "neurons have other users");
    std::optional<Neurons> n = matchGated(h);
    if (!n)
      n = matchPlain(h);
    if (!n)
      return rewriter.notifyMatchFailure(down, "not act(up x) or GLU");

    // A bias Add on the down projection belongs to the block.
    Operation *root = down;
    Value downBias;
    if (down->hasOneUse()) {
      if (auto add = dyn_cast<AddOp>(*down->user_begin())) {
        Value other = add.getLhs() == down.getResult() ? add.getRhs()
                                                       : add.getLhs();
        if (isParameter(other, 1) && add.getType() == down.getType()) {
          downBias = other;
          root = add;
        }
      }
    }

    Value gate = n->gate ? n->gate->weight : Value();
    Value gateBias = n->gate ? n->gate->bias : Value();
    auto typeOf = [](Value v) { return v ? v.getType() : Type(); };
    FfnOperandTypes types{n->up.input.getType(), n->up.weight.getType(),
                          typeOf(gate),          down.getRhs().getType(),
                          typeOf(n->up.bias),    typeOf(gateBias),
                          typeOf(downBias),      Type(),
                          root->getResult(0).getType()};
    if (std::optional<std::string> why = getFfnShapeMismatch(types))
      return rewriter.notifyMatchFailure(down, *why);
    Type element = cast<RankedTensorType>(types.result).getElementType();
    for (Type t : {types.input, types.up, types.gate, types.down, types.upBias,
                   types.gateBias, types.downBias})
      if (t && cast<RankedTensorType>(t).getElementType() != element)
        return rewriter.notifyMatchFailure(down, "mixed element types");

    rewriter.replaceOpWithNewOp<FfnOp>(
        root, types.result, n->up.input, n->up.weight, gate, down.getRhs(),
        n->up.bias, gateBias, downBias, /*shift=*/Value(), n->activation,
        /*relu_up=*/false, /*threshold=*/nullptr,
        /*threshold_on=*/nullptr, /*original=*/nullptr,
        /*layer=*/nullptr);
    // The chain is dead now; erase it so no stale matmul is left behind.
    SmallVector<Operation *> dead;
    if (root != down.getOperation())
      dead.push_back(down);
    dead.append(n->ops.begin(), n->ops.end());
    if (n->gate)
      dead.append(n->gate->ops.begin(), n->gate->ops.end());
    dead.append(n->up.ops.begin(), n->up.ops.end());
    for (Operation *op : dead)
      if (op->use_empty())
        rewriter.eraseOp(op);
    return success();
  }
};

struct FuseFfnPass : mlir::actsparse::impl::FuseFfnBase<FuseFfnPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseActivationsPatterns(patterns);
    patterns.add<FuseFfnPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numberFfnLayers(getOperation());
  }
};

} // namespace

void mlir::actsparse::numberFfnLayers(Operation *root) {
  root->walk([](func::FuncOp func) {
    int64_t layer = 0;
    func.walk([&](FfnOp op) { op.setLayer(layer++); });
  });
}
