//===- Reductions.cpp - MatMul, Softmax, ReduceMean, LayerNorm ------------===//
//
// Projections by a weight matrix become runtime kernel calls (tagged generics
// that --actsparse-lower-library-calls turns into calls); the other matmuls,
// softmax and the norms are reductions plus elementwise generics.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/Quant.h"
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

/// `x` with its last dimension `k`, as a MatMul by a [k, N] weight needs:
/// a dimension only known at run time (a reshape by a computed shape, as
/// attention's output projection reads) is checked against `k` first.
Value withRowLength(OpBuilder &b, Location loc, Value x, int64_t k) {
  auto t = tensorTypeOf(x);
  int64_t r = t.getRank();
  if (!t.isDynamicDim(r - 1))
    return x;
  SmallVector<int64_t> shape(t.getShape());
  shape.back() = k;
  auto type = RankedTensorType::get(shape, t.getElementType());
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0; d + 1 < r; ++d)
    sizes.push_back(dimOf(b, loc, x, d));
  sizes.push_back(b.getIndexAttr(k));
  return tensor::CastOp::create(b, loc, type,
                                guardDynamicDims(b, loc, x, type, sizes));
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
      !rt.hasStaticShape() || r < 2)
    return failure();
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> leading;
  Value a2 = flattenToRows(
      b, loc, withRowLength(b, loc, lhs, rt.getDimSize(transposed ? 1 : 0)),
      leading);
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

/// X[..., M, K] @ Transpose(Dequantize(Q)) (the form --actsparse-quantize
/// writes) becomes one call of the runtime's quantized kernel on the
/// quantized rows, into a buffer of its own; the f32 weights are never
/// materialised.
LogicalResult lowerToQuantizedCall(MatMulOp op, Value lhs,
                                   ConversionPatternRewriter &b) {
  namespace rt = ::actsparse::runtime;
  auto t = op.getRhs().getDefiningOp<TransposeOp>();
  if (!t || t.getPerm() != ArrayRef<int64_t>{1, 0})
    return failure();
  auto dq = t.getInput().getDefiningOp<DequantizeOp>();
  auto lt = tensorTypeOf(lhs);
  RankedTensorType type = op.getType();
  int64_t r = lt.getRank();
  Value q = dq ? b.getRemappedValue(dq.getInput()) : Value();
  if (!q || !type.getElementType().isF32() || r < 2)
    return failure();
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t n = dq.getType().getDimSize(0);
  SmallVector<Value> leading;
  Value x2 = flattenToRows(
      b, loc, withRowLength(b, loc, lhs, dq.getType().getDimSize(1)), leading);
  auto rows = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, f32);
  auto bytes = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, b.getI8Type());
  Value tokens = tensor::DimOp::create(b, loc, x2, 0);
  Value out = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, n}, f32),
      ValueRange{tokens});
  auto dynOut =
      MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32);
  Type i64 = b.getI64Type();
  func::FuncOp kernel = getRuntimeKernel(
      op, rt::kQuantMatMulFunction,
      FunctionType::get(ctx, {i64, rows, bytes, dynOut}, {}), {1, 2});
  func::CallOp::create(
      b, loc, kernel,
      ValueRange{arith::ConstantIntOp::create(
                     b, loc, int64_t(dq.getKind()), 64),
                 tensor::CastOp::create(b, loc, rows, x2),
                 tensor::CastOp::create(b, loc, bytes, q),
                 memref::CastOp::create(b, loc, dynOut, out)});
  b.replaceOp(op,
              fromKernelRows(b, loc, out, type, leading, indexConst(b, loc, n)));
  return success();
}

