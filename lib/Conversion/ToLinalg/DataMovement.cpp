//===- DataMovement.cpp - Gather, Reshape, Slice, Concat and friends ------===//
//
// Ops that move or select elements. Indices that come from data are checked
// (checkedIndex) and reported to the runtime instead of read out of bounds.
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

struct GatherElementsLowering : OpConversionPattern<GatherElementsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherElementsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getData(), indices = adaptor.getIndices();
    auto type = op.getType();
    int64_t axis = op.getAxis(), rank = type.getRank();
    Value axisSize = dimValue(b, loc, data, axis);
    func::FuncOp report = getIndexErrorFunction(op);
    SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, type, indices,
        emptyTensor(b, loc, tensor::getMixedSizes(b, loc, indices),
                    type.getElementType()),
        maps, iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
          SmallVector<Value> coords;
          for (int64_t i = 0; i < rank; ++i)
            coords.push_back(
                i == axis ? checkedIndex(nb, nl, toIndex(nb, nl, a[0]),
                                         axisSize, report)
                          : (Value)linalg::IndexOp::create(nb, nl, i));
          linalg::YieldOp::create(
              nb, nl, (Value)tensor::ExtractOp::create(nb, nl, data, coords));
        });
    b.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// CumSum as one generic with an extra reduction dimension k over the
/// axis: result[..i..] = sum over k of (k in range of i ? x[..k..] : 0).
/// Quadratic in the axis length, which for the lengths graphs scan (a
/// sequence of positions) costs less than a loop nest would to compile.
struct CumSumLowering : OpConversionPattern<CumSumOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CumSumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = op.getType();
    Type t = type.getElementType();
    int64_t axis = op.getAxis(), rank = type.getRank();
    // Dimensions 0..rank-1 are the result's; dimension `rank` is k.
    SmallVector<AffineExpr> inExprs;
    for (int64_t i = 0; i < rank; ++i)
      inExprs.push_back(b.getAffineDimExpr(i == axis ? rank : i));
    SmallVector<AffineMap> maps = {
        AffineMap::get(rank + 1, 0, inExprs, b.getContext()),
        AffineMap::get(rank + 1, 0,
                       b.getMultiDimIdentityMap(rank).getResults(),
                       b.getContext())};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    Value zero = scalarConst(b, loc, t, 0);
    Value init =
        linalg::FillOp::create(
            b, loc, zero,
            emptyTensor(b, loc, tensor::getMixedSizes(b, loc, x), t))
            .getResult(0);
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    auto generic = linalg::GenericOp::create(
        b, loc, type, x, init, maps, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value i = linalg::IndexOp::create(nb, nl, axis);
          Value k = linalg::IndexOp::create(nb, nl, rank);
          auto pred = reverse ? (exclusive ? arith::CmpIPredicate::ugt
                                           : arith::CmpIPredicate::uge)
                              : (exclusive ? arith::CmpIPredicate::ult
                                           : arith::CmpIPredicate::ule);
          Value in = arith::CmpIOp::create(nb, nl, pred, k, i);
          Value v = arith::SelectOp::create(nb, nl, in, a[0], zero);
          Value sum = isa<FloatType>(t)
                          ? (Value)arith::AddFOp::create(nb, nl, v, a[1])
                          : (Value)arith::AddIOp::create(nb, nl, v, a[1]);
          linalg::YieldOp::create(nb, nl, sum);
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
    bool backwards = llvm::any_of(op.getSteps(), [](int64_t s) { return s < 0; });
    SmallVector<Value> starts(rank, zero);
    for (auto [i, axis, step] :
         llvm::enumerate(op.getAxes(), op.getSteps())) {
      Value d = dimValue(b, loc, data, axis);
      Value start = fromEnd(b, loc, elementAt(b, loc, adaptor.getStarts(), i), d);
      Value end = fromEnd(b, loc, elementAt(b, loc, adaptor.getEnds(), i), d);
      Value size;
      if (step > 0) {
        // ONNX: negative bounds count from the end; both clamp to [0, d].
        start = clampIndex(b, loc, start, zero, d);
        end = clampIndex(b, loc, end, zero, d);
        Value span = arith::MaxSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, end, start), zero);
        size = arith::CeilDivSIOp::create(b, loc, span,
                                          indexConst(b, loc, step));
      } else {
        // Backwards: start clamps to [0, d - 1], end to [-1, d - 1].
        Value last = arith::SubIOp::create(b, loc, d, indexConst(b, loc, 1));
        start = clampIndex(b, loc, start, zero, last);
        end = clampIndex(b, loc, end, indexConst(b, loc, -1), last);
        Value span = arith::MaxSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, start, end), zero);
        size = arith::CeilDivSIOp::create(b, loc, span,
                                          indexConst(b, loc, -step));
      }
      starts[axis] = start;
      offsets[axis] = start;
      sizes[axis] = type.isDynamicDim(axis)
                        ? OpFoldResult(size)
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(axis)));
      strides[axis] = b.getIndexAttr(step);
    }
    if (!backwards) {
      b.replaceOpWithNewOp<tensor::ExtractSliceOp>(op, type, data, offsets,
                                                   sizes, strides);
      return success();
    }
    // A negative step: each result element reads data[start + i * step]
    // along the sliced axes (extract_slice takes positive strides only).
    SmallVector<int64_t> steps(rank, 1);
    for (auto [axis, step] : llvm::zip(op.getAxes(), op.getSteps()))
      steps[axis] = step;
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, type, ValueRange{},
        emptyTensor(b, loc, sizes, type.getElementType()),
        ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange) {
          SmallVector<Value> coords;
          for (int64_t i = 0; i < rank; ++i) {
            Value idx = linalg::IndexOp::create(nb, nl, i);
            if (steps[i] != 1)
              idx = arith::MulIOp::create(nb, nl, idx,
                                          indexConst(nb, nl, steps[i]));
            coords.push_back(arith::AddIOp::create(nb, nl, starts[i], idx));
          }
          linalg::YieldOp::create(
              nb, nl, (Value)tensor::ExtractOp::create(nb, nl, data, coords));
        });
    b.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// TopK as two generics, quadratic in the axis length: each element's rank
