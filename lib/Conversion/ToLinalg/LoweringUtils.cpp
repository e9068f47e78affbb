//===- LoweringUtils.cpp - shared helpers of the actsparse lowering -------===//
//
// Definitions of LoweringUtils.h.
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

namespace mlir::actsparse::lowering {

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
func::FuncOp getRuntimeKernel(Operation *op, StringRef name, FunctionType type,
                              ArrayRef<unsigned> readOnly) {
  func::FuncOp f = getRuntimeFunction(op, name, type);
  MLIRContext *ctx = op->getContext();
  f->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  for (unsigned i : readOnly)
    f.setArgAttr(i, "bufferization.access", StringAttr::get(ctx, "read"));
  return f;
}

func::FuncOp getIndexErrorFunction(Operation *op) {
  Type i64 = IntegerType::get(op->getContext(), 64);
  return getRuntimeFunction(
      op, ::actsparse::runtime::kIndexOutOfRangeSymbol,
      FunctionType::get(op->getContext(), {i64, i64}, {}));
}

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

Value castScalar(OpBuilder &b, Location loc, Value x, Type to,
                 bool fromUnsigned, bool toUnsigned) {
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
    return toUnsigned ? (Value)arith::FPToUIOp::create(b, loc, to, x)
                      : (Value)arith::FPToSIOp::create(b, loc, to, x);
  if (toF)
    return fromUnsigned ? (Value)arith::UIToFPOp::create(b, loc, to, x)
                        : (Value)arith::SIToFPOp::create(b, loc, to, x);
  if (from.getIntOrFloatBitWidth() == to.getIntOrFloatBitWidth())
    return x; // the same bits, signed or not
  if (from.getIntOrFloatBitWidth() > to.getIntOrFloatBitWidth())
    return arith::TruncIOp::create(b, loc, to, x);
  return fromUnsigned ? (Value)arith::ExtUIOp::create(b, loc, to, x)
                      : (Value)arith::ExtSIOp::create(b, loc, to, x);
}

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
Value fromKernelRows(OpBuilder &b, Location loc, Value buffer,
                     RankedTensorType type, SmallVector<Value> leading,
                     Value cols) {
  auto memrefType = cast<MemRefType>(buffer.getType());
  Value y = bufferization::ToTensorOp::create(
      b, loc,
      RankedTensorType::get(memrefType.getShape(),
                            memrefType.getElementType()),
      buffer, /*restrict=*/true, /*writable=*/true);
  if (type.getRank() != 2) {
    leading.push_back(cols);
    return tensor::ReshapeOp::create(b, loc, type, y,
                                     i64ShapeTensor(b, loc, leading));
  }
  return y.getType() == type ? y : tensor::CastOp::create(b, loc, type, y);
}

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
      v, i64ShapeTensor(b, loc, {rowsCount, dimValue(b, loc, v, r - 1)}));
}

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

/// `v + size` where `v` is negative: ONNX's from-the-end indices.
Value fromEnd(OpBuilder &b, Location loc, Value v, Value size) {
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

/// Element `i` of a 1-D integer tensor, as an index.
Value elementAt(OpBuilder &b, Location loc, Value t, int64_t i) {
  return toIndex(b, loc,
                 tensor::ExtractOp::create(b, loc, t,
                                           ValueRange{indexConst(b, loc, i)}));
}

} // namespace mlir::actsparse::lowering
