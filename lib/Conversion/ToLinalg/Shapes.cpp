//===- Shapes.cpp - constants and shape computations ----------------------===//
//
// Constants, Shape, ConstantOfShape and Range: the small integer tensors that
// exported graphs compute their shapes with.
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

} // namespace

void mlir::actsparse::lowering::populateShapePatterns(RewritePatternSet &patterns) {
  patterns.add<ConstantLowering, ShapeLowering, ConstantOfShapeLowering,
               RangeLowering>(patterns.getContext());
}