/// (how many elements come before it in the order: better, or equal with a
/// lower index), then for each output position j the element of rank j.
struct TopKLowering : OpConversionPattern<TopKOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TopKOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto inType = tensorTypeOf(x);
    Type t = inType.getElementType();
    int64_t rank = inType.getRank(), axis = op.getAxis();
    bool largest = op.getLargest(), isFloat = isa<FloatType>(t);
    Type i64 = b.getI64Type();
    MLIRContext *ctx = b.getContext();
    // Iteration space: the input's dimensions, then one more (the element
    // compared against, or the element picked) at position `rank`.
    SmallVector<AffineExpr> same, other;
    for (int64_t i = 0; i < rank; ++i) {
      same.push_back(b.getAffineDimExpr(i));
      other.push_back(b.getAffineDimExpr(i == axis ? rank : i));
    }
    AffineMap sameMap = AffineMap::get(rank + 1, 0, same, ctx);
    AffineMap otherMap = AffineMap::get(rank + 1, 0, other, ctx);
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    SmallVector<OpFoldResult> inSizes = tensor::getMixedSizes(b, loc, x);
    Value zero64 = scalarConst(b, loc, i64, 0);
    Value ranks0 = linalg::FillOp::create(b, loc, zero64,
                                          emptyTensor(b, loc, inSizes, i64))
                       .getResult(0);
    auto before = [&](OpBuilder &nb, Location nl, Value m, Value v) -> Value {
      // m comes before v: better, or equal and first.
      if (isFloat)
        return arith::CmpFOp::create(
            nb, nl, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
            m, v);
      return arith::CmpIOp::create(
          nb, nl, largest ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::slt,
          m, v);
    };
    Value ranks =
        linalg::GenericOp::create(
            b, loc, RankedTensorType::get(inType.getShape(), i64),
            ValueRange{x, x}, ranks0,
            ArrayRef<AffineMap>{sameMap, otherMap, sameMap}, iters,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value i = linalg::IndexOp::create(nb, nl, axis);
              Value m = linalg::IndexOp::create(nb, nl, rank);
              Value equal = isFloat ? (Value)arith::CmpFOp::create(
                                          nb, nl, arith::CmpFPredicate::OEQ,
                                          a[1], a[0])
                                    : (Value)arith::CmpIOp::create(
                                          nb, nl, arith::CmpIPredicate::eq,
                                          a[1], a[0]);
              Value earlier = arith::CmpIOp::create(
                  nb, nl, arith::CmpIPredicate::ult, m, i);
              Value first = arith::OrIOp::create(
                  nb, nl, before(nb, nl, a[1], a[0]),
                  arith::AndIOp::create(nb, nl, equal, earlier));
              Value one = arith::ExtUIOp::create(nb, nl, i64, first);
              linalg::YieldOp::create(
                  nb, nl, (Value)arith::AddIOp::create(nb, nl, a[2], one));
            })
            .getResult(0);
    // k, at most the axis size.
    Value k = toIndex(b, loc, elementAt(b, loc, adaptor.getK(), 0));
    Value n = dimValue(b, loc, x, axis);
    k = clampIndex(b, loc, k, indexConst(b, loc, 0), n);
    SmallVector<OpFoldResult> outSizes(inSizes);
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    outSizes[axis] = valuesType.isDynamicDim(axis)
                         ? OpFoldResult(k)
                         : OpFoldResult(b.getIndexAttr(valuesType.getDimSize(axis)));
    Value vals0 = linalg::FillOp::create(b, loc, scalarConst(b, loc, t, 0),
                                         emptyTensor(b, loc, outSizes, t))
                      .getResult(0);
    Value idx0 = linalg::FillOp::create(b, loc, zero64,
                                        emptyTensor(b, loc, outSizes, i64))
                     .getResult(0);
    auto picked = linalg::GenericOp::create(
        b, loc,
        TypeRange{valuesType, op.getIndices().getType()},
        ValueRange{x, ranks}, ValueRange{vals0, idx0},
        ArrayRef<AffineMap>{otherMap, otherMap, sameMap, sameMap}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value j = arith::IndexCastOp::create(
              nb, nl, i64, linalg::IndexOp::create(nb, nl, axis));
          Value e = arith::IndexCastOp::create(
              nb, nl, i64, linalg::IndexOp::create(nb, nl, rank));
          Value hit =
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, a[1], j);
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{arith::SelectOp::create(nb, nl, hit, a[0], a[2]),
                         arith::SelectOp::create(nb, nl, hit, e, a[3])});
        });
    b.replaceOp(op, picked.getResults());
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

