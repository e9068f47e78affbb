//===- RaiseActivations.cpp - name decomposed GELU and SiLU ---------------===//
//
// Exporters for ONNX opsets <= 17 spell GELU and SiLU as arithmetic. The
// sparsity passes reason about activations by name, so this pass folds those
// expressions back into actsparse.gelu / actsparse.silu. Products are matched
// as flattened multisets of factors, which covers every association and
// operand order the exporters produce without one pattern per spelling.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::actsparse {
#define GEN_PASS_DEF_RAISEACTIVATIONS
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// The value of a constant holding one float (any rank, all dimensions 1).
std::optional<double> getScalarConstant(Value v) {
  DenseFPElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  return (*attr.value_begin<APFloat>()).convertToDouble();
}

bool isApprox(double value, double expected) {
  return std::abs(value - expected) <= 1e-4 * std::abs(expected);
}

/// A product written as nested Mul (and Div by a constant) ops, flattened to
/// the constant factor and the non-constant factors.
struct Product {
  double scale = 1.0;
  SmallVector<Value, 4> factors;
};

void flattenInto(Value v, Product &p) {
  if (std::optional<double> c = getScalarConstant(v)) {
    p.scale *= *c;
    return;
  }
  if (auto mul = v.getDefiningOp<MulOp>()) {
    flattenInto(mul.getLhs(), p);
    flattenInto(mul.getRhs(), p);
    return;
  }
  if (auto div = v.getDefiningOp<DivOp>()) {
    if (std::optional<double> c = getScalarConstant(div.getRhs());
        c && *c != 0.0) {
      flattenInto(div.getLhs(), p);
      p.scale /= *c;
      return;
    }
  }
  p.factors.push_back(v);
}

Product flatten(Value v) {
  Product p;
  flattenInto(v, p);
  return p;
}

/// If `v` is `1 + op(arg)` (either order) for the unary op type `OpTy`,
/// returns `arg`.
template <typename OpTy>
Value matchOnePlus(Value v) {
  auto add = v.getDefiningOp<AddOp>();
  if (!add)
    return nullptr;
  for (auto [one, other] : {std::pair(add.getLhs(), add.getRhs()),
                            std::pair(add.getRhs(), add.getLhs())}) {
    std::optional<double> c = getScalarConstant(one);
    if (!c || *c != 1.0)
      continue;
    if (auto op = dyn_cast_or_null<OpTy>(other.getDefiningOp()))
      return op.getInput();
  }
  return nullptr;
}

/// True if `v` is x^3: Pow(x, 3) or a product of three x with unit scale.
bool isCube(Value v, Value x) {
  if (auto pow = v.getDefiningOp<PowOp>()) {
    std::optional<double> e = getScalarConstant(pow.getRhs());
    return pow.getLhs() == x && e && *e == 3.0;
  }
  Product p = flatten(v);
  return p.scale == 1.0 && p.factors.size() == 3 &&
         llvm::all_of(p.factors, [&](Value f) { return f == x; });
}

/// True if `arg` is sqrt(2/pi) * (x + 0.044715 * x^3).
bool isTanhGeluArgument(Value arg, Value x) {
  Product outer = flatten(arg);
  if (!isApprox(outer.scale, std::sqrt(2.0 / M_PI)) ||
      outer.factors.size() != 1)
    return false;
  auto add = outer.factors[0].getDefiningOp<AddOp>();
  if (!add)
    return false;
  for (auto [lin, cubic] : {std::pair(add.getLhs(), add.getRhs()),
                            std::pair(add.getRhs(), add.getLhs())}) {
    if (lin != x)
      continue;
    Product c = flatten(cubic);
    if (!isApprox(c.scale, 0.044715))
      continue;
    if (c.factors.size() == 1 && isCube(c.factors[0], x))
      return true;
    if (c.factors.size() == 3 &&
        llvm::all_of(c.factors, [&](Value f) { return f == x; }))
      return true;
  }
  return false;
}

/// x * sigmoid(x) -> silu(x).
struct RaiseSilu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    for (auto [x, s] : {std::pair(op.getLhs(), op.getRhs()),
                        std::pair(op.getRhs(), op.getLhs())}) {
      auto sigmoid = s.getDefiningOp<SigmoidOp>();
      if (!sigmoid || sigmoid.getInput() != x || x.getType() != op.getType())
        continue;
      rewriter.replaceOpWithNewOp<SiluOp>(op, x);
      return success();
    }
    return rewriter.notifyMatchFailure(op, "not x * sigmoid(x)");
  }
};

/// 0.5 * x * (1 + erf(x / sqrt 2)) and the tanh approximation -> gelu(x).
struct RaiseGelu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Product p = flatten(op.getResult());
    if (p.factors.size() != 2 || !isApprox(p.scale, 0.5))
      return rewriter.notifyMatchFailure(op, "not 0.5 * x * (...)");
    for (auto [x, bracket] : {std::pair(p.factors[0], p.factors[1]),
                              std::pair(p.factors[1], p.factors[0])}) {
      if (x.getType() != op.getType())
        continue;
      if (Value erfArg = matchOnePlus<ErfOp>(bracket)) {
        Product a = flatten(erfArg);
        if (a.factors.size() == 1 && a.factors[0] == x &&
            isApprox(a.scale, M_SQRT1_2)) {
          rewriter.replaceOpWithNewOp<GeluOp>(op, x, /*tanh=*/false);
          return success();
        }
      }
      if (Value tanhArg = matchOnePlus<TanhOp>(bracket)) {
        if (isTanhGeluArgument(tanhArg, x)) {
          rewriter.replaceOpWithNewOp<GeluOp>(op, x, /*tanh=*/true);
          return success();
        }
      }
    }
    return rewriter.notifyMatchFailure(op, "not a GELU expression");
  }
};

struct RaiseActivationsPass
    : actsparse::impl::RaiseActivationsBase<RaiseActivationsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseActivationsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::actsparse::populateRaiseActivationsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<RaiseSilu, RaiseGelu>(patterns.getContext());
}
