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
#include "mlir/Transforms/DialectConversion.h"

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

template <typename OpTy, arith::CmpFPredicate F, arith::CmpIPredicate I>
Value compareBody(OpTy, OpBuilder &b, Location loc, ValueRange a) {
  if (isa<FloatType>(a[0].getType()))
    return arith::CmpFOp::create(b, loc, F, a[0], a[1]);
  return arith::CmpIOp::create(b, loc, I, a[0], a[1]);
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
      ctx, arithBody<DivOp, arith::DivFOp, arith::DivSIOp>);
  using P = arith::CmpFPredicate;
  using I = arith::CmpIPredicate;
  patterns.add<ElementwiseLowering<EqualOp>>(
      ctx, compareBody<EqualOp, P::OEQ, I::eq>);
  patterns.add<ElementwiseLowering<LessOp>>(
      ctx, compareBody<LessOp, P::OLT, I::slt>);
  patterns.add<ElementwiseLowering<LessOrEqualOp>>(
      ctx, compareBody<LessOrEqualOp, P::OLE, I::sle>);
  patterns.add<ElementwiseLowering<GreaterOp>>(
      ctx, compareBody<GreaterOp, P::OGT, I::sgt>);
  patterns.add<ElementwiseLowering<GreaterOrEqualOp>>(
      ctx, compareBody<GreaterOrEqualOp, P::OGE, I::sge>);
  patterns.add<ElementwiseLowering<PowOp>>(
      ctx, +[](PowOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return math::PowFOp::create(b, l, a[0], a[1]);
      });
  patterns.add<ElementwiseLowering<WhereOp>>(
      ctx, +[](WhereOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::SelectOp::create(b, l, a[0], a[1], a[2]);
      });
  patterns.add<ElementwiseLowering<CastOp>>(
      ctx, +[](CastOp op, OpBuilder &b, Location l, ValueRange a) -> Value {
        return castScalar(b, l, a[0], op.getType().getElementType());
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
