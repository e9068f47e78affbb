//===- Ffn.cpp - actsparse.ffn and actsparse.sparse_ffn -------------------===//
//
// Dense FFN blocks go back to graph ops with a call to the runtime's FFN probe
// between the neurons and the down projection; bundled blocks become one call
// of the runtime's sparse FFN kernel.
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

/// The runtime's FFN probe: it reads the block's input rows, neuron rows and
/// residual rows, so bufferization needs no copies for it.
func::FuncOp getFfnProbeFunction(Operation *op) {
  MLIRContext *ctx = op->getContext();
  Type rows = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                    Float32Type::get(ctx));
  return getRuntimeKernel(
      op, ::actsparse::runtime::kFfnProbeFunction,
      FunctionType::get(ctx, {IntegerType::get(ctx, 64), rows, rows, rows}, {}),
      {1, 2, 3});
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
    // The projections read the original weight values, so that the MatMul
    // patterns see how a weight is defined (a quantized weight's
    // Transpose(Dequantize(...)) form); the driver remaps them.
    Value u = project(op.getUp(), adaptor.getUpBias());
    Value pre = op.getGate() ? project(op.getGate(), adaptor.getGateBias())
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
    Value y = MatMulOp::create(b, loc, op.getType(), h, op.getDown());
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
    if (std::optional<QuantKind> q = op.getQuant())
      config.quant = rt::QuantKind(int64_t(*q));
    Value gatePre = none;
    if (adaptor.getGatePre()) {
      config.gatePre = true;
      SmallVector<Value> gateLeading;
      gatePre = flattenToRows(b, loc, adaptor.getGatePre(), gateLeading);
    }
    // A quantized bundle goes to its own entry point as rows of bytes.
    Type bundleRows = rows;
    if (config.quant)
      bundleRows = RankedTensorType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic}, b.getI8Type());
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
        ctx,
        {i64, i64, f32, rows, bundleRows, rows, rows, rows, rows, rows, dynOut},
        {});
    func::FuncOp kernel = getRuntimeKernel(
        op,
        config.quant ? rt::kSparseFfnQuantFunction : rt::kSparseFfnFunction,
        fnType, {3, 4, 5, 6, 7, 8, 9});
    func::CallOp::create(
        b, loc, kernel,
        ValueRange{
            arith::ConstantIntOp::create(b, loc, op.getLayer().value_or(-1), 64),
            arith::ConstantIntOp::create(b, loc, config.encode(), 64),
            arith::ConstantOp::create(b, loc, b.getF32FloatAttr(threshold)),
            asRows(x2),
            tensor::CastOp::create(b, loc, bundleRows, adaptor.getBundle()),
            asRows(gatePre), asRows(a), asRows(bm), asRows(c), r2, outArg});
    auto type = op.getType();
    Value y = fromKernelRows(b, loc, out, type, leading, indexConst(b, loc, e));
    if (Value bias = adaptor.getDownBias())
      y = AddOp::create(b, loc, type, y, bias);
    b.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::actsparse::lowering::populateFfnPatterns(RewritePatternSet &patterns) {
  patterns.add<FfnLowering, SparseFfnLowering>(patterns.getContext());
}