/// actsparse.dequantize in generated code, for uses the quantized kernel
/// does not cover: element (n, k) reads its block's scale (and minimum)
/// and its 8- or 4-bit value from the row's bytes. Unused when every use
/// is a fused projection, and then removed as dead code.
struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    namespace rt = ::actsparse::runtime;
    Location loc = op.getLoc();
    Value q = adaptor.getInput();
    RankedTensorType type = op.getType();
    auto kind = rt::QuantKind(int(op.getKind()));
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), f32);
    MLIRContext *ctx = b.getContext();
    auto generic = linalg::GenericOp::create(
        b, loc, type, ValueRange{}, init,
        AffineMap::getMultiDimIdentityMap(2, ctx),
        {utils::IteratorType::parallel, utils::IteratorType::parallel},
        [&](OpBuilder &nb, Location nl, ValueRange) {
          Value n = linalg::IndexOp::create(nb, nl, 0);
          Value k = linalg::IndexOp::create(nb, nl, 1);
          auto idx = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(nb, nl, v);
          };
          Value block = arith::DivUIOp::create(nb, nl, k, idx(rt::kQuantBlock));
          Value j = arith::RemUIOp::create(nb, nl, k, idx(rt::kQuantBlock));
          Value base = arith::MulIOp::create(
              nb, nl, block, idx(rt::quantBlockBytes(kind)));
          auto byteAt = [&](Value offset) -> Value {
            Value at = arith::AddIOp::create(nb, nl, base, offset);
            Value v = tensor::ExtractOp::create(nb, nl, q, ValueRange{n, at});
            return arith::ExtUIOp::create(nb, nl, i32, v);
          };
          // The 16 bits at `offset`, little-endian, in an i32.
          auto bitsAt = [&](Value offset) -> Value {
            Value lo = byteAt(offset),
                  hi = byteAt(arith::AddIOp::create(nb, nl, offset, idx(1)));
            return arith::OrIOp::create(
                nb, nl, lo,
                arith::ShLIOp::create(
                    nb, nl, hi, arith::ConstantIntOp::create(nb, nl, 8, 32)));
          };
          auto halfAt = [&](Value offset) -> Value {
            Value h = arith::BitcastOp::create(
                nb, nl, nb.getF16Type(),
                arith::TruncIOp::create(nb, nl, nb.getI16Type(),
                                        bitsAt(offset)));
            return arith::ExtFOp::create(nb, nl, f32, h);
          };
          Value w;
          if (rt::isFloatKind(kind)) {
            // Weight j is the 16-bit float at byte 2 j of its block; a
            // bfloat16 is the top half of the f32.
            Value at = arith::MulIOp::create(nb, nl, j, idx(2));
            if (kind == rt::QuantKind::F16) {
              w = halfAt(at);
            } else {
              Value top = arith::ShLIOp::create(
                  nb, nl, bitsAt(at),
                  arith::ConstantIntOp::create(nb, nl, 16, 32));
              w = arith::BitcastOp::create(nb, nl, f32, top);
            }
            linalg::YieldOp::create(nb, nl, w);
            return;
          }
          Value d = halfAt(idx(0));
          if (kind == rt::QuantKind::Q8_0) {
            Value at = arith::AddIOp::create(
                nb, nl, base, arith::AddIOp::create(nb, nl, j, idx(2)));
            Value v = tensor::ExtractOp::create(nb, nl, q, ValueRange{n, at});
            w = arith::MulFOp::create(
                nb, nl, d, arith::SIToFPOp::create(nb, nl, f32, v));
          } else {
            int64_t qs = kind == rt::QuantKind::Q4_1 ? 4 : 2;
            // Weight j is the low nibble of byte j % 16 for j < 16, the
            // high nibble after.
            Value half = arith::DivUIOp::create(nb, nl, j, idx(16));
            Value byte = byteAt(arith::AddIOp::create(
                nb, nl, arith::RemUIOp::create(nb, nl, j, idx(16)), idx(qs)));
            Value shift = arith::IndexCastOp::create(
                nb, nl, i32,
                arith::MulIOp::create(nb, nl, half, idx(4)));
            Value nibble = arith::AndIOp::create(
                nb, nl, arith::ShRUIOp::create(nb, nl, byte, shift),
                arith::ConstantIntOp::create(nb, nl, 15, 32));
            Value v = arith::SIToFPOp::create(nb, nl, f32, nibble);
            if (kind == rt::QuantKind::Q4_0)
              w = arith::MulFOp::create(
                  nb, nl, d,
                  arith::SubFOp::create(nb, nl, v,
                                        scalarConst(nb, nl, f32, 8.0)));
            else
              w = arith::AddFOp::create(nb, nl,
                                        arith::MulFOp::create(nb, nl, d, v),
                                        halfAt(idx(2)));
          }
          linalg::YieldOp::create(nb, nl, w);
        });
    b.replaceOp(op, generic.getResult(0));
    return success();
  }
};

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
    if (succeeded(lowerToQuantizedCall(op, lhs, rewriter)) ||
        succeeded(lowerToLibraryCall(op, lhs, rhs, rewriter)))
      return success();
    bool lVec = lt.getRank() == 1, rVec = rt.getRank() == 1;
    int64_t batch = rank - (lVec ? 0 : 1) - (rVec ? 0 : 1);
    // `x @ Transpose(k)` over the last two dims (attention's Q Kᵀ) reads
    // `k` through the indexing map instead of materialising the transpose:
    // at position p that copy was p rows per head and layer every step.
    // The sum runs in the same order, so results are bit-identical.
    bool rhsTransposed = false;
    if (auto t = op.getRhs().getDefiningOp<TransposeOp>();
        t && !rVec && !lVec) {
      ArrayRef<int64_t> perm = t.getPerm();
      int64_t r = perm.size();
      bool swapsLastTwo = perm[r - 2] == r - 1 && perm[r - 1] == r - 2;
      for (int64_t d = 0; d + 2 < r; ++d)
        swapsLastTwo = swapsLastTwo && perm[d] == d;
      if (Value source = rewriter.getRemappedValue(t.getInput());
          swapsLastTwo && source) {
        rhs = source;
        rt = tensorTypeOf(rhs);
        rhsTransposed = true;
      }
    }
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
    if (rhsTransposed) {
      re.push_back(rewriter.getAffineDimExpr(nDim));
      re.push_back(rewriter.getAffineDimExpr(kDim));
    } else {
      re.push_back(rewriter.getAffineDimExpr(kDim));
      if (!rVec)
        re.push_back(rewriter.getAffineDimExpr(nDim));
    }
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
        s = dimOf(rewriter, loc, rhs, rt.getRank() - (rhsTransposed ? 2 : 1));
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
    // Attention's batched products ([batch, heads, rows, cols], f32) go to
    // the runtime's vectorized matmul kernels, one call per head.
    if (elt.isF32() && rank == 4 && lt.getRank() == 4 && rt.getRank() == 4)
      generic.setLibraryCallAttr(rewriter.getStringAttr(
          rhsTransposed ? ::actsparse::runtime::kBatchMatMulNtLibraryCall
                        : ::actsparse::runtime::kBatchMatMulLibraryCall));
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// Softmax over the last axis of an f32 tensor by the runtime's vectorized
/// row kernel: the rows are the other dimensions flattened.
Value runtimeSoftmax(OpBuilder &b, Location loc, Value x,
                     RankedTensorType type) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  SmallVector<Value> dims;
  Value in = flattenToRows(b, loc, x, dims);
  Value rows = dimValue(b, loc, in, 0), cols = dimValue(b, loc, in, 1);
  auto rowsType = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, f32);
  if (in.getType() != rowsType)
    in = tensor::CastOp::create(b, loc, rowsType, in);
  auto outType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                 f32);
  Value out = memref::AllocOp::create(b, loc, outType, ValueRange{rows, cols});
  func::FuncOp kernel = getRuntimeKernel(
      b.getInsertionBlock()->getParentOp(),
      ::actsparse::runtime::kSoftmaxFunction,
      FunctionType::get(ctx, {rowsType, outType}, {}), {0});
  func::CallOp::create(b, loc, kernel, ValueRange{in, out});
  return fromKernelRows(b, loc, out, type, dims, cols);
}

