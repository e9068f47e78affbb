//===- Elementwise.cpp - elementwise ops, activations, casts --------------===//
//
// Every elementwise op is one broadcasting linalg.generic whose scalar body is
// a function of the op and its operands' elements.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

using namespace mlir;
using namespace mlir::actsparse;
using namespace mlir::actsparse::lowering;

namespace {

/// Every elementwise op: one broadcasting generic whose scalar body is a
/// function of the op and the operands' elements.
template <typename OpTy>
struct ElementwiseLowering : OpConversionPattern<OpTy> {
  using Fn = Value (*)(OpTy, OpBuilder &, Location, ValueRange);
  ElementwiseLowering(MLIRContext *ctx, Fn fn)
      : OpConversionPattern<OpTy>(ctx), fn(fn) {}
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value r = elementwise(
        rewriter, op.getLoc(), op.getType(), adaptor.getOperands(),
        [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
          return fn(op, b, loc, a);
        });
    rewriter.replaceOp(op, r);
    return success();
  }
  Fn fn;
};

/// Arithmetic on floats or signless integers.
template <typename OpTy, typename FloatOp, typename IntOp>
Value arithBody(OpTy, OpBuilder &b, Location loc, ValueRange a) {
  if (isa<FloatType>(a[0].getType()))
    return FloatOp::create(b, loc, a[0], a[1]);
  return IntOp::create(b, loc, a[0], a[1]);
}

/// A float function of one operand that the math dialect has.
template <typename OpTy, typename MathOp>
Value mathBody(OpTy, OpBuilder &b, Location loc, ValueRange a) {
  return MathOp::create(b, loc, a[0]);
}

template <typename OpTy, arith::CmpFPredicate F, arith::CmpIPredicate I,
          arith::CmpIPredicate U>
Value compareBody(OpTy op, OpBuilder &b, Location loc, ValueRange a) {
  if (isa<FloatType>(a[0].getType()))
    return arith::CmpFOp::create(b, loc, F, a[0], a[1]);
  return arith::CmpIOp::create(b, loc, op.getIsUnsigned() ? U : I, a[0], a[1]);
}

/// Min or max: NaN propagates (numpy's minimum / maximum); integers by
/// their signedness.
template <typename OpTy, typename FloatOp, typename SignedOp,
          typename UnsignedOp>
Value minMaxBody(OpTy op, OpBuilder &b, Location loc, ValueRange a) {
  if (isa<FloatType>(a[0].getType()))
    return FloatOp::create(b, loc, a[0], a[1]);
  if (op.getIsUnsigned())
    return UnsignedOp::create(b, loc, a[0], a[1]);
  return SignedOp::create(b, loc, a[0], a[1]);
}

Value reluScalar(OpBuilder &b, Location loc, Value x, Value threshold) {
  Value zero = scalarConst(b, loc, x.getType(), 0.0);
  Value gt =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, threshold);
  return arith::SelectOp::create(b, loc, gt, x, zero);
}

Value geluScalar(OpBuilder &b, Location loc, Value x, bool tanhForm) {
  Type t = x.getType();
  Value half = scalarConst(b, loc, t, 0.5);
  Value one = scalarConst(b, loc, t, 1.0);
  Value inner;
  if (tanhForm) {
    Value x3 = arith::MulFOp::create(b, loc, x,
                                     arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, scalarConst(b, loc, t, 0.044715), x3));
    inner = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(
            b, loc, scalarConst(b, loc, t, 0.7978845608028654), poly));
  } else {
    inner = math::ErfOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, x,
                              scalarConst(b, loc, t, 0.7071067811865476)));
  }
  return arith::MulFOp::create(
      b, loc, arith::MulFOp::create(b, loc, half, x),
      arith::AddFOp::create(b, loc, one, inner));
}

/// `d`, or 1 where `d` is 0: integer division and remainder by zero are
/// undefined in ONNX, and trap (SIGFPE) in the code LLVM generates.
Value safeDivisor(OpBuilder &b, Location loc, Value d) {
  Value zero = scalarConst(b, loc, d.getType(), 0);
  Value isZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, d, zero);
  return arith::SelectOp::create(b, loc, isZero,
                                 scalarConst(b, loc, d.getType(), 1), d);
}