/// ScatterND's reduction of an existing element with an update.
Value combine(OpBuilder &b, Location loc, ReduceKind kind, Value old,
              Value update) {
  bool isFloat = isa<FloatType>(old.getType());
  switch (kind) {
  case ReduceKind::prod:
    return isFloat ? (Value)arith::MulFOp::create(b, loc, old, update)
                   : (Value)arith::MulIOp::create(b, loc, old, update);
  case ReduceKind::max:
    return isFloat ? (Value)arith::MaximumFOp::create(b, loc, old, update)
                   : (Value)arith::MaxSIOp::create(b, loc, old, update);
  case ReduceKind::min:
    return isFloat ? (Value)arith::MinimumFOp::create(b, loc, old, update)
                   : (Value)arith::MinSIOp::create(b, loc, old, update);
  default:
    return isFloat ? (Value)arith::AddFOp::create(b, loc, old, update)
                   : (Value)arith::AddIOp::create(b, loc, old, update);
  }
}

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
    std::optional<ReduceKind> reduction = op.getReduction();
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
            if (reduction)
              v = combine(nb, nl, *reduction,
                          tensor::ExtractOp::create(nb, nl, acc[0], target), v);
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
            if (reduction) {
              Value old = tensor::ExtractSliceOp::create(
                  nb, nl, sliceType, acc[0], dOff, dSize, dStride);
              slice = elementwise(
                  nb, nl, sliceType, ValueRange{old, slice},
                  [&](OpBuilder &eb, Location el, ValueRange a) -> Value {
                    return combine(eb, el, *reduction, a[0], a[1]);
                  });
            }
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