/// Softmax (or, with `log`, LogSoftmax) of `x` along `axis` as linalg:
/// the maximum, the exponentials of the differences, their sum (in f64 for
/// f32), then the quotient (or x - max - log(sum)).
Value softmaxGeneric(OpBuilder &b, Location loc, Value x, int64_t axis,
                     bool log) {
  auto type = tensorTypeOf(x);
  Type t = type.getElementType();
  int64_t rank = type.getRank();
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
  if (log) {
    // x - max - log(sum): the differences again rather than log(exp(.)),
    // which would lose the small probabilities.
    auto out = linalg::GenericOp::create(
        b, loc, type, ValueRange{x, max, sum}, emptyTensor(b, loc, sizes, t),
        ArrayRef<AffineMap>{id, drop, drop, id}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value d = arith::SubFOp::create(nb, nl, a[0], a[1]);
          Value l = math::LogOp::create(nb, nl, a[2]);
          if (l.getType() != t)
            l = arith::TruncFOp::create(nb, nl, t, l);
          linalg::YieldOp::create(nb, nl,
                                  (Value)arith::SubFOp::create(nb, nl, d, l));
        });
    return out.getResult(0);
  }
  auto out = linalg::GenericOp::create(
      b, loc, type, ValueRange{exps.getResult(0), sum},
      emptyTensor(b, loc, sizes, t), ArrayRef<AffineMap>{id, drop, id},
      iters, [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value q = arith::DivFOp::create(nb, nl, widen(nb, nl, a[0]), a[1]);
        if (q.getType() != t)
          q = arith::TruncFOp::create(nb, nl, t, q);
        linalg::YieldOp::create(nb, nl, q);
      });
  return out.getResult(0);
}

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
    if (t.isF32() && axis == rank - 1) {
      b.replaceOp(op, runtimeSoftmax(b, loc, x, type));
      return success();
    }
    b.replaceOp(op, softmaxGeneric(b, loc, x, axis, /*log=*/false));
    return success();
  }
};

