//===- ActSparseToLinalg.cpp - actsparse ops to linalg/tensor/arith -------===//
//
// Lowers the ONNX-semantics graph ops to upstream tensor-level IR (linalg,
// tensor, arith, math) that one-shot bufferization and the LLVM pipeline take
// from there. Broadcasting follows ONNX: a dimension that is statically 1 is
// broadcast; dynamic dimensions are assumed to agree at run time, as ONNX
// shape inference assumes. Weight references become trailing arguments of
// the function, tagged with their weight-pack names: that is the entry ABI
// the runtime calls (runtime/include/actsparse/runtime/Abi.h).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

RankedTensorType tensorTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value scalarConst(OpBuilder &b, Location loc, Type t, double v) {
  if (isa<FloatType>(t))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, (int64_t)v));
}

Value toIndex(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

/// Size of dimension `d` of `v`, static when known.
OpFoldResult dimOf(OpBuilder &b, Location loc, Value v, int64_t d) {
  return tensor::getMixedSize(b, loc, v, d);
}

Value dimValue(OpBuilder &b, Location loc, Value v, int64_t d) {
  return getValueOrCreateConstantIndexOp(b, loc, dimOf(b, loc, v, d));
}

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elt) {
  return tensor::EmptyOp::create(b, loc, sizes, elt);
}

/// Result sizes of an ONNX broadcast of `operands` to `type`: static dims as
/// given, dynamic ones from an operand whose aligned dimension is not 1.
SmallVector<OpFoldResult> broadcastSizes(OpBuilder &b, Location loc,
                                         RankedTensorType type,
                                         ValueRange operands) {
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < rank; ++i) {
    if (!type.isDynamicDim(i)) {
      sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
      continue;
    }
    OpFoldResult size;
    for (Value v : operands) {
      auto t = tensorTypeOf(v);
      int64_t d = i - (rank - t.getRank());
      if (d < 0 || t.getDimSize(d) == 1)
        continue;
      size = dimOf(b, loc, v, d);
      break;
    }
    sizes.push_back(size ? size : b.getIndexAttr(1));
  }
  return sizes;
}

/// The map reading `operand` inside a broadcast to rank `rank`.
AffineMap broadcastMap(OpBuilder &b, RankedTensorType operand,
                       RankedTensorType result) {
  int64_t rank = result.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < operand.getRank(); ++d) {
    int64_t i = d + rank - operand.getRank();
    if (operand.getDimSize(d) == 1 && result.getDimSize(i) != 1)
      exprs.push_back(b.getAffineConstantExpr(0));
    else
      exprs.push_back(b.getAffineDimExpr(i));
  }
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

func::FuncOp getRuntimeFunction(Operation *op, StringRef name,
                                FunctionType type);

/// An operand whose dimensions are only known at run time is read whole
/// along them (broadcastMap), so each must equal the result's size there.
/// ONNX would broadcast such a dimension when it is 1; the importer infers
/// every dimension it can, and what is left is checked here: a mismatch is
/// reported to the runtime (which fails the call) and the operand replaced
/// by a placeholder of the right size, so nothing is read out of bounds and
/// no wrong number is returned silently.
Value guardDynamicDims(OpBuilder &b, Location loc, Value v,
                       RankedTensorType type, ArrayRef<OpFoldResult> sizes) {
  auto t = tensorTypeOf(v);
  int64_t offset = type.getRank() - t.getRank();
  Value ok;
  SmallVector<std::pair<Value, Value>> checks; // (operand dim, needed size)
  for (int64_t d = 0; d < t.getRank(); ++d) {
    if (!t.isDynamicDim(d))
      continue;
    // The result's size may be this very dimension (broadcastSizes).
    if (auto need = dyn_cast<Value>(sizes[d + offset]))
      if (auto dim = need.getDefiningOp<tensor::DimOp>())
        if (dim.getSource() == v && getConstantIntValue(dim.getIndex()) == d)
          continue;
    Value got = tensor::DimOp::create(b, loc, v, d);
    Value need = getValueOrCreateConstantIndexOp(b, loc, sizes[d + offset]);
    Value eq =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, got, need);
    ok = ok ? arith::AndIOp::create(b, loc, ok, eq) : eq;
    checks.push_back({got, need});
  }
  if (!ok)
    return v;
  Type i64 = b.getI64Type();
  func::FuncOp report = getRuntimeFunction(
      b.getInsertionBlock()->getParentOp(),
      ::actsparse::runtime::kShapeMismatchSymbol,
      FunctionType::get(b.getContext(), {i64, i64}, {}));
  auto ifOp = scf::IfOp::create(
      b, loc, ok,
      [&](OpBuilder &nb, Location nl) { scf::YieldOp::create(nb, nl, v); },
      [&](OpBuilder &nb, Location nl) {
        // Report the first mismatching dimension.
        Value got = checks.back().first, need = checks.back().second;
        for (auto [g, n] : llvm::reverse(ArrayRef(checks).drop_back())) {
          Value differs = arith::CmpIOp::create(
              nb, nl, arith::CmpIPredicate::ne, g, n);
          got = arith::SelectOp::create(nb, nl, differs, g, got);
          need = arith::SelectOp::create(nb, nl, differs, n, need);
        }
        func::CallOp::create(
            nb, nl, report,
            ValueRange{arith::IndexCastOp::create(nb, nl, i64, got),
                       arith::IndexCastOp::create(nb, nl, i64, need)});
        SmallVector<OpFoldResult> placeholder;
        for (int64_t d = 0; d < t.getRank(); ++d)
          placeholder.push_back(t.isDynamicDim(d)
                                    ? sizes[d + offset]
                                    : OpFoldResult(nb.getIndexAttr(
                                          t.getDimSize(d))));
        Value e = tensor::EmptyOp::create(nb, nl, placeholder,
                                          t.getElementType());
        scf::YieldOp::create(nb, nl,
                             (Value)tensor::CastOp::create(nb, nl, t, e));
      });
  return ifOp.getResult(0);
}

/// An elementwise linalg.generic over `operands` broadcast to `type`.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType type,
                  ValueRange operandsIn, BodyFn body) {
  SmallVector<OpFoldResult> sizes =
      broadcastSizes(b, loc, type, operandsIn);
  SmallVector<Value> operands;
  for (Value v : operandsIn)
    operands.push_back(guardDynamicDims(b, loc, v, type, sizes));
  SmallVector<AffineMap> maps;
  for (Value v : operands)
    maps.push_back(broadcastMap(b, tensorTypeOf(v), type));
  maps.push_back(b.getMultiDimIdentityMap(type.getRank()));
  Value init = emptyTensor(b, loc, sizes, type.getElementType());
  SmallVector<utils::IteratorType> iters(type.getRank(),
                                         utils::IteratorType::parallel);
  auto op = linalg::GenericOp::create(
      b, loc, type, operands, init, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = body(nb, nl, args.drop_back());
        linalg::YieldOp::create(nb, nl, r);
      });
  return op.getResult(0);
}

/// Reduces `input` over the sorted `axes`, dropping them from the result,
/// into an accumulator of `init`'s type.
Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes,
             Value init, BodyFn combine) {
  auto type = tensorTypeOf(input);
  Type acc = init.getType();
  int64_t rank = type.getRank();
  SmallVector<AffineExpr> outExprs;
  SmallVector<OpFoldResult> sizes;
  SmallVector<int64_t> shape;
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = llvm::is_contained(axes, i);
    iters.push_back(reduced ? utils::IteratorType::reduction
                            : utils::IteratorType::parallel);
    if (reduced)
      continue;
    outExprs.push_back(b.getAffineDimExpr(i));
    sizes.push_back(dimOf(b, loc, input, i));
    shape.push_back(type.getDimSize(i));
  }
  auto outType = RankedTensorType::get(shape, acc);
  Value filled =
      linalg::FillOp::create(b, loc, init, emptyTensor(b, loc, sizes, acc))
          .getResult(0);
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(rank),
      AffineMap::get(rank, 0, outExprs, b.getContext())};
  auto op = linalg::GenericOp::create(
      b, loc, outType, input, filled, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, combine(nb, nl, args));
      });
  return op.getResult(0);
}