/// New rows written into the runtime's cache after the past rows. The
/// cache's size is checked first: a runtime that lent a view of the wrong
/// size gets an error, and nothing is written out of bounds.
struct KvAppendLowering : OpConversionPattern<KvAppendOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(KvAppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    int64_t axis = op.getAxis();
    Value rows = adaptor.getRows(), cache = adaptor.getCache();
    int64_t rank = tensorTypeOf(cache).getRank();
    Value start = dimValue(b, loc, adaptor.getPast(), axis);
    // Per dimension: the size the cache must have, and the one it has.
    SmallVector<std::pair<Value, Value>> checks;
    SmallVector<int64_t> checkedDims;
    for (int64_t d = 0; d < rank; ++d) {
      Value need = dimValue(b, loc, rows, d);
      if (d == axis)
        need = arith::AddIOp::create(b, loc, start, need);
      Value have = dimValue(b, loc, cache, d);
      // Sizes known on both sides were checked by the verifier.
      if (getConstantIntValue(need) && getConstantIntValue(have))
        continue;
      checks.push_back({need, have});
      checkedDims.push_back(d);
    }
    auto write = [&](OpBuilder &nb, Location nl) -> Value {
      SmallVector<OpFoldResult> offsets(rank, nb.getIndexAttr(0));
      offsets[axis] = start;
      SmallVector<OpFoldResult> strides(rank, nb.getIndexAttr(1));
      return tensor::InsertSliceOp::create(
          nb, nl, rows, cache, offsets, tensor::getMixedSizes(nb, nl, rows),
          strides);
    };
    if (checks.empty()) {
      b.replaceOp(op, write(b, loc));
      return success();
    }
    Value ok;
    for (auto [need, have] : checks) {
      Value eq = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       need, have);
      ok = ok ? arith::AndIOp::create(b, loc, ok, eq) : eq;
    }
    Type i64 = b.getI64Type();
    func::FuncOp report = getRuntimeFunction(
        op, ::actsparse::runtime::kKvCacheMismatchSymbol,
        FunctionType::get(b.getContext(), {i64, i64, i64}, {}));
    auto ifOp = scf::IfOp::create(
        b, loc, ok,
        [&](OpBuilder &nb, Location nl) {
          scf::YieldOp::create(nb, nl, write(nb, nl));
        },
        [&](OpBuilder &nb, Location nl) {
          // Report the first dimension that differs.
          Value dim = indexConst(nb, nl, checkedDims.back());
          Value need = checks.back().first, have = checks.back().second;
          for (int64_t i = int64_t(checks.size()) - 2; i >= 0; --i) {
            Value differs =
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne,
                                      checks[i].first, checks[i].second);
            dim = arith::SelectOp::create(
                nb, nl, differs, indexConst(nb, nl, checkedDims[i]), dim);
            need = arith::SelectOp::create(nb, nl, differs, checks[i].first,
                                           need);
            have = arith::SelectOp::create(nb, nl, differs, checks[i].second,
                                           have);
          }
          auto asI64 = [&](Value v) -> Value {
            return arith::IndexCastOp::create(nb, nl, i64, v);
          };
          func::CallOp::create(nb, nl, report,
                               ValueRange{asI64(dim), asI64(have),
                                          asI64(need)});
          scf::YieldOp::create(nb, nl, cache);
        });
    b.replaceOp(op, ifOp.getResult(0));
    return success();
  }
};

} // namespace

void mlir::actsparse::lowering::populateDataMovementPatterns(RewritePatternSet &patterns) {
  patterns.add<GatherLowering, GatherElementsLowering, CumSumLowering,
               TopKLowering,
               TransposeLowering, ReshapeLowering,
               SliceLowering, TriluLowering, ScatterNdLowering, ExpandLowering,
               UnsqueezeLowering, ConcatLowering, KvAppendLowering>(
      patterns.getContext());
}