struct LogSoftmaxLowering : OpConversionPattern<LogSoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LogSoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    b.replaceOp(op, softmaxGeneric(b, op.getLoc(), adaptor.getInput(),
                                   op.getAxis(), /*log=*/true));
    return success();
  }
};

/// The identity of a reduction: where an empty reduction ends.
Value reduceInit(OpBuilder &b, Location loc, ReduceKind kind, Type acc) {
  bool isFloat = isa<FloatType>(acc);
  switch (kind) {
  case ReduceKind::max:
    if (isFloat)
      return scalarConst(b, loc, acc, -std::numeric_limits<double>::infinity());
    return arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(acc, APInt::getSignedMinValue(
                                          acc.getIntOrFloatBitWidth())));
  case ReduceKind::min:
    if (isFloat)
      return scalarConst(b, loc, acc, std::numeric_limits<double>::infinity());
    return arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(acc, APInt::getSignedMaxValue(
                                          acc.getIntOrFloatBitWidth())));
  case ReduceKind::prod:
    return scalarConst(b, loc, acc, 1);
  default:
    return scalarConst(b, loc, acc, 0);
  }
}

/// `m`, or 0 where it is infinite: LogSumExp's shift, so that a slice of
/// all -inf (or inf) is shifted by 0, not by itself (inf - inf = NaN).
Value finiteOrZero(OpBuilder &b, Location loc, Value m) {
  Type t = m.getType();
  Value finite = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::ONE, math::AbsFOp::create(b, loc, m),
      scalarConst(b, loc, t, std::numeric_limits<double>::infinity()));
  return arith::SelectOp::create(b, loc, finite, m, scalarConst(b, loc, t, 0));
}