/// Map reading a tensor reduced over `axes` from the full iteration space.
AffineMap droppedAxesMap(OpBuilder &b, int64_t rank, ArrayRef<int64_t> axes) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (!llvm::is_contained(axes, i))
      exprs.push_back(b.getAffineDimExpr(i));
  return AffineMap::get(rank, 0, exprs, b.getContext());
}

/// Number of elements over `axes` of `v`, as a float of type `t`.
Value countOf(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> axes,
              Type t) {
  Value n = indexConst(b, loc, 1);
  for (int64_t a : axes)
    n = arith::MulIOp::create(b, loc, n, dimValue(b, loc, v, a));
  Value i = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
  return arith::SIToFPOp::create(b, loc, t, i);
}

/// Mean over `axes` (sorted), without the reduced dimensions. f32 sums
/// accumulate in f64: a norm over 576-2048 elements summed in f32 drifts
/// by ~1e-6 relative, which 30 layers turn into 1e-4 on the logits.
Value meanOver(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> axes) {
  Type t = tensorTypeOf(x).getElementType();
  Type acc = t.isF32() ? b.getF64Type() : t;
  Value sum = reduce(b, loc, x, axes, scalarConst(b, loc, acc, 0.0),
                     [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                       Value v = a[0];
                       if (v.getType() != acc)
                         v = arith::ExtFOp::create(nb, nl, acc, v);
                       return arith::AddFOp::create(nb, nl, v, a[1]);
                     });
  Value count = countOf(b, loc, x, axes, acc);
  auto meanType = tensorTypeOf(sum).clone(t);
  return elementwise(b, loc, meanType, sum,
                     [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                       Value m = arith::DivFOp::create(nb, nl, a[0], count);
                       return m.getType() == t
                                  ? m
                                  : (Value)arith::TruncFOp::create(nb, nl, t, m);
                     });
}

Value sigmoidScalar(OpBuilder &b, Location loc, Value x) {
  Value one = scalarConst(b, loc, x.getType(), 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

//===----------------------------------------------------------------------===//
// Elementwise patterns
//===----------------------------------------------------------------------===//

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

Value castScalar(OpBuilder &b, Location loc, Value x, Type to) {
  Type from = x.getType();
  if (from == to)
    return x;
  bool fromF = isa<FloatType>(from), toF = isa<FloatType>(to);
  if (to.isInteger(1)) {
    Value zero = scalarConst(b, loc, from, 0);
    return fromF ? (Value)arith::CmpFOp::create(
                       b, loc, arith::CmpFPredicate::UNE, x, zero)
                 : (Value)arith::CmpIOp::create(
                       b, loc, arith::CmpIPredicate::ne, x, zero);
  }
  if (from.isInteger(1))
    return toF ? (Value)arith::UIToFPOp::create(b, loc, to, x)
               : (Value)arith::ExtUIOp::create(b, loc, to, x);
  if (fromF && toF)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? (Value)arith::ExtFOp::create(b, loc, to, x)
               : (Value)arith::TruncFOp::create(b, loc, to, x);
  if (fromF)
    return arith::FPToSIOp::create(b, loc, to, x);
  if (toF)
    return arith::SIToFPOp::create(b, loc, to, x);
  return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
             ? (Value)arith::ExtSIOp::create(b, loc, to, x)
             : (Value)arith::TruncIOp::create(b, loc, to, x);
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Linear algebra and reductions
//===----------------------------------------------------------------------===//

/// A tensor<Nxi64> holding index values, the shape operand of tensor.reshape.
Value i64ShapeTensor(OpBuilder &b, Location loc, ArrayRef<Value> dims) {
  SmallVector<Value> elems;
  for (Value d : dims)
    elems.push_back(arith::IndexCastOp::create(b, loc, b.getI64Type(), d));
  return tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({(int64_t)dims.size()}, b.getI64Type()),
      elems);
}

/// `v[d0, ..., dn-1, K]` as a row-major `[d0 * ... * dn-1, K]` view through
/// tensor.reshape (memref.reshape after bufferization), which keeps the
/// leading dims dynamic without strided collapse/expand views. `leading`
/// receives the sizes of the leading dims. Needs a static K and rank >= 2.
Value flattenToRows(OpBuilder &b, Location loc, Value v,
                    SmallVector<Value> &leading) {
  auto t = tensorTypeOf(v);
  int64_t r = t.getRank();
  Value rowsCount = indexConst(b, loc, 1);
  for (int64_t i = 0; i < r - 1; ++i) {
    leading.push_back(dimValue(b, loc, v, i));
    rowsCount = arith::MulIOp::create(b, loc, rowsCount, leading.back());
  }
  if (r == 2)
    return v;
  int64_t k = t.getDimSize(r - 1);
  return tensor::ReshapeOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, k}, t.getElementType()),
      v, i64ShapeTensor(b, loc, {rowsCount, indexConst(b, loc, k)}));
}

/// X[..., M, K] @ W[K, N] with a static f32 W (the projections that stream
/// weights) becomes a 2-D generic tagged with the runtime kernel as its
/// library call; convert-linalg-to-std turns it into a call after
/// bufferization. Everything else stays a plain generic.
LogicalResult lowerToLibraryCall(MatMulOp op, Value lhs, Value rhs,
                                 ConversionPatternRewriter &b) {
  // MatMul(x, Transpose(W)) reads W in place, row by row (a classifier tied
  // to the embedding), instead of transposing it on every call.
  bool transposed = false;
  if (auto t = op.getRhs().getDefiningOp<TransposeOp>();
      t && t.getPerm() == ArrayRef<int64_t>{1, 0}) {
    rhs = b.getRemappedValue(t.getInput());
    transposed = true;
  }
  auto lt = tensorTypeOf(lhs), rt = tensorTypeOf(rhs);
  RankedTensorType type = op.getType();
  int64_t r = lt.getRank();
  if (!type.getElementType().isF32() || rt.getRank() != 2 ||
      !rt.hasStaticShape() || r < 2 || lt.isDynamicDim(r - 1))
    return failure();
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> leading;
  Value a2 = flattenToRows(b, loc, lhs, leading);
  int64_t n = rt.getDimSize(transposed ? 0 : 1);
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, a2, 0), b.getIndexAttr(n)};
  Type f32 = b.getF32Type();
  Value init = linalg::FillOp::create(b, loc, scalarConst(b, loc, f32, 0.0),
                                      emptyTensor(b, loc, sizes, f32))
                   .getResult(0);
  AffineExpr m = b.getAffineDimExpr(0), k = b.getAffineDimExpr(1),
             nn = b.getAffineDimExpr(2);
  SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, k}, ctx),
                                 AffineMap::get(3, 0, transposed
                                                          ? ArrayRef{nn, k}
                                                          : ArrayRef{k, nn},
                                                ctx),
                                 AffineMap::get(3, 0, {m, nn}, ctx)};
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{a2, rhs}, init, maps,
      {utils::IteratorType::parallel, utils::IteratorType::reduction,
       utils::IteratorType::parallel},
      [](OpBuilder &nb, Location nl, ValueRange a) {
        Value prod = arith::MulFOp::create(nb, nl, a[0], a[1]);
        linalg::YieldOp::create(nb, nl,
                                (Value)arith::AddFOp::create(nb, nl, a[2], prod));
      });
  generic.setLibraryCallAttr(
      b.getStringAttr(transposed ? ::actsparse::runtime::kMatMulNtLibraryCall
                                 : ::actsparse::runtime::kMatMulLibraryCall));
  Value result = generic.getResult(0);
  if (r > 2) {
    leading.push_back(indexConst(b, loc, n));
    result = tensor::ReshapeOp::create(b, loc, type, result,
                                       i64ShapeTensor(b, loc, leading));
  }
  b.replaceOp(op, result);
  return success();
}

