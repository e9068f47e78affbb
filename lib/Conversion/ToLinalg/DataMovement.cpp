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
  patterns.add<GatherLowering, TransposeLowering, ReshapeLowering,
               SliceLowering, TriluLowering, ScatterNdLowering, ExpandLowering,
               UnsqueezeLowering, ConcatLowering, KvAppendLowering>(
      patterns.getContext());
}