struct ReduceLowering : OpConversionPattern<ReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    ReduceKind kind = op.getKind();
    Type t = op.getType().getElementType();
    bool isFloat = isa<FloatType>(t);
    // Sums of f32 accumulate in f64 (as meanOver does); max and min need
    // no wider type.
    bool sums = kind != ReduceKind::max && kind != ReduceKind::min;
    Type acc = sums && t.isF32() ? b.getF64Type() : t;
    ArrayRef<int64_t> axes = op.getAxes();
    // log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum, so
    // that large inputs do not overflow.
    Value max;
    if (kind == ReduceKind::log_sum_exp) {
      max = reduce(b, loc, x, axes, reduceInit(b, loc, ReduceKind::max, t),
                   [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                     return arith::MaximumFOp::create(nb, nl, a[0], a[1]);
                   });
      int64_t rank = tensorTypeOf(x).getRank();
      AffineMap id = b.getMultiDimIdentityMap(rank);
      SmallVector<utils::IteratorType> iters(rank,
                                             utils::IteratorType::parallel);
      x = linalg::GenericOp::create(
              b, loc, tensorTypeOf(x), ValueRange{x, max},
              emptyTensor(b, loc, tensor::getMixedSizes(b, loc, x), t),
              ArrayRef<AffineMap>{id, droppedAxesMap(b, rank, axes), id},
              iters,
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                linalg::YieldOp::create(
                    nb, nl,
                    (Value)arith::SubFOp::create(nb, nl, a[0],
                                                 finiteOrZero(nb, nl, a[1])));
              })
              .getResult(0);
    }
    Value r = reduce(
        b, loc, x, axes, reduceInit(b, loc, kind, acc),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value v = a[0];
          if (v.getType() != acc)
            v = arith::ExtFOp::create(nb, nl, acc, v);
          switch (kind) {
          case ReduceKind::max:
            return isFloat ? (Value)arith::MaximumFOp::create(nb, nl, v, a[1])
                           : (Value)arith::MaxSIOp::create(nb, nl, v, a[1]);
          case ReduceKind::min:
            return isFloat ? (Value)arith::MinimumFOp::create(nb, nl, v, a[1])
                           : (Value)arith::MinSIOp::create(nb, nl, v, a[1]);
          case ReduceKind::prod:
            return isFloat ? (Value)arith::MulFOp::create(nb, nl, v, a[1])
                           : (Value)arith::MulIOp::create(nb, nl, v, a[1]);
          case ReduceKind::l1:
            v = isFloat ? (Value)math::AbsFOp::create(nb, nl, v)
                        : (Value)math::AbsIOp::create(nb, nl, v);
            break;
          case ReduceKind::l2:
          case ReduceKind::sum_square:
            v = isFloat ? (Value)arith::MulFOp::create(nb, nl, v, v)
                        : (Value)arith::MulIOp::create(nb, nl, v, v);
            break;
          case ReduceKind::log_sum_exp:
            v = math::ExpOp::create(nb, nl, v);
            break;
          default:
            break;
          }
          return isFloat ? (Value)arith::AddFOp::create(nb, nl, v, a[1])
                         : (Value)arith::AddIOp::create(nb, nl, v, a[1]);
        });
    // Finish: sqrt, log, the maximum back, and the result's type.
    auto reducedType = tensorTypeOf(r).clone(t);
    SmallVector<Value> ins = {r};
    if (max)
      ins.push_back(max);
    r = elementwise(b, loc, reducedType, ins,
                    [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                      Value v = a[0];
                      if (kind == ReduceKind::l2)
                        v = math::SqrtOp::create(nb, nl, v);
                      if (kind == ReduceKind::log_sum ||
                          kind == ReduceKind::log_sum_exp)
                        v = math::LogOp::create(nb, nl, v);
                      if (v.getType() != t)
                        v = arith::TruncFOp::create(nb, nl, t, v);
                      if (kind == ReduceKind::log_sum_exp)
                        v = arith::AddFOp::create(nb, nl, v,
                                                  finiteOrZero(nb, nl, a[1]));
                      return v;
                    });
    if (op.getKeepdims())
      r = insertUnitDims(b, loc, r, axes, op.getType());
    b.replaceOp(op, r);
    return success();
  }
};