/// ONNX MatMul as one linalg.generic: iteration space = result dims + k.
struct MatMulLowering : OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatMulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    auto lt = tensorTypeOf(lhs), rt = tensorTypeOf(rhs);
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank();
    if (succeeded(lowerToLibraryCall(op, lhs, rhs, rewriter)))
      return success();
    bool lVec = lt.getRank() == 1, rVec = rt.getRank() == 1;
    int64_t batch = rank - (lVec ? 0 : 1) - (rVec ? 0 : 1);
    // Iteration space: batch dims, m, k, n. The reduction sits before n so
    // the innermost loop walks a weight row and the output row contiguously,
    // which LLVM vectorizes.
    int64_t mDim = batch, kDim = batch + (lVec ? 0 : 1), nDim = kDim + 1;
    int64_t numDims = rank + 1;
    MLIRContext *ctx = rewriter.getContext();
    auto batchExprs = [&](RankedTensorType t, int64_t own) {
      SmallVector<AffineExpr> e;
      for (int64_t d = 0; d < own; ++d) {
        int64_t i = d + batch - own;
        e.push_back(t.getDimSize(d) == 1 && type.getDimSize(i) != 1
                        ? rewriter.getAffineConstantExpr(0)
                        : rewriter.getAffineDimExpr(i));
      }
      return e;
    };
    SmallVector<AffineExpr> le = batchExprs(lt, lVec ? 0 : lt.getRank() - 2);
    if (!lVec)
      le.push_back(rewriter.getAffineDimExpr(mDim));
    le.push_back(rewriter.getAffineDimExpr(kDim));
    SmallVector<AffineExpr> re = batchExprs(rt, rVec ? 0 : rt.getRank() - 2);
    re.push_back(rewriter.getAffineDimExpr(kDim));
    if (!rVec)
      re.push_back(rewriter.getAffineDimExpr(nDim));
    SmallVector<AffineExpr> oe;
    for (int64_t i = 0; i < batch; ++i)
      oe.push_back(rewriter.getAffineDimExpr(i));
    if (!lVec)
      oe.push_back(rewriter.getAffineDimExpr(mDim));
    if (!rVec)
      oe.push_back(rewriter.getAffineDimExpr(nDim));
    SmallVector<AffineMap> maps = {AffineMap::get(numDims, 0, le, ctx),
                                   AffineMap::get(numDims, 0, re, ctx),
                                   AffineMap::get(numDims, 0, oe, ctx)};
    // Result sizes: batch dims broadcast, then m and n.
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      if (!type.isDynamicDim(i)) {
        sizes.push_back(rewriter.getIndexAttr(type.getDimSize(i)));
        continue;
      }
      OpFoldResult s = rewriter.getIndexAttr(1);
      if (i < batch) {
        for (auto [v, t, own] :
             {std::tuple(lhs, lt, lVec ? 0 : lt.getRank() - 2),
              std::tuple(rhs, rt, rVec ? 0 : rt.getRank() - 2)}) {
          int64_t d = i - (batch - own);
          if (d >= 0 && t.getDimSize(d) != 1) {
            s = dimOf(rewriter, loc, v, d);
            break;
          }
        }
      } else if (i == batch && !lVec) {
        s = dimOf(rewriter, loc, lhs, lt.getRank() - 2);
      } else {
        s = dimOf(rewriter, loc, rhs, rt.getRank() - 1);
      }
      sizes.push_back(s);
    }
    Type elt = type.getElementType();
    Value init = linalg::FillOp::create(
                     rewriter, loc, scalarConst(rewriter, loc, elt, 0.0),
                     emptyTensor(rewriter, loc, sizes, elt))
                     .getResult(0);
    SmallVector<utils::IteratorType> iters(numDims,
                                           utils::IteratorType::parallel);
    iters[kDim] = utils::IteratorType::reduction;
    bool isFloat = isa<FloatType>(elt);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, type, ValueRange{lhs, rhs}, init, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value prod = isFloat ? (Value)arith::MulFOp::create(b, l, a[0], a[1])
                               : (Value)arith::MulIOp::create(b, l, a[0], a[1]);
          Value sum = isFloat ? (Value)arith::AddFOp::create(b, l, a[2], prod)
                              : (Value)arith::AddIOp::create(b, l, a[2], prod);
          linalg::YieldOp::create(b, l, sum);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct SoftmaxLowering : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    Type t = type.getElementType();
    int64_t rank = type.getRank(), axis = op.getAxis();
    Value ninf = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(t, -std::numeric_limits<double>::infinity()));
    Value max = reduce(b, loc, x, {axis}, ninf,
                       [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                         return arith::MaximumFOp::create(nb, nl, a[0], a[1]);
                       });
    AffineMap id = b.getMultiDimIdentityMap(rank);
    AffineMap drop = droppedAxesMap(b, rank, {axis});
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    auto exps = linalg::GenericOp::create(
        b, loc, type, ValueRange{x, max}, emptyTensor(b, loc, sizes, t),
        ArrayRef<AffineMap>{id, drop, id}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
          linalg::YieldOp::create(nb, nl,
                                  (Value)math::ExpOp::create(nb, nl, d));
        });
    // The sum accumulates in f64 for f32 (as meanOver does).
    Type acc = t.isF32() ? b.getF64Type() : t;
    auto widen = [&](OpBuilder &nb, Location nl, Value v) -> Value {
      return v.getType() == acc ? v : arith::ExtFOp::create(nb, nl, acc, v);
    };
    Value sum = reduce(b, loc, exps.getResult(0), {axis},
                       scalarConst(b, loc, acc, 0.0),
                       [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                         return arith::AddFOp::create(
                             nb, nl, widen(nb, nl, a[0]), a[1]);
                       });
    auto out = linalg::GenericOp::create(
        b, loc, type, ValueRange{exps.getResult(0), sum},
        emptyTensor(b, loc, sizes, t), ArrayRef<AffineMap>{id, drop, id},
        iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value q = arith::DivFOp::create(nb, nl, widen(nb, nl, a[0]), a[1]);
          if (q.getType() != t)
            q = arith::TruncFOp::create(nb, nl, t, q);
          linalg::YieldOp::create(nb, nl, q);
        });
    b.replaceOp(op, out.getResult(0));
    return success();
  }
};

/// Inserts size-1 dimensions at `unitAxes` (positions in `type`) into `src`,
/// whose dimensions are the other ones of `type`, in order.
Value insertUnitDims(OpBuilder &b, Location loc, Value src,
                     ArrayRef<int64_t> unitAxes, RankedTensorType type) {
  SmallVector<ReassociationIndices> groups;
  SmallVector<OpFoldResult> outShape;
  SmallVector<int64_t> leading;
  int64_t next = 0;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (llvm::is_contained(unitAxes, i)) {
      outShape.push_back(b.getIndexAttr(1));
      // A unit dimension joins the group of the dimension before it, or of
      // the first one when it leads.
      if (groups.empty())
        leading.push_back(i);
      else
        groups.back().push_back(i);
      continue;
    }
    outShape.push_back(dimOf(b, loc, src, next++));
    groups.emplace_back(leading.begin(), leading.end());
    leading.clear();
    groups.back().push_back(i);
  }
  // All dimensions are units: a rank-0 source expands with no groups.
  return tensor::ExpandShapeOp::create(b, loc, type, src, groups, outShape);
}