/// Integer a / d, truncating, without traps: x / 0 gives x, and MIN / -1
/// wraps to MIN (the only other signed overflow) instead of trapping.
Value intDivide(OpBuilder &b, Location loc, Value a, Value d) {
  Value minusOne = scalarConst(b, loc, d.getType(), -1);
  Value byMinusOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, d, minusOne);
  Value negated =
      arith::SubIOp::create(b, loc, scalarConst(b, loc, a.getType(), 0), a);
  Value one = scalarConst(b, loc, d.getType(), 1);
  // Divide by 1 where the divisor is -1; the select takes -a there.
  Value divisor = arith::SelectOp::create(b, loc, byMinusOne, one,
                                          safeDivisor(b, loc, d));
  Value q = arith::DivSIOp::create(b, loc, a, divisor);
  return arith::SelectOp::create(b, loc, byMinusOne, negated, q);
}

/// ONNX Mod on integers: the remainder takes the divisor's sign (Python's %)
/// unless `fmod`; a zero divisor leaves 0.
Value intMod(OpBuilder &b, Location loc, Value a, Value d, bool fmod) {
  Type t = a.getType();
  Value zero = scalarConst(b, loc, t, 0);
  Value minusOne = scalarConst(b, loc, t, -1);
  Value safe = safeDivisor(b, loc, d);
  // MIN % -1 traps like MIN / -1; its remainder is 0.
  Value byMinusOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, d, minusOne);
  safe = arith::SelectOp::create(b, loc, byMinusOne, scalarConst(b, loc, t, 1),
                                 safe);
  Value r = arith::RemSIOp::create(b, loc, a, safe);
  Value isZeroDivisor =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, d, zero);
  r = arith::SelectOp::create(b, loc, isZeroDivisor, zero, r);
  if (fmod)
    return r;
  Value rNeg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, zero);
  Value dNeg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, d, zero);
  Value rNonZero =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, r, zero);
  Value fix = arith::AndIOp::create(
      b, loc, rNonZero, arith::XOrIOp::create(b, loc, rNeg, dNeg));
  return arith::SelectOp::create(b, loc, fix, arith::AddIOp::create(b, loc, r, d),
                                 r);
}

/// -1, 0 or 1 by the sign of x; a float NaN stays NaN.
Value signScalar(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value zero = scalarConst(b, loc, t, 0), one = scalarConst(b, loc, t, 1),
        minusOne = scalarConst(b, loc, t, -1);
  Value pos, neg;
  if (isa<FloatType>(t)) {
    pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
    neg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
  } else {
    pos = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, x, zero);
    neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
  }
  // x itself where it is neither: 0 (or -0.0, or NaN).
  return arith::SelectOp::create(
      b, loc, pos, one, arith::SelectOp::create(b, loc, neg, minusOne, x));
}

/// alpha * (exp(x) - 1), the negative branch of Elu, Selu and Celu.
Value expm1Scaled(OpBuilder &b, Location loc, Value x, double alpha) {
  Type t = x.getType();
  return arith::MulFOp::create(b, loc, scalarConst(b, loc, t, alpha),
                               math::ExpM1Op::create(b, loc, x));
}

Value selectNegative(OpBuilder &b, Location loc, Value x, Value ifNegative,
                     Value otherwise) {
  Value neg = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                                    scalarConst(b, loc, x.getType(), 0));
  return arith::SelectOp::create(b, loc, neg, ifNegative, otherwise);
}

double alphaOf(Operation *op) {
  return cast<FloatAttr>(op->getAttr("alpha")).getValueAsDouble();
}
double betaOf(Operation *op) {
  return cast<FloatAttr>(op->getAttr("beta")).getValueAsDouble();
}

} // namespace