/// ArgMax / ArgMin: one reduction carrying the best value and its index.
struct ArgReduceLowering : OpConversionPattern<ArgReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ArgReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    auto type = tensorTypeOf(x);
    Type t = type.getElementType();
    bool isFloat = isa<FloatType>(t);
    bool isMax = op.getKind() == ReduceKind::max;
    bool last = op.getSelectLastIndex();
    int64_t rank = type.getRank(), axis = op.getAxis();
    SmallVector<AffineExpr> outExprs;
    SmallVector<OpFoldResult> sizes;
    SmallVector<int64_t> shape;
    SmallVector<utils::IteratorType> iters;
    for (int64_t i = 0; i < rank; ++i) {
      iters.push_back(i == axis ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
      if (i == axis)
        continue;
      outExprs.push_back(b.getAffineDimExpr(i));
      sizes.push_back(dimOf(b, loc, x, i));
      shape.push_back(type.getDimSize(i));
    }
    Type i64 = b.getI64Type();
    Value best = linalg::FillOp::create(
                     b, loc, reduceInit(b, loc, op.getKind(), t),
                     emptyTensor(b, loc, sizes, t))
                     .getResult(0);
    Value index = linalg::FillOp::create(b, loc, scalarConst(b, loc, i64, -1),
                                         emptyTensor(b, loc, sizes, i64))
                      .getResult(0);
    AffineMap out = AffineMap::get(rank, 0, outExprs, b.getContext());
    auto generic = linalg::GenericOp::create(
        b, loc,
        TypeRange{RankedTensorType::get(shape, t),
                  RankedTensorType::get(shape, i64)},
        ValueRange{x}, ValueRange{best, index},
        ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank), out, out}, iters,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value v = a[0], cur = a[1], curIdx = a[2];
          Value i = arith::IndexCastOp::create(
              nb, nl, i64, linalg::IndexOp::create(nb, nl, axis));
          // Strictly better, or as good with select_last_index; the first
          // element always wins (index -1 marks "none yet"), so that an
          // all-NaN or all-extreme slice still gets a valid index.
          Value better;
          if (isFloat)
            better = arith::CmpFOp::create(
                nb, nl,
                isMax ? (last ? arith::CmpFPredicate::OGE
                              : arith::CmpFPredicate::OGT)
                      : (last ? arith::CmpFPredicate::OLE
                              : arith::CmpFPredicate::OLT),
                v, cur);
          else
            better = arith::CmpIOp::create(
                nb, nl,
                isMax ? (last ? arith::CmpIPredicate::sge
                              : arith::CmpIPredicate::sgt)
                      : (last ? arith::CmpIPredicate::sle
                              : arith::CmpIPredicate::slt),
                v, cur);
          Value none = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt,
                                             curIdx,
                                             scalarConst(nb, nl, i64, 0));
          Value take = arith::OrIOp::create(nb, nl, better, none);
          linalg::YieldOp::create(
              nb, nl,
              ValueRange{arith::SelectOp::create(nb, nl, take, v, cur),
                         arith::SelectOp::create(nb, nl, take, i, curIdx)});
        });
    Value r = generic.getResult(1);
    if (op.getKeepdims())
      r = insertUnitDims(b, loc, r, {axis}, op.getType());
    b.replaceOp(op, r);
    return success();
  }
};

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

} // namespace

void mlir::actsparse::lowering::populateReductionPatterns(RewritePatternSet &patterns) {
  patterns.add<MatMulLowering, DequantizeLowering, SoftmaxLowering,
               LogSoftmaxLowering, ReduceMeanLowering, ReduceLowering,
               ArgReduceLowering, LayerNormLowering>(patterns.getContext());
}