struct ReduceMeanLowering : OpConversionPattern<ReduceMeanOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReduceMeanOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Value mean = meanOver(b, op.getLoc(), adaptor.getInput(), op.getAxes());
    if (op.getKeepdims())
      mean = insertUnitDims(b, op.getLoc(), mean, op.getAxes(), op.getType());
    b.replaceOp(op, mean);
    return success();
  }
};

struct LayerNormLowering : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    Type t = type.getElementType();
    int64_t rank = type.getRank();
    SmallVector<int64_t> axes;
    for (int64_t i = op.getAxis(); i < rank; ++i)
      axes.push_back(i);
    Value mean = meanOver(b, loc, x, axes);
    AffineMap id = b.getMultiDimIdentityMap(rank);
    AffineMap drop = droppedAxesMap(b, rank, axes);
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    Value centered =
        linalg::GenericOp::create(
            b, loc, type, ValueRange{x, mean}, emptyTensor(b, loc, sizes, t),
            ArrayRef<AffineMap>{id, drop, id}, iters,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              linalg::YieldOp::create(
                  nb, nl, (Value)arith::SubFOp::create(nb, nl, a[0], a[1]));
            })
            .getResult(0);
    Value sq = elementwise(b, loc, type, centered,
                           [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                             return arith::MulFOp::create(nb, nl, a[0], a[0]);
                           });
    Value var = meanOver(b, loc, sq, axes);
    Value eps = scalarConst(b, loc, t, op.getEpsilon().convertToDouble());
    SmallVector<Value> ins = {centered, var, adaptor.getScale()};
    SmallVector<AffineMap> maps = {id, drop,
                                   broadcastMap(b, tensorTypeOf(ins[2]), type)};
    if (adaptor.getBias()) {
      ins.push_back(adaptor.getBias());
      maps.push_back(broadcastMap(b, tensorTypeOf(ins[3]), type));
    }
    maps.push_back(id);
    bool hasBias = (bool)adaptor.getBias();
    auto out = linalg::GenericOp::create(
        b, loc, type, ins, emptyTensor(b, loc, sizes, t), maps, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value denom = math::SqrtOp::create(
              nb, nl, arith::AddFOp::create(nb, nl, a[1], eps));
          Value y = arith::MulFOp::create(
              nb, nl, arith::DivFOp::create(nb, nl, a[0], denom), a[2]);
          if (hasBias)
            y = arith::AddFOp::create(nb, nl, y, a[3]);
          linalg::YieldOp::create(nb, nl, y);
        });
    b.replaceOp(op, out.getResult(0));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

/// The private declaration of runtime function `name` in `op`'s module,
/// created on first use.
func::FuncOp getRuntimeFunction(Operation *op, StringRef name,
                                FunctionType type) {
  auto module = op->getParentOfType<ModuleOp>();
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b(module.getBodyRegion());
  auto f = func::FuncOp::create(b, module.getLoc(), name, type);
  f.setPrivate();
  return f;
}

/// The runtime's out-of-range report function.
func::FuncOp getIndexErrorFunction(Operation *op) {
  Type i64 = IntegerType::get(op->getContext(), 64);
  return getRuntimeFunction(
      op, ::actsparse::runtime::kIndexOutOfRangeSymbol,
      FunctionType::get(op->getContext(), {i64, i64}, {}));
}

/// `v + size` where `v` is negative: ONNX's from-the-end indices.
static Value fromEnd(OpBuilder &b, Location loc, Value v, Value size) {
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v,
                                    indexConst(b, loc, 0));
  return arith::SelectOp::create(b, loc, neg,
                                 arith::AddIOp::create(b, loc, v, size), v);
}

/// An ONNX index into an axis of `size` entries, as generated code may use
/// it: negative values count from the end; one outside the axis is reported
/// to the runtime (`report`, which fails the call) and replaced by 0, so
/// nothing is ever read or written out of bounds.
Value checkedIndex(OpBuilder &b, Location loc, Value idx, Value size,
                   func::FuncOp report) {
  Value zero = indexConst(b, loc, 0);
  idx = fromEnd(b, loc, idx, size);
  Value inRange = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, idx, zero),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, size));
  auto ifOp = scf::IfOp::create(
      b, loc,
      arith::XOrIOp::create(b, loc, inRange,
                            arith::ConstantIntOp::create(b, loc, 1, 1)),
      /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    func::CallOp::create(
        b, loc, report,
        ValueRange{arith::IndexCastOp::create(b, loc, b.getI64Type(), idx),
                   arith::IndexCastOp::create(b, loc, b.getI64Type(), size)});
  }
  return arith::SelectOp::create(b, loc, inRange, idx, zero);
}

/// The runtime's FFN probe: it reads the block's input rows, neuron rows and
/// residual rows, so bufferization needs no copies for it.
func::FuncOp getFfnProbeFunction(Operation *op) {
  MLIRContext *ctx = op->getContext();
  Type rows = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                    Float32Type::get(ctx));
  func::FuncOp f = getRuntimeFunction(
      op, ::actsparse::runtime::kFfnProbeFunction,
      FunctionType::get(ctx, {IntegerType::get(ctx, 64), rows, rows, rows}, {}));
  UnitAttr unit = UnitAttr::get(ctx);
  f->setAttr("llvm.emit_c_interface", unit);
  for (unsigned i : {1u, 2u, 3u})
    f.setArgAttr(i, "bufferization.access", StringAttr::get(ctx, "read"));
  return f;
}

/// The residual stream `op`'s result is added to (the other operand of its
/// only user, an Add of the same type, defined before `op`), or null.
Value residualOf(Operation *op) {
  if (!op->hasOneUse())
    return nullptr;
  auto add = dyn_cast<AddOp>(*op->user_begin());
  if (!add || add.getType() != op->getResult(0).getType())
    return nullptr;
  Value other =
      add.getLhs() == op->getResult(0) ? add.getRhs() : add.getLhs();
  if (other.getType() != op->getResult(0).getType())
    return nullptr;
  Operation *def = other.getDefiningOp();
  if (def ? def->getBlock() != op->getBlock() || !def->isBeforeInBlock(op)
          : cast<BlockArgument>(other).getOwner() != op->getBlock())
    return nullptr;
  return other;
}

/// The residual rows the FFN probe and the sparse kernel receive: those of
/// the stream `op`'s result is added to, or 0 rows.
Value residualRows(ConversionPatternRewriter &b, Location loc, Operation *op,
                   int64_t features, Type elt) {
  SmallVector<Value> leading;
  Value r2;
  if (Value residual = residualOf(op))
    r2 = flattenToRows(b, loc, b.getRemappedValue(residual), leading);
  else
    r2 = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{0, features}, elt);
  return tensor::CastOp::create(
      b, loc,
      RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic}, elt),
      r2);
}