void mlir::actsparse::lowering::populateElementwisePatterns(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ElementwiseLowering<AddOp>>(
      ctx, arithBody<AddOp, arith::AddFOp, arith::AddIOp>);
  patterns.add<ElementwiseLowering<SubOp>>(
      ctx, arithBody<SubOp, arith::SubFOp, arith::SubIOp>);
  patterns.add<ElementwiseLowering<MulOp>>(
      ctx, arithBody<MulOp, arith::MulFOp, arith::MulIOp>);
  patterns.add<ElementwiseLowering<DivOp>>(
      ctx, +[](DivOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        if (isa<FloatType>(a[0].getType()))
          return arith::DivFOp::create(b, l, a[0], a[1]);
        if (op.getIsUnsigned()) // x / 0 gives x, as for signed integers
          return arith::DivUIOp::create(b, l, a[0], safeDivisor(b, l, a[1]));
        return intDivide(b, l, a[0], a[1]);
      });
  patterns.add<ElementwiseLowering<MinOp>>(
      ctx, minMaxBody<MinOp, arith::MinimumFOp, arith::MinSIOp, arith::MinUIOp>);
  patterns.add<ElementwiseLowering<MaxOp>>(
      ctx, minMaxBody<MaxOp, arith::MaximumFOp, arith::MaxSIOp, arith::MaxUIOp>);
  patterns.add<ElementwiseLowering<ModOp>>(
      ctx, +[](ModOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        if (isa<FloatType>(a[0].getType()))
          return arith::RemFOp::create(b, l, a[0], a[1]);
        if (op.getIsUnsigned()) {
          // Both signs agree: the remainder; 0 for a zero divisor.
          Value zero = scalarConst(b, l, a[0].getType(), 0);
          Value r = arith::RemUIOp::create(b, l, a[0], safeDivisor(b, l, a[1]));
          Value byZero = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                               a[1], zero);
          return arith::SelectOp::create(b, l, byZero, zero, r);
        }
        return intMod(b, l, a[0], a[1], op.getFmod());
      });
  patterns.add<ElementwiseLowering<AndOp>>(
      ctx, arithBody<AndOp, arith::AndIOp, arith::AndIOp>);
  patterns.add<ElementwiseLowering<OrOp>>(
      ctx, arithBody<OrOp, arith::OrIOp, arith::OrIOp>);
  patterns.add<ElementwiseLowering<XorOp>>(
      ctx, arithBody<XorOp, arith::XOrIOp, arith::XOrIOp>);
  patterns.add<ElementwiseLowering<NotOp>>(
      ctx, +[](NotOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::XOrIOp::create(b, l, a[0],
                                     scalarConst(b, l, a[0].getType(), 1));
      });
  patterns.add<ElementwiseLowering<IsNaNOp>>(
      ctx, +[](IsNaNOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, a[0],
                                     a[0]);
      });
  patterns.add<ElementwiseLowering<IsInfOp>>(
      ctx, +[](IsInfOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Type t = a[0].getType();
        double inf = std::numeric_limits<double>::infinity();
        Value r = scalarConst(b, l, b.getI1Type(), 0);
        if (op.getDetectPositive())
          r = arith::OrIOp::create(
              b, l, r,
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[0],
                                    scalarConst(b, l, t, inf)));
        if (op.getDetectNegative())
          r = arith::OrIOp::create(
              b, l, r,
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[0],
                                    scalarConst(b, l, t, -inf)));
        return r;
      });
  using P = arith::CmpFPredicate;
  using I = arith::CmpIPredicate;
  patterns.add<ElementwiseLowering<EqualOp>>(
      ctx, compareBody<EqualOp, P::OEQ, I::eq, I::eq>);
  patterns.add<ElementwiseLowering<LessOp>>(
      ctx, compareBody<LessOp, P::OLT, I::slt, I::ult>);
  patterns.add<ElementwiseLowering<LessOrEqualOp>>(
      ctx, compareBody<LessOrEqualOp, P::OLE, I::sle, I::ule>);
  patterns.add<ElementwiseLowering<GreaterOp>>(
      ctx, compareBody<GreaterOp, P::OGT, I::sgt, I::ugt>);
  patterns.add<ElementwiseLowering<GreaterOrEqualOp>>(
      ctx, compareBody<GreaterOrEqualOp, P::OGE, I::sge, I::uge>);
  patterns.add<ElementwiseLowering<PowOp>>(
      ctx, +[](PowOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        // x^2, as RMSNorm exports write x * x: one multiply (correctly
        // rounded, like powf here) instead of a call to powf per element.
        DenseElementsAttr exponent;
        if (matchPattern(op.getRhs(), m_Constant(&exponent)) &&
            exponent.isSplat() &&
            exponent.getSplatValue<APFloat>().isExactlyValue(2.0))
          return arith::MulFOp::create(b, l, a[0], a[0]);
        return math::PowFOp::create(b, l, a[0], a[1]);
      });
  patterns.add<ElementwiseLowering<WhereOp>>(
      ctx, +[](WhereOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::SelectOp::create(b, l, a[0], a[1], a[2]);
      });
  patterns.add<ElementwiseLowering<CastOp>>(
      ctx, +[](CastOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        return castScalar(b, l, a[0], op.getType().getElementType(),
                          op.getFromUnsigned(), op.getToUnsigned());
      });

  patterns.add<ElementwiseLowering<NegOp>>(
      ctx, +[](NegOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        if (isa<FloatType>(x.getType()))
          return arith::NegFOp::create(b, l, x);
        return arith::SubIOp::create(b, l, scalarConst(b, l, x.getType(), 0),
                                     x);
      });
  patterns.add<ElementwiseLowering<SqrtOp>>(ctx, mathBody<SqrtOp, math::SqrtOp>);
  patterns.add<ElementwiseLowering<AbsOp>>(
      ctx, +[](AbsOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        if (isa<FloatType>(a[0].getType()))
          return math::AbsFOp::create(b, l, a[0]);
        return math::AbsIOp::create(b, l, a[0]);
      });
  patterns.add<ElementwiseLowering<SignOp>>(
      ctx, +[](SignOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return signScalar(b, l, a[0]);
      });
  patterns.add<ElementwiseLowering<LogOp>>(ctx, mathBody<LogOp, math::LogOp>);
  patterns.add<ElementwiseLowering<TanOp>>(ctx, mathBody<TanOp, math::TanOp>);
  patterns.add<ElementwiseLowering<AsinOp>>(ctx, mathBody<AsinOp, math::AsinOp>);
  patterns.add<ElementwiseLowering<AcosOp>>(ctx, mathBody<AcosOp, math::AcosOp>);
  patterns.add<ElementwiseLowering<AtanOp>>(ctx, mathBody<AtanOp, math::AtanOp>);
  patterns.add<ElementwiseLowering<SinhOp>>(ctx, mathBody<SinhOp, math::SinhOp>);
  patterns.add<ElementwiseLowering<CoshOp>>(ctx, mathBody<CoshOp, math::CoshOp>);
  patterns.add<ElementwiseLowering<AsinhOp>>(ctx,
                                             mathBody<AsinhOp, math::AsinhOp>);
  patterns.add<ElementwiseLowering<AcoshOp>>(ctx,
                                             mathBody<AcoshOp, math::AcoshOp>);
  patterns.add<ElementwiseLowering<AtanhOp>>(ctx,
                                             mathBody<AtanhOp, math::AtanhOp>);
  patterns.add<ElementwiseLowering<HardSwishOp>>(
      ctx, +[](HardSwishOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Type t = x.getType();
        Value g = arith::AddFOp::create(
            b, l, arith::MulFOp::create(b, l, x, scalarConst(b, l, t, 1.0 / 6)),
            scalarConst(b, l, t, 0.5));
        g = arith::MinimumFOp::create(b, l, g, scalarConst(b, l, t, 1));
        g = arith::MaximumFOp::create(b, l, g, scalarConst(b, l, t, 0));
        return arith::MulFOp::create(b, l, x, g);
      });
  patterns.add<ElementwiseLowering<ShrinkOp>>(
      ctx, +[](ShrinkOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Type t = x.getType();
        Value lambd = scalarConst(b, l, t, alphaOf(op));
        Value bias = scalarConst(b, l, t, betaOf(op));
        Value below = arith::CmpFOp::create(
            b, l, arith::CmpFPredicate::OLT, x,
            arith::NegFOp::create(b, l, lambd));
        Value above =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, lambd);
        Value zero = scalarConst(b, l, t, 0);
        return arith::SelectOp::create(
            b, l, below, arith::AddFOp::create(b, l, x, bias),
            arith::SelectOp::create(b, l, above,
                                    arith::SubFOp::create(b, l, x, bias), zero));
      });
  patterns.add<ElementwiseLowering<PReluOp>>(
      ctx, +[](PReluOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return selectNegative(b, l, x, arith::MulFOp::create(b, l, a[1], x), x);
      });
  patterns.add<ElementwiseLowering<FloorOp>>(ctx,
                                             mathBody<FloorOp, math::FloorOp>);
  patterns.add<ElementwiseLowering<CeilOp>>(ctx, mathBody<CeilOp, math::CeilOp>);
  patterns.add<ElementwiseLowering<RoundOp>>(
      ctx, mathBody<RoundOp, math::RoundEvenOp>);
  patterns.add<ElementwiseLowering<SoftplusOp>>(
      ctx, +[](SoftplusOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return math::Log1pOp::create(b, l, math::ExpOp::create(b, l, a[0]));
      });
  patterns.add<ElementwiseLowering<SoftsignOp>>(
      ctx, +[](SoftsignOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Value den = arith::AddFOp::create(b, l, scalarConst(b, l, x.getType(), 1),
                                          math::AbsFOp::create(b, l, x));
        return arith::DivFOp::create(b, l, x, den);
      });
  patterns.add<ElementwiseLowering<LeakyReluOp>>(
      ctx, +[](LeakyReluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Value scaled = arith::MulFOp::create(
            b, l, scalarConst(b, l, x.getType(), alphaOf(op)), x);
        return selectNegative(b, l, x, scaled, x);
      });
  patterns.add<ElementwiseLowering<HardSigmoidOp>>(
      ctx, +[](HardSigmoidOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Type t = x.getType();
        Value y = arith::AddFOp::create(
            b, l, arith::MulFOp::create(b, l, scalarConst(b, l, t, alphaOf(op)), x),
            scalarConst(b, l, t, betaOf(op)));
        y = arith::MinimumFOp::create(b, l, y, scalarConst(b, l, t, 1));
        return arith::MaximumFOp::create(b, l, y, scalarConst(b, l, t, 0));
      });
  patterns.add<ElementwiseLowering<EluOp>>(
      ctx, +[](EluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return selectNegative(b, l, x, expm1Scaled(b, l, x, alphaOf(op)), x);
      });
  patterns.add<ElementwiseLowering<SeluOp>>(
      ctx, +[](SeluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Value gt = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                                         scalarConst(b, l, x.getType(), 0));
        Value y = arith::SelectOp::create(b, l, gt, x,
                                          expm1Scaled(b, l, x, alphaOf(op)));
        return arith::MulFOp::create(
            b, l, scalarConst(b, l, x.getType(), betaOf(op)), y);
      });
  patterns.add<ElementwiseLowering<CeluOp>>(
      ctx, +[](CeluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        Type t = x.getType();
        double alpha = alphaOf(op);
        Value neg = expm1Scaled(
            b, l, arith::DivFOp::create(b, l, x, scalarConst(b, l, t, alpha)),
            alpha);
        Value zero = scalarConst(b, l, t, 0);
        return arith::AddFOp::create(b, l, arith::MaximumFOp::create(b, l, x, zero),
                                     arith::MinimumFOp::create(b, l, neg, zero));
      });
  patterns.add<ElementwiseLowering<ReciprocalOp>>(
      ctx, +[](ReciprocalOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return arith::DivFOp::create(b, l, scalarConst(b, l, x.getType(), 1.0),
                                     x);
      });
  patterns.add<ElementwiseLowering<ExpOp>>(ctx, mathBody<ExpOp, math::ExpOp>);
  patterns.add<ElementwiseLowering<TanhOp>>(ctx, mathBody<TanhOp, math::TanhOp>);
  patterns.add<ElementwiseLowering<CosOp>>(ctx, mathBody<CosOp, math::CosOp>);
  patterns.add<ElementwiseLowering<SinOp>>(ctx, mathBody<SinOp, math::SinOp>);
  patterns.add<ElementwiseLowering<ErfOp>>(ctx, mathBody<ErfOp, math::ErfOp>);
  patterns.add<ElementwiseLowering<SigmoidOp>>(
      ctx, +[](SigmoidOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return sigmoidScalar(b, l, x);
      });
  patterns.add<ElementwiseLowering<ReluOp>>(
      ctx, +[](ReluOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return reluScalar(b, l, x, scalarConst(b, l, x.getType(), 0.0));
      });
  patterns.add<ElementwiseLowering<ThresholdedReluOp>>(
      ctx, +[](ThresholdedReluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return reluScalar(
            b, l, x,
            scalarConst(b, l, x.getType(), op.getAlpha().convertToDouble()));
      });
  patterns.add<ElementwiseLowering<SiluOp>>(
      ctx, +[](SiluOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return arith::MulFOp::create(b, l, x, sigmoidScalar(b, l, x));
      });
  patterns.add<ElementwiseLowering<GeluOp>>(
      ctx, +[](GeluOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return geluScalar(b, l, x, op.getTanh());
      });
}