/// actsparse.ffn back to graph ops (lowered by the other patterns), with a
/// call to the runtime's FFN probe between the neurons and the down
/// projection: that is where sparse-run counts zero neurons and calibration
/// records block inputs.
struct FfnLowering : OpConversionPattern<FfnOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FfnOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto inType = tensorTypeOf(x);
    Type elt = inType.getElementType();
    SmallVector<int64_t> shape(inType.getShape());
    shape.back() = op.getNumNeurons();
    auto hidden = RankedTensorType::get(shape, elt);
    auto scalar = [&](double v) {
      auto t = RankedTensorType::get({}, elt);
      return ConstantOp::create(b, loc, t,
                                DenseElementsAttr::get(t, b.getFloatAttr(elt, v)));
    };
    auto project = [&](Value w, Value bias) -> Value {
      Value v = MatMulOp::create(b, loc, hidden, x, w);
      return bias ? AddOp::create(b, loc, hidden, v, bias) : v;
    };
    Value u = project(adaptor.getUp(), adaptor.getUpBias());
    Value pre = adaptor.getGate() ? project(adaptor.getGate(), adaptor.getGateBias())
                                  : u;
    if (Value shift = adaptor.getShift())
      pre = SubOp::create(b, loc, hidden, pre, shift);
    Value a;
    switch (op.getActivation()) {
    case Activation::relu:
      a = ReluOp::create(b, loc, pre);
      break;
    case Activation::silu:
      a = SiluOp::create(b, loc, pre);
      break;
    case Activation::gelu:
    case Activation::gelu_tanh:
      a = GeluOp::create(b, loc, pre,
                         op.getActivation() == Activation::gelu_tanh);
      break;
    }
    Value up;
    if (adaptor.getGate())
      up = op.getReluUp() ? (Value)ReluOp::create(b, loc, u) : u;
    auto times = [&](Value v) -> Value {
      return up ? MulOp::create(b, loc, hidden, v, up) : v;
    };
    Value h;
    if (std::optional<APFloat> t = op.getThreshold()) {
      // Zero v where |v| < t (tested as v * v >= t * t): v is the
      // activation, zeroed before the product, or with threshold_on =
      // neuron the neuron a * up itself.
      bool onNeuron = op.getThresholdOn() == ThresholdOn::neuron;
      Value v = onNeuron ? times(a) : a;
      double tv = t->convertToDouble();
      auto maskType = RankedTensorType::get(shape, b.getI1Type());
      Value square = MulOp::create(b, loc, hidden, v, v);
      Value keep = GreaterOrEqualOp::create(b, loc, maskType, square,
                                            scalar(tv * tv));
      v = WhereOp::create(b, loc, hidden, keep, v, scalar(0.0));
      h = onNeuron ? v : times(v);
    } else {
      h = times(a);
    }
    if (inType.getRank() >= 2 && elt.isF32() &&
        !inType.isDynamicDim(inType.getRank() - 1)) {
      auto rows = RankedTensorType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic}, elt);
      SmallVector<Value> leading;
      Value x2 = tensor::CastOp::create(b, loc, rows,
                                        flattenToRows(b, loc, x, leading));
      Value h2 = tensor::CastOp::create(b, loc, rows,
                                        flattenToRows(b, loc, h, leading));
      Value r2 =
          residualRows(b, loc, op, op.getType().getShape().back(), elt);
      Value layer = arith::ConstantIntOp::create(b, loc, op.getLayer().value_or(-1), 64);
      func::CallOp::create(b, loc, getFfnProbeFunction(op),
                           ValueRange{layer, x2, h2, r2});
    }
    Value y = MatMulOp::create(b, loc, op.getType(), h, adaptor.getDown());
    if (Value bias = adaptor.getDownBias())
      y = AddOp::create(b, loc, op.getType(), y, bias);
    b.replaceOp(op, y);
    return success();
  }
};

/// actsparse.sparse_ffn becomes one call of the runtime's sparse FFN kernel
/// on the block's rows, writing a buffer of its own (the kernel reads its
/// operands only), then the down bias.
struct SparseFfnLowering : OpConversionPattern<SparseFfnOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SparseFfnOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    namespace rt = ::actsparse::runtime;
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = b.getF32Type();
    if (op.getType().getElementType() != f32)
      return b.notifyMatchFailure(op, "the sparse FFN kernel is f32 only");
    auto rows = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic}, f32);
    auto asRows = [&](Value v) -> Value {
      return tensor::CastOp::create(b, loc, rows, v);
    };
    SmallVector<Value> leading;
    Value x2 = flattenToRows(b, loc, adaptor.getInput(), leading);
    int64_t e = op.getType().getShape().back();
    Value none = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{0, 0}, f32);
    Value a = none, bm = none, c = none;
    if (adaptor.getScoreA()) {
      a = adaptor.getScoreA();
      bm = adaptor.getScoreB();
      int64_t hidden = op.getNumNeurons();
      c = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({1, hidden}, f32),
          adaptor.getScoreBias(), ArrayRef<ReassociationIndices>{{0, 1}});
    }
    Value r2 = residualRows(b, loc, op, e, f32);

    rt::FfnKernelConfig config;
    config.fields = op.getFieldMask();
    config.activation = rt::FfnActivation(uint32_t(op.getActivation()));
    config.reluUp = op.getReluUp();
    config.thresholdOnNeuron = op.getThresholdOn() == ThresholdOn::neuron;
    if (std::optional<Predictor> p = op.getPredictor())
      config.predictor = *p == Predictor::lowrank
                             ? rt::FfnPredictorKind::LowRank
                             : rt::FfnPredictorKind::ExactGate;
    float threshold =
        op.getThreshold() ? op.getThreshold()->convertToFloat() : 0.0f;

    auto outType = MemRefType::get({ShapedType::kDynamic, e}, f32);
    Value tokens = tensor::DimOp::create(b, loc, x2, 0);
    Value out = memref::AllocOp::create(b, loc, outType, ValueRange{tokens});
    auto dynOut = MemRefType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic}, f32);
    Value outArg = memref::CastOp::create(b, loc, dynOut, out);

    Type i64 = b.getI64Type();
    auto fnType = FunctionType::get(
        ctx, {i64, i64, f32, rows, rows, rows, rows, rows, rows, dynOut}, {});
    func::FuncOp kernel =
        getRuntimeFunction(op, rt::kSparseFfnFunction, fnType);
    kernel->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    for (unsigned i = 3; i < 9; ++i)
      kernel.setArgAttr(i, "bufferization.access", b.getStringAttr("read"));
    func::CallOp::create(
        b, loc, kernel,
        ValueRange{
            arith::ConstantIntOp::create(b, loc, op.getLayer().value_or(-1), 64),
            arith::ConstantIntOp::create(b, loc, config.encode(), 64),
            arith::ConstantOp::create(b, loc, b.getF32FloatAttr(threshold)),
            asRows(x2), asRows(adaptor.getBundle()), asRows(a), asRows(bm),
            asRows(c), r2, outArg});
    Value y = bufferization::ToTensorOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic, e}, f32), out,
        /*restrict=*/true, /*writable=*/true);
    auto type = op.getType();
    if (type.getRank() != 2) {
      leading.push_back(indexConst(b, loc, e));
      y = tensor::ReshapeOp::create(b, loc, type, y,
                                    i64ShapeTensor(b, loc, leading));
    } else if (y.getType() != type) {
      y = tensor::CastOp::create(b, loc, type, y);
    }
    if (Value bias = adaptor.getDownBias())
      y = AddOp::create(b, loc, type, y, bias);
    b.replaceOp(op, y);
    return success();
  }
};

struct GatherLowering : OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getData(), indices = adaptor.getIndices();
    auto type = op.getType();
    int64_t axis = op.getAxis(), rank = type.getRank();
    int64_t idxRank = tensorTypeOf(indices).getRank();
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < axis; ++i)
      sizes.push_back(dimOf(b, loc, data, i));
    for (int64_t i = 0; i < idxRank; ++i)
      sizes.push_back(dimOf(b, loc, indices, i));
    for (int64_t i = axis + 1; i < tensorTypeOf(data).getRank(); ++i)
      sizes.push_back(dimOf(b, loc, data, i));
    SmallVector<AffineExpr> idxExprs;
    for (int64_t i = 0; i < idxRank; ++i)
      idxExprs.push_back(b.getAffineDimExpr(axis + i));
    SmallVector<AffineMap> maps = {
        AffineMap::get(rank, 0, idxExprs, b.getContext()),
        b.getMultiDimIdentityMap(rank)};
    Value axisSize = dimValue(b, loc, data, axis);
    func::FuncOp report = getIndexErrorFunction(op);
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, type, indices, emptyTensor(b, loc, sizes, type.getElementType()),
        maps, iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
          // Never read outside the table (entry 0 instead, reported).
          Value idx =
              checkedIndex(nb, nl, toIndex(nb, nl, a[0]), axisSize, report);
          SmallVector<Value> coords;
          for (int64_t i = 0; i < axis; ++i)
            coords.push_back(linalg::IndexOp::create(nb, nl, i));
          coords.push_back(idx);
          for (int64_t i = axis + 1; i < tensorTypeOf(data).getRank(); ++i)
            coords.push_back(linalg::IndexOp::create(nb, nl, i + idxRank - 1));
          linalg::YieldOp::create(
              nb, nl, (Value)tensor::ExtractOp::create(nb, nl, data, coords));
        });
    b.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct TransposeLowering : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes;
    for (int64_t p : op.getPerm())
      sizes.push_back(dimOf(b, loc, adaptor.getInput(), p));
    Value init = emptyTensor(b, loc, sizes, op.getType().getElementType());
    auto t = linalg::TransposeOp::create(b, loc, adaptor.getInput(), init,
                                         op.getPerm());
    b.replaceOp(op, t.getResult()[0]);
    return success();
  }
};

/// Element `i` of a 1-D integer tensor, as an index.
Value elementAt(OpBuilder &b, Location loc, Value t, int64_t i) {
  return toIndex(b, loc,
                 tensor::ExtractOp::create(b, loc, t,
                                           ValueRange{indexConst(b, loc, i)}));
}

struct ReshapeLowering : OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    int64_t rank = type.getRank(), inRank = tensorTypeOf(x).getRank();
    // Resolve ONNX's 0 (copy) and -1 (infer) into real sizes, in i64.
    Type i64 = b.getI64Type();
    auto c64 = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, loc, i64, v).getResult();
    };
    auto cmp = [&](arith::CmpIPredicate p, Value l, Value r) {
      return arith::CmpIOp::create(b, loc, p, l, r).getResult();
    };
    auto orI = [&](Value l, Value r) {
      return arith::OrIOp::create(b, loc, l, r).getResult();
    };
    Value zero = c64(0), one = c64(1), minus1 = c64(-1);
    Value total = one;
    for (int64_t i = 0; i < inRank; ++i)
      total = arith::MulIOp::create(
          b, loc, total,
          arith::IndexCastOp::create(b, loc, i64, dimValue(b, loc, x, i)));
    // The shape may come from the graph at run time, so it is checked as
    // ONNX requires: dimensions >= -1, at most one -1, and a product (taken
    // without overflow) that matches the tensor. A bad shape is reported to
    // the runtime, which fails the call, and the reshape goes to
    // [elements, 1, ...] so nothing is read or written out of bounds.
    Value bad = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    Value unknown = bad; // requested size meaningless: negative or overflow
    Value inferCount = zero, product = one;
    SmallVector<Value> dims;
    for (int64_t i = 0; i < rank; ++i) {
      Value d;
      if (!type.isDynamicDim(i)) {
        d = c64(type.getDimSize(i));
      } else {
        d = arith::IndexCastOp::create(b, loc, i64,
                                       elementAt(b, loc, adaptor.getShape(), i));
        if (i < inRank)
          d = arith::SelectOp::create(
              b, loc, cmp(arith::CmpIPredicate::eq, d, zero),
              arith::IndexCastOp::create(b, loc, i64, dimValue(b, loc, x, i)),
              d);
      }
      Value isInfer = cmp(arith::CmpIPredicate::eq, d, minus1);
      unknown = orI(unknown, cmp(arith::CmpIPredicate::slt, d, minus1));
      inferCount = arith::AddIOp::create(
          b, loc, inferCount, arith::SelectOp::create(b, loc, isInfer, one, zero));
      auto mul = arith::MulUIExtendedOp::create(
          b, loc, product, arith::SelectOp::create(b, loc, isInfer, one, d));
      unknown = orI(unknown, cmp(arith::CmpIPredicate::ne, mul.getHigh(), zero));
      product = mul.getLow();
      dims.push_back(d);
    }
    Value hasInfer = cmp(arith::CmpIPredicate::eq, inferCount, one);
    unknown = orI(unknown, cmp(arith::CmpIPredicate::ugt, inferCount, one));
    Value productZero = cmp(arith::CmpIPredicate::eq, product, zero);
    Value divisor = arith::SelectOp::create(b, loc, productZero, one, product);
    Value inferred = arith::DivUIOp::create(b, loc, total, divisor);
    Value remainder = arith::RemUIOp::create(b, loc, total, divisor);
    unknown = orI(unknown,
                  arith::AndIOp::create(
                      b, loc, hasInfer,
                      orI(productZero,
                          cmp(arith::CmpIPredicate::ne, remainder, zero))));
    bad = orI(unknown,
              arith::AndIOp::create(
                  b, loc,
                  cmp(arith::CmpIPredicate::eq, hasInfer,
                      arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0)),
                  cmp(arith::CmpIPredicate::ne, product, total)));
    func::FuncOp report = getRuntimeFunction(
        op->getParentOp(), ::actsparse::runtime::kInvalidReshapeSymbol,
        FunctionType::get(b.getContext(), {i64, i64}, {}));
    scf::IfOp::create(b, loc, bad, [&](OpBuilder &nb, Location nl) {
      Value requested =
          arith::SelectOp::create(nb, nl, unknown, minus1, product);
      func::CallOp::create(nb, nl, report, ValueRange{total, requested});
      scf::YieldOp::create(nb, nl);
    });
    SmallVector<Value> shape;
    for (auto [i, d] : llvm::enumerate(dims)) {
      Value isInfer = cmp(arith::CmpIPredicate::eq, d, minus1);
      Value resolved = arith::SelectOp::create(b, loc, isInfer, inferred, d);
      shape.push_back(arith::SelectOp::create(b, loc, bad, i == 0 ? total : one,
                                              resolved));
    }
    Value shapeTensor = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({rank}, b.getI64Type()), shape);
    b.replaceOpWithNewOp<tensor::ReshapeOp>(op, type, x, shapeTensor);
    return success();
  }
};

/// Clamps `v` into `[lo, hi]` (index values).
static Value clampIndex(OpBuilder &b, Location loc, Value v, Value lo,
                        Value hi) {
  return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, v, lo),
                                hi);
}


struct SliceLowering : OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getData();
    auto type = op.getType();
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
        strides(rank, b.getIndexAttr(1));
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(dimOf(b, loc, data, i));
    Value zero = indexConst(b, loc, 0);
    for (auto [i, axis, step] :
         llvm::enumerate(op.getAxes(), op.getSteps())) {
      Value d = dimValue(b, loc, data, axis);
      // ONNX: negative bounds count from the end; both clamp to [0, d].
      Value start = clampIndex(
          b, loc, fromEnd(b, loc, elementAt(b, loc, adaptor.getStarts(), i), d),
          zero, d);
      Value end = clampIndex(
          b, loc, fromEnd(b, loc, elementAt(b, loc, adaptor.getEnds(), i), d),
          zero, d);
      Value span = arith::MaxSIOp::create(
          b, loc, arith::SubIOp::create(b, loc, end, start), zero);
      Value size = arith::CeilDivSIOp::create(b, loc, span,
                                              indexConst(b, loc, step));
      offsets[axis] = start;
      sizes[axis] = type.isDynamicDim(axis)
                        ? OpFoldResult(size)
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(axis)));
      strides[axis] = b.getIndexAttr(step);
    }
    b.replaceOpWithNewOp<tensor::ExtractSliceOp>(op, type, data, offsets,
                                                 sizes, strides);
    return success();
  }
};

struct TriluLowering : OpConversionPattern<TriluOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TriluOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    int64_t rank = type.getRank();
    Value k = adaptor.getK()
                  ? toIndex(b, loc,
                            tensor::ExtractOp::create(b, loc, adaptor.getK(),
                                                      ValueRange{}))
                  : indexConst(b, loc, 0);
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(dimOf(b, loc, x, i));
    bool upper = op.getUpper();
    SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto g = linalg::GenericOp::create(
        b, loc, type, x, emptyTensor(b, loc, sizes, type.getElementType()),
        maps, iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value row = linalg::IndexOp::create(nb, nl, rank - 2);
          Value col = linalg::IndexOp::create(nb, nl, rank - 1);
          Value diff = arith::SubIOp::create(nb, nl, col, row);
          Value keep = arith::CmpIOp::create(
              nb, nl,
              upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
              diff, k);
          Value zeroElt = scalarConst(nb, nl, a[0].getType(), 0.0);
          linalg::YieldOp::create(
              nb, nl,
              (Value)arith::SelectOp::create(nb, nl, keep, a[0], zeroElt));
        });
    b.replaceOp(op, g.getResult(0));
    return success();
  }
};

struct ScatterNdLowering : OpConversionPattern<ScatterNdOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScatterNdOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getData(), indices = adaptor.getIndices(),
          updates = adaptor.getUpdates();
    auto dataType = op.getType();
    int64_t rank = dataType.getRank();
    int64_t idxRank = tensorTypeOf(indices).getRank();
    int64_t k = tensorTypeOf(indices).getDimSize(idxRank - 1);
    int64_t batchRank = idxRank - 1;
    // One update per index tuple, in order: a loop over the tuples, each
    // writing its slice data[idx..., :] (or element) into the running copy.
    Value zero = indexConst(b, loc, 0), one = indexConst(b, loc, 1);
    SmallVector<Value> batchDims;
    Value count = one;
    for (int64_t i = 0; i < batchRank; ++i) {
      batchDims.push_back(dimValue(b, loc, indices, i));
      count = arith::MulIOp::create(b, loc, count, batchDims.back());
    }
    SmallVector<Value> dataDims;
    for (int64_t i = 0; i < rank; ++i)
      dataDims.push_back(dimValue(b, loc, data, i));
    func::FuncOp report = getIndexErrorFunction(op);
    auto loop = scf::ForOp::create(
        b, loc, zero, count, one, ValueRange{data},
        [&](OpBuilder &nb, Location nl, Value iv, ValueRange acc) {
          // The tuple's position in the batch dimensions (row-major).
          SmallVector<Value> coords(batchRank);
          Value rest = iv;
          for (int64_t i = batchRank - 1; i >= 0; --i) {
            coords[i] = arith::RemUIOp::create(nb, nl, rest, batchDims[i]);
            rest = arith::DivUIOp::create(nb, nl, rest, batchDims[i]);
          }
          SmallVector<Value> target;
          for (int64_t j = 0; j < k; ++j) {
            SmallVector<Value> at(coords);
            at.push_back(indexConst(nb, nl, j));
            target.push_back(checkedIndex(
                nb, nl,
                toIndex(nb, nl, tensor::ExtractOp::create(nb, nl, indices, at)),
                dataDims[j], report));
          }
          Value next;
          if (k == rank) {
            Value v = tensor::ExtractOp::create(nb, nl, updates, coords);
            next = tensor::InsertOp::create(nb, nl, v, acc[0], target);
          } else {
            // updates[coords..., :] as a tensor of data.shape[k:].
            SmallVector<int64_t> sliceShape(
                dataType.getShape().drop_front(k));
            SmallVector<OpFoldResult> uOff, uSize, uStride, dOff, dSize,
                dStride;
            for (Value c : coords) {
              uOff.push_back(c);
              uSize.push_back(nb.getIndexAttr(1));
            }
            for (Value t : target) {
              dOff.push_back(t);
              dSize.push_back(nb.getIndexAttr(1));
            }
            for (int64_t i = k; i < rank; ++i) {
              OpFoldResult d = dimOf(nb, nl, data, i);
              uOff.push_back(nb.getIndexAttr(0));
              uSize.push_back(d);
              dOff.push_back(nb.getIndexAttr(0));
              dSize.push_back(d);
            }
            uStride.assign(uOff.size(), nb.getIndexAttr(1));
            dStride.assign(dOff.size(), nb.getIndexAttr(1));
            auto sliceType =
                RankedTensorType::get(sliceShape, dataType.getElementType());
            Value slice = tensor::ExtractSliceOp::create(
                nb, nl, sliceType, updates, uOff, uSize, uStride);
            next = tensor::InsertSliceOp::create(nb, nl, slice, acc[0], dOff,
                                                 dSize, dStride);
          }
          scf::YieldOp::create(nb, nl, next);
        });
    b.replaceOp(op, loop.getResult(0));
    return success();
  }
};

struct ExpandLowering : OpConversionPattern<ExpandOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ExpandOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    auto xt = tensorTypeOf(x);
    int64_t rank = type.getRank();
    int64_t len = tensorTypeOf(adaptor.getShape()).getDimSize(0);
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      if (!type.isDynamicDim(i)) {
        sizes.push_back(b.getIndexAttr(type.getDimSize(i)));
        continue;
      }
      int64_t si = i - (rank - len), xi = i - (rank - xt.getRank());
      Value d = si >= 0 ? elementAt(b, loc, adaptor.getShape(), si) : Value();
      if (xi >= 0) {
        Value xd = dimValue(b, loc, x, xi);
        if (!d) {
          d = xd;
        } else {
          Value isOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                              d, indexConst(b, loc, 1));
          d = arith::SelectOp::create(b, loc, isOne, xd, d);
        }
      }
      sizes.push_back(d);
    }
    Value init = emptyTensor(b, loc, sizes, type.getElementType());
    SmallVector<AffineMap> maps = {broadcastMap(b, xt, type),
                                   b.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto g = linalg::GenericOp::create(
        b, loc, type, x, init, maps, iters,
        [](OpBuilder &nb, Location nl, ValueRange a) {
          linalg::YieldOp::create(nb, nl, a[0]);
        });
    b.replaceOp(op, g.getResult(0));
    return success();
  }
};

struct UnsqueezeLowering : OpConversionPattern<UnsqueezeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(UnsqueezeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    b.replaceOp(op, insertUnitDims(b, op.getLoc(), adaptor.getInput(),
                                   op.getAxes(), op.getType()));
    return success();
  }
};

struct ConcatLowering : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    int64_t axis = op.getAxis(), rank = type.getRank();
    ValueRange ins = adaptor.getInputs();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, ins[0]);
    Value total = indexConst(b, loc, 0);
    for (Value v : ins)
      total = arith::AddIOp::create(b, loc, total, dimValue(b, loc, v, axis));
    sizes[axis] = type.isDynamicDim(axis)
                      ? OpFoldResult(total)
                      : OpFoldResult(b.getIndexAttr(type.getDimSize(axis)));
    Value acc = emptyTensor(b, loc, sizes, type.getElementType());
    Value offset = indexConst(b, loc, 0);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    for (Value v : ins) {
      SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
      offsets[axis] = offset;
      acc = tensor::InsertSliceOp::create(
          b, loc, v, acc, offsets, tensor::getMixedSizes(b, loc, v), strides);
      offset = arith::AddIOp::create(b, loc, offset, dimValue(b, loc, v, axis));
    }
    if (acc.getType() != type)
      acc = tensor::CastOp::create(b, loc, type, acc);
    b.replaceOp(op, acc);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Shape computations
//===----------------------------------------------------------------------===//

struct ShapeLowering : OpConversionPattern<ShapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ShapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    int64_t rank = tensorTypeOf(adaptor.getInput()).getRank();
    int64_t start = op.getStart().value_or(0), end = op.getEnd().value_or(rank);
    SmallVector<Value> dims;
    for (int64_t i = start; i < end; ++i)
      dims.push_back(arith::IndexCastOp::create(
          b, loc, b.getI64Type(), dimValue(b, loc, adaptor.getInput(), i)));
    b.replaceOpWithNewOp<tensor::FromElementsOp>(op, op.getType(), dims);
    return success();
  }
};

struct ConstantOfShapeLowering : OpConversionPattern<ConstantOfShapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOfShapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < type.getRank(); ++i)
      sizes.push_back(type.isDynamicDim(i)
                          ? OpFoldResult(elementAt(b, loc, adaptor.getShape(), i))
                          : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
    auto value = cast<DenseElementsAttr>(op.getValue());
    Value scalar = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(value.getSplatValue<Attribute>()));
    Value fill = linalg::FillOp::create(
                     b, loc, scalar,
                     emptyTensor(b, loc, sizes, type.getElementType()))
                     .getResult(0);
    b.replaceOp(op, fill);
    return success();
  }
};

struct RangeLowering : OpConversionPattern<RangeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RangeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    auto type = op.getType();
    Type t = type.getElementType();
    Value start = tensor::ExtractOp::create(b, loc, adaptor.getStart(),
                                            ValueRange{});
    Value limit = tensor::ExtractOp::create(b, loc, adaptor.getLimit(),
                                            ValueRange{});
    Value delta = tensor::ExtractOp::create(b, loc, adaptor.getDelta(),
                                            ValueRange{});
    OpFoldResult len;
    if (!type.isDynamicDim(0)) {
      len = b.getIndexAttr(type.getDimSize(0));
    } else if (isa<FloatType>(t)) {
      Value n = math::CeilOp::create(
          b, loc,
          arith::DivFOp::create(b, loc,
                                arith::SubFOp::create(b, loc, limit, start),
                                delta));
      Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(), n);
      Value zero = scalarConst(b, loc, b.getI64Type(), 0);
      len = toIndex(b, loc, arith::MaxSIOp::create(b, loc, i, zero));
    } else {
      Value n = arith::CeilDivSIOp::create(
          b, loc, arith::SubIOp::create(b, loc, limit, start), delta);
      Value zero = scalarConst(b, loc, t, 0);
      len = toIndex(b, loc, arith::MaxSIOp::create(b, loc, n, zero));
    }
    Value init = emptyTensor(b, loc, {len}, t);
    auto g = linalg::GenericOp::create(
        b, loc, type, ValueRange{}, init,
        ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1)},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value i = linalg::IndexOp::create(nb, nl, 0);
          Value iv = castScalar(
              nb, nl, arith::IndexCastOp::create(nb, nl, nb.getI64Type(), i),
              t);
          Value v = isa<FloatType>(t)
                        ? (Value)arith::AddFOp::create(
                              nb, nl, start,
                              arith::MulFOp::create(nb, nl, iv, delta))
                        : (Value)arith::AddIOp::create(
                              nb, nl, start,
                              arith::MulIOp::create(nb, nl, iv, delta));
          linalg::YieldOp::create(nb, nl, v);
        });
    b.replaceOp(op, g.getResult(0));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// Weight references become trailing function arguments tagged with their
/// pack names, one per distinct name, in order of first use.
LogicalResult weightsToArguments(func::FuncOp func) {
  if (func.isExternal())
    return success();
  llvm::StringMap<BlockArgument> args;
  SmallVector<WeightOp> weights;
  func.walk([&](WeightOp w) { weights.push_back(w); });
  Block &entry = func.getBody().front();
  for (WeightOp w : weights) {
    auto it = args.find(w.getName());
    if (it == args.end()) {
      unsigned idx = func.getNumArguments();
      if (failed(func.insertArgument(
              idx, w.getType(),
              DictionaryAttr::get(
                  func.getContext(),
                  {NamedAttribute(
                      StringAttr::get(func.getContext(),
                                      ActSparseDialect::getWeightArgAttrName()),
                      w.getNameAttr())}),
              w.getLoc())))
        return failure();
      it = args.try_emplace(w.getName(), entry.getArgument(idx)).first;
    } else if (it->second.getType() != w.getType()) {
      return w.emitOpError("weight '")
             << w.getName() << "' is used with two different types";
    }
    w.getResult().replaceAllUsesWith(it->second);
    w.erase();
  }
  return success();
}

struct LowerToLinalgPass
    : mlir::actsparse::impl::LowerToLinalgBase<LowerToLinalgPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (failed(weightsToArguments(func)))
        return signalPassFailure();
      // The runtime calls the entry point through its C interface.
      func->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
    }
    ConversionTarget target(getContext());
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect, func::FuncDialect,
                           memref::MemRefDialect,
                           bufferization::BufferizationDialect>();
    target.addIllegalDialect<ActSparseDialect>();
    RewritePatternSet patterns(&getContext());
    populateActSparseToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::actsparse::populateActSparseToLinalgPatterns(
    RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ConstantLowering, FfnLowering, SparseFfnLowering, MatMulLowering, SoftmaxLowering,
               ReduceMeanLowering, LayerNormLowering, GatherLowering,
               TransposeLowering, ReshapeLowering, ExpandLowering,
               UnsqueezeLowering, ConcatLowering, ShapeLowering,
               ConstantOfShapeLowering, RangeLowering, SliceLowering,
               TriluLowering, ScatterNdLowering>(ctx);

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
  patterns.add<ElementwiseLowering<SqrtOp>>(
      ctx, +[](SqrtOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return math::SqrtOp::create(b, l, x);
      });
  patterns.add<ElementwiseLowering<ReciprocalOp>>(
      ctx, +[](ReciprocalOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return arith::DivFOp::create(b, l, scalarConst(b, l, x.getType(), 1.0),
                                     x);
      });
  patterns.add<ElementwiseLowering<ExpOp>>(
      ctx, +[](ExpOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return math::ExpOp::create(b, l, x);
      });
  patterns.add<ElementwiseLowering<TanhOp>>(
      ctx, +[](TanhOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return math::TanhOp::create(b, l, x);
      });
  patterns.add<ElementwiseLowering<CosOp>>(
      ctx, +[](CosOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return math::CosOp::create(b, l, a[0]);
      });
  patterns.add<ElementwiseLowering<SinOp>>(
      ctx, +[](SinOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        return math::SinOp::create(b, l, a[0]);
      });
  patterns.add<ElementwiseLowering<ErfOp>>(
      ctx, +[](ErfOp, OpBuilder &b, Location l, ValueRange a) -> Value {
        Value x = a[0];
        return math::ErfOp::create(b, l, x);
      });
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
