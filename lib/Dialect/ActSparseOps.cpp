//===- ActSparseOps.cpp - actsparse op verifiers and folders --------------===//
//
// Invariants that ODS constraints cannot express: weight names, and the
// ONNX MatMul shape rule.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Dialect/ShapeUtils.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/Quant.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::actsparse;
namespace rt = ::actsparse::runtime;

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("requires a non-empty weight-pack tensor name");
  return success();
}

//===----------------------------------------------------------------------===//
// DequantizeOp
//===----------------------------------------------------------------------===//

static_assert(int(QuantKind::q8_0) == int(rt::QuantKind::Q8_0) &&
                  int(QuantKind::q4_0) == int(rt::QuantKind::Q4_0) &&
                  int(QuantKind::q4_1) == int(rt::QuantKind::Q4_1) &&
                  int(QuantKind::f16) == int(rt::QuantKind::F16) &&
                  int(QuantKind::bf16) == int(rt::QuantKind::BF16),
              "the IR's quantized kinds are the runtime's");

LogicalResult DequantizeOp::verify() {
  RankedTensorType in = getInput().getType(), out = getType();
  if (in.getRank() != 2 || out.getRank() != 2 || !in.hasStaticShape() ||
      !out.hasStaticShape())
    return emitOpError("needs static 2-D input and result, got ")
           << in << " -> " << out;
  if (in.getDimSize(0) != out.getDimSize(0))
    return emitOpError("has ") << in.getDimSize(0) << " rows of blocks for "
                               << out.getDimSize(0) << " result rows";
  auto kind = rt::QuantKind(int(getKind()));
  int64_t k = out.getDimSize(1), bytes = rt::quantRowBytes(kind, k);
  if (in.getDimSize(1) != bytes)
    return emitOpError("rows of ")
           << k << " " << stringifyQuantKind(getKind()) << " weights take "
           << bytes << " bytes (" << (k + rt::kQuantBlock - 1) / rt::kQuantBlock
           << " blocks of " << rt::quantBlockBytes(kind) << "), not "
           << in.getDimSize(1);
  return success();
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  os << "]";
  return s;
}

LogicalResult MatMulOp::verify() {
  auto lhs = getLhs().getType().getShape();
  auto rhs = getRhs().getType().getShape();
  auto result = getResult().getType().getShape();
  std::string why;
  std::optional<SmallVector<int64_t>> expected = matmulShape(lhs, rhs, why);
  if (!expected)
    return emitOpError("operand shapes ")
           << shapeString(lhs) << " and " << shapeString(rhs)
           << " are incompatible: " << why;
  if (!isCompatibleShape(result, *expected))
    return emitOpError("result shape ")
           << shapeString(result) << " does not match the MatMul shape "
           << shapeString(*expected);
  return success();
}

//===----------------------------------------------------------------------===//
// Shared checks
//===----------------------------------------------------------------------===//

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// Checks that `axis` indexes a dimension of a rank-`rank` tensor.
static LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank,
                                StringRef what = "axis") {
  if (axis < 0 || axis >= rank)
    return op->emitOpError() << what << " " << axis << " is out of range for rank "
                             << rank << " (the importer normalises axes)";
  return success();
}

/// Checks that the result shape is compatible with `expected`.
static LogicalResult verifyResultShape(Operation *op,
                                       ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> result = shapeOf(op->getResult(0));
  if (!isCompatibleShape(result, expected))
    return op->emitOpError("result shape ")
           << shapeString(result) << " does not match the expected shape "
           << shapeString(expected);
  return success();
}

/// Checks a list of axes: in range, strictly increasing.
static LogicalResult verifyAxes(Operation *op, ArrayRef<int64_t> axes,
                                int64_t rank) {
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (failed(verifyAxis(op, axis, rank)))
      return failure();
    if (i > 0 && axes[i - 1] >= axis)
      return op->emitOpError("axes must be sorted and unique");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// WhereOp
//===----------------------------------------------------------------------===//

LogicalResult WhereOp::verify() {
  auto ab = broadcastShapes(shapeOf(getOnTrue()), shapeOf(getOnFalse()));
  std::optional<SmallVector<int64_t>> all =
      ab ? broadcastShapes(shapeOf(getCondition()), *ab) : std::nullopt;
  if (!all)
    return emitOpError("operands don't have broadcast-compatible shapes");
  return verifyResultShape(*this, *all);
}

//===----------------------------------------------------------------------===//
// ModOp, IsNaNOp, IsInfOp
//===----------------------------------------------------------------------===//

LogicalResult ModOp::verify() {
  if (isa<FloatType>(getType().getElementType()) && !getFmod())
    return emitOpError("on floats needs fmod (ONNX's rule)");
  return success();
}

/// A predicate on every element: the result has the input's shape.
static LogicalResult verifySameShape(Operation *op, Value input,
                                     RankedTensorType result) {
  if (!isCompatibleShape(shapeOf(input), result.getShape()))
    return op->emitOpError("result must have the input's shape");
  return success();
}

LogicalResult IsNaNOp::verify() {
  return verifySameShape(*this, getInput(), getType());
}

LogicalResult IsInfOp::verify() {
  return verifySameShape(*this, getInput(), getType());
}

//===----------------------------------------------------------------------===//
// SoftmaxOp, ReduceMeanOp, LayerNormOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return verifyAxis(*this, getAxis(), getType().getRank());
}

/// A reduction over `axes` of `input` has the input's shape without them,
/// or with them as 1 when `keepdims`.
static LogicalResult verifyReduction(Operation *op, Value input,
                                     ArrayRef<int64_t> axes, bool keepdims) {
  ArrayRef<int64_t> in = shapeOf(input);
  if (axes.empty())
    return op->emitOpError("requires at least one axis");
  if (failed(verifyAxes(op, axes, in.size())))
    return failure();
  SmallVector<int64_t> expected;
  for (auto [i, d] : llvm::enumerate(in)) {
    if (!llvm::is_contained(axes, (int64_t)i))
      expected.push_back(d);
    else if (keepdims)
      expected.push_back(1);
  }
  return verifyResultShape(op, expected);
}

LogicalResult ReduceMeanOp::verify() {
  return verifyReduction(*this, getInput(), getAxes(), getKeepdims());
}

LogicalResult ReduceOp::verify() {
  ReduceKind k = getKind();
  bool floatOnly = k == ReduceKind::l2 || k == ReduceKind::log_sum ||
                   k == ReduceKind::log_sum_exp;
  Type t = getType().getElementType();
  if (floatOnly && !isa<FloatType>(t))
    return emitOpError("reduce ") << stringifyReduceKind(k)
                                  << " needs a floating-point input";
  if (t.isInteger(1))
    return emitOpError("does not reduce booleans");
  return verifyReduction(*this, getInput(), getAxes(), getKeepdims());
}

LogicalResult ArgReduceOp::verify() {
  if (getKind() != ReduceKind::max && getKind() != ReduceKind::min)
    return emitOpError("kind must be max or min");
  int64_t axis = getAxis();
  return verifyReduction(*this, getInput(), ArrayRef<int64_t>(axis),
                         getKeepdims());
}

LogicalResult LogSoftmaxOp::verify() {
  return verifyAxis(*this, getAxis(), getType().getRank());
}

LogicalResult LayerNormOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  if (failed(verifyAxis(*this, getAxis(), in.size())))
    return failure();
  ArrayRef<int64_t> normalized = in.drop_front(getAxis());
  for (Value param : {getScale(), getBias()}) {
    if (!param)
      continue;
    auto b = broadcastShapes(normalized, shapeOf(param));
    if (!b || !isCompatibleShape(*b, normalized))
      return emitOpError("scale and bias must broadcast to the normalised "
                         "shape ")
             << shapeString(normalized);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult GatherElementsOp::verify() {
  int64_t rank = shapeOf(getData()).size();
  if ((int64_t)shapeOf(getIndices()).size() != rank)
    return emitOpError("indices must have the data's rank");
  return verifyAxis(*this, getAxis(), rank);
}

LogicalResult TopKOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  int64_t axis = getAxis();
  if (failed(verifyAxis(*this, axis, in.size())))
    return failure();
  if (shapeOf(getK()) != ArrayRef<int64_t>{1})
    return emitOpError("k must be a tensor<1xi64>");
  for (Value r : {getValues(), getIndices()}) {
    ArrayRef<int64_t> out = shapeOf(r);
    if (out.size() != in.size())
      return emitOpError("results must have the input's rank");
    for (size_t i = 0; i < in.size(); ++i)
      if ((int64_t)i != axis && !ShapedType::isDynamic(in[i]) &&
          !ShapedType::isDynamic(out[i]) && in[i] != out[i])
        return emitOpError("results differ from the input in dimension ")
               << i;
    if (!ShapedType::isDynamic(in[axis]) && !ShapedType::isDynamic(out[axis]) &&
        out[axis] > in[axis])
      return emitOpError("k exceeds the axis size");
  }
  return success();
}

LogicalResult CumSumOp::verify() {
  return verifyAxis(*this, getAxis(), getType().getRank());
}

LogicalResult GatherOp::verify() {
  ArrayRef<int64_t> data = shapeOf(getData());
  if (failed(verifyAxis(*this, getAxis(), data.size())))
    return failure();
  SmallVector<int64_t> expected(data.take_front(getAxis()));
  llvm::append_range(expected, shapeOf(getIndices()));
  llvm::append_range(expected, data.drop_front(getAxis() + 1));
  return verifyResultShape(*this, expected);
}

LogicalResult TransposeOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  ArrayRef<int64_t> perm = getPerm();
  if (perm.size() != in.size())
    return emitOpError("perm has ")
           << perm.size() << " entries for an input of rank " << in.size();
  SmallVector<bool> seen(in.size(), false);
  SmallVector<int64_t> expected;
  for (int64_t p : perm) {
    if (p < 0 || p >= (int64_t)in.size() || seen[p])
      return emitOpError("perm is not a permutation of 0..")
             << (int64_t)in.size() - 1;
    seen[p] = true;
    expected.push_back(in[p]);
  }
  return verifyResultShape(*this, expected);
}

LogicalResult ReshapeOp::verify() {
  ArrayRef<int64_t> shape = shapeOf(getShape());
  if (shape.size() != 1)
    return emitOpError("shape operand must be 1-D");
  int64_t rank = getType().getRank();
  if (!ShapedType::isDynamic(shape[0]) && shape[0] != rank)
    return emitOpError("shape operand has ")
           << shape[0] << " elements but the result has rank " << rank;
  auto in = cast<RankedTensorType>(getInput().getType());
  if (in.hasStaticShape() && getType().hasStaticShape() &&
      in.getNumElements() != getType().getNumElements())
    return emitOpError("reshape from ")
           << shapeString(in.getShape()) << " to "
           << shapeString(getType().getShape())
           << " changes the number of elements";
  return success();
}

LogicalResult ExpandOp::verify() {
  ArrayRef<int64_t> shape = shapeOf(getShape());
  if (shape.size() != 1)
    return emitOpError("shape operand must be 1-D");
  int64_t rank = getType().getRank();
  int64_t inRank = shapeOf(getInput()).size();
  if (!ShapedType::isDynamic(shape[0]) &&
      rank != std::max<int64_t>(inRank, shape[0]))
    return emitOpError("result rank ")
           << rank << " is not max(input rank, shape length) = "
           << std::max<int64_t>(inRank, shape[0]);
  // Every static input dimension is either 1 or kept.
  auto b = broadcastShapes(shapeOf(getInput()), getType().getShape());
  if (!b || !isCompatibleShape(*b, getType().getShape()))
    return emitOpError("input does not broadcast to the result shape");
  return success();
}

LogicalResult UnsqueezeOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  int64_t rank = in.size() + getAxes().size();
  if (failed(verifyAxes(*this, getAxes(), rank)))
    return failure();
  SmallVector<int64_t> expected;
  const int64_t *next = in.begin();
  for (int64_t i = 0; i < rank; ++i)
    expected.push_back(llvm::is_contained(getAxes(), i) ? 1 : *next++);
  return verifyResultShape(*this, expected);
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("requires at least one input");
  SmallVector<int64_t> expected(shapeOf(getInputs().front()));
  if (failed(verifyAxis(*this, getAxis(), expected.size())))
    return failure();
  int64_t axis = getAxis();
  for (Value in : getInputs().drop_front()) {
    ArrayRef<int64_t> s = shapeOf(in);
    if (s.size() != expected.size())
      return emitOpError("inputs must have the same rank");
    for (auto [i, d] : llvm::enumerate(s)) {
      int64_t &e = expected[i];
      if ((int64_t)i == axis) {
        e = ShapedType::isDynamic(e) || ShapedType::isDynamic(d)
                ? ShapedType::kDynamic
                : e + d;
      } else if (!ShapedType::isDynamic(d) && !ShapedType::isDynamic(e) &&
                 d != e) {
        return emitOpError("inputs differ in dimension ")
               << i << " (" << e << " vs " << d << ")";
      } else if (ShapedType::isDynamic(e)) {
        e = d;
      }
    }
  }
  return verifyResultShape(*this, expected);
}

LogicalResult KvAppendOp::verify() {
  ArrayRef<int64_t> rows = shapeOf(getRows()), cache = shapeOf(getCache()),
                    past = shapeOf(getPast());
  if (rows.size() != cache.size() || past.size() != cache.size())
    return emitOpError("rows, cache and past must have the same rank");
  if (failed(verifyAxis(*this, getAxis(), cache.size())))
    return failure();
  int64_t axis = getAxis();
  for (size_t i = 0; i < cache.size(); ++i) {
    if ((int64_t)i == axis)
      continue;
    for (int64_t d : {rows[i], past[i]})
      if (!ShapedType::isDynamic(d) && !ShapedType::isDynamic(cache[i]) &&
          d != cache[i])
        return emitOpError("dimension ")
               << i << " is " << d << " where the cache has " << cache[i];
  }
  if (!ShapedType::isDynamic(rows[axis]) &&
      !ShapedType::isDynamic(past[axis]) &&
      !ShapedType::isDynamic(cache[axis]) &&
      rows[axis] + past[axis] != cache[axis])
    return emitOpError("the cache holds ")
           << cache[axis] << " rows along axis " << axis << ", not the "
           << past[axis] << " past and " << rows[axis] << " new ones";
  return success();
}

LogicalResult CastOp::verify() {
  if (!isCompatibleShape(shapeOf(getInput()), getType().getShape()))
    return emitOpError("cannot change the shape");
  return success();
}

//===----------------------------------------------------------------------===//
// Shape computations
//===----------------------------------------------------------------------===//

LogicalResult ShapeOp::verify() {
  int64_t rank = shapeOf(getInput()).size();
  if (getStart().has_value() != getEnd().has_value())
    return emitOpError("start and end must be given together");
  int64_t start = getStart().value_or(0), end = getEnd().value_or(rank);
  if (start < 0 || start > end || end > rank)
    return emitOpError("range [")
           << start << " : " << end << "] must satisfy 0 <= start <= end <= "
           << rank;
  return verifyResultShape(*this, {end - start});
}

LogicalResult ConstantOfShapeOp::verify() {
  if (getValue().getNumElements() != 1)
    return emitOpError("value must hold exactly one element");
  if (getValue().getElementType() != getType().getElementType())
    return emitOpError("value element type must be the result element type");
  ArrayRef<int64_t> shape = shapeOf(getShape());
  if (shape.size() != 1)
    return emitOpError("shape operand must be 1-D");
  if (!ShapedType::isDynamic(shape[0]) && shape[0] != getType().getRank())
    return emitOpError("shape operand has ")
           << shape[0] << " elements but the result has rank "
           << getType().getRank();
  return success();
}

//===----------------------------------------------------------------------===//
// FfnOp
//===----------------------------------------------------------------------===//

std::optional<std::string>
mlir::actsparse::getFfnShapeMismatch(const FfnOperandTypes &t) {
  auto shape = [](Type type) {
    return cast<RankedTensorType>(type).getShape();
  };
  auto mismatch = [](int64_t a, int64_t b) {
    return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
  };
  ArrayRef<int64_t> in = shape(t.input), up = shape(t.up),
                    down = shape(t.down);
  if (in.empty())
    return std::string("input must have rank >= 1");
  if (up.size() != 2 || down.size() != 2)
    return std::string("up and down must be matrices");
  int64_t hidden = up[1];
  if (mismatch(in.back(), up[0]))
    return "input features " + std::to_string(in.back()) +
           " differ from the rows of up (" + std::to_string(up[0]) + ")";
  if (t.gate && shape(t.gate) != up)
    return std::string("gate and up must have the same shape");
  if (mismatch(down[0], hidden))
    return "rows of down (" + std::to_string(down[0]) +
           ") differ from the neurons of up (" + std::to_string(hidden) + ")";
  auto isVector = [&](Type type, int64_t size) {
    ArrayRef<int64_t> s = shape(type);
    return s.size() == 1 && !mismatch(s[0], size);
  };
  if (t.upBias && !isVector(t.upBias, hidden))
    return std::string("up_bias must be a vector of one entry per neuron");
  if (t.gateBias && (!t.gate || !isVector(t.gateBias, hidden)))
    return std::string(
        "gate_bias needs a gate and must have one entry per neuron");
  if (t.downBias && !isVector(t.downBias, down[1]))
    return std::string("down_bias must be a vector of one entry per output");
  if (t.shift && !shape(t.shift).empty() && !isVector(t.shift, hidden))
    return std::string("shift must be a scalar or have one entry per neuron");
  if (t.result) {
    SmallVector<int64_t> expected(in);
    expected.back() = down[1];
    if (!isCompatibleShape(shape(t.result), expected))
      return "result shape " + shapeString(shape(t.result)) +
             " does not match the expected shape " + shapeString(expected);
  }
  return std::nullopt;
}

/// The activation attributes actsparse.ffn and actsparse.sparse_ffn share.
template <typename Op> static LogicalResult verifyNeuronAttrs(Op op, bool gated) {
  if (op.getReluUp() && !gated)
    return op.emitOpError("relu_up (dReLU) needs a gated block");
  if (std::optional<APFloat> t = op.getThreshold();
      t && !(t->convertToDouble() >= 0.0 && t->isFinite()))
    return op.emitOpError("threshold must be finite and >= 0");
  if (op.getThresholdOn() && !op.getThreshold())
    return op.emitOpError("threshold_on needs a threshold");
  if (std::optional<int64_t> layer = op.getLayer(); layer && *layer < 0)
    return op.emitOpError("layer must be >= 0");
  return success();
}

int64_t FfnOp::getNumNeurons() { return getUp().getType().getShape()[1]; }

/// ReLU (with any shift) and no threshold on the neuron: a neuron is zero
/// exactly when its activation is, which its gate alone decides.
static bool gateDecidesZeros(Activation activation,
                             std::optional<ThresholdOn> thresholdOn) {
  return activation == Activation::relu && thresholdOn != ThresholdOn::neuron;
}

bool FfnOp::isGateDetermined() {
  return gateDecidesZeros(getActivation(), getThresholdOn());
}

void FfnOp::setMagnitudeThreshold(float threshold, ThresholdOn on) {
  setThresholdAttr(FloatAttr::get(Float32Type::get(getContext()), threshold));
  if (on == ThresholdOn::neuron)
    setThresholdOn(on);
  else
    removeThresholdOnAttr();
}

LogicalResult FfnOp::verify() {
  auto typeOf = [](Value v) { return v ? v.getType() : Type(); };
  FfnOperandTypes types{getInput().getType(), getUp().getType(),
                        typeOf(getGate()),    getDown().getType(),
                        typeOf(getUpBias()),  typeOf(getGateBias()),
                        typeOf(getDownBias()), typeOf(getShift()),
                        getType()};
  if (std::optional<std::string> why = getFfnShapeMismatch(types))
    return emitOpError(*why);
  Type element = getType().getElementType();
  for (Value v : getOperands())
    if (cast<RankedTensorType>(v.getType()).getElementType() != element)
      return emitOpError("operands and result must share one element type");
  return verifyNeuronAttrs(*this, bool(getGate()));
}

//===----------------------------------------------------------------------===//
// SparseFfnOp
//===----------------------------------------------------------------------===//


// The lowering hands the activation to the kernel by number.
static_assert(uint32_t(Activation::relu) == uint32_t(rt::FfnActivation::Relu) &&
              uint32_t(Activation::silu) == uint32_t(rt::FfnActivation::Silu) &&
              uint32_t(Activation::gelu) == uint32_t(rt::FfnActivation::Gelu) &&
              uint32_t(Activation::gelu_tanh) ==
                  uint32_t(rt::FfnActivation::GeluTanh));

static constexpr std::pair<uint32_t, llvm::StringLiteral> kBundleFields[] = {
    {rt::kBundleGate, "gate"},          {rt::kBundleUp, "up"},
    {rt::kBundleDown, "down"},          {rt::kBundleGateBias, "gate_bias"},
    {rt::kBundleUpBias, "up_bias"},     {rt::kBundleShift, "shift"}};

SmallVector<StringRef> mlir::actsparse::getBundleFieldNames(uint32_t fields) {
  SmallVector<StringRef> names;
  for (auto [bit, name] : kBundleFields)
    if (fields & bit)
      names.push_back(name);
  return names;
}

/// The field bits of a `fields` attribute, or nullopt when it names an
/// unknown field, repeats one or lists them out of storage order.
static std::optional<uint32_t> fieldMaskOf(ArrayAttr fields) {
  uint32_t mask = 0;
  size_t next = 0;
  for (Attribute a : fields) {
    StringRef name = cast<StringAttr>(a).getValue();
    while (next < std::size(kBundleFields) && kBundleFields[next].second != name)
      ++next;
    if (next == std::size(kBundleFields))
      return std::nullopt;
    mask |= kBundleFields[next++].first;
  }
  return mask;
}

int64_t SparseFfnOp::getNumNeurons() {
  return cast<RankedTensorType>(getBundle().getType()).getShape()[0];
}

uint32_t SparseFfnOp::getFieldMask() {
  return fieldMaskOf(getFields()).value_or(0);
}

bool SparseFfnOp::isGateDetermined() {
  return gateDecidesZeros(getActivation(), getThresholdOn());
}

LogicalResult SparseFfnOp::verify() {
  std::optional<uint32_t> fields = fieldMaskOf(getFields());
  if (!fields)
    return emitOpError("fields must be a subsequence of [\"gate\", \"up\", "
                       "\"down\", \"gate_bias\", \"up_bias\", \"shift\"]");
  if (!(*fields & rt::kBundleUp) || !(*fields & rt::kBundleDown))
    return emitOpError("fields must include up and down");
  if ((*fields & rt::kBundleGateBias) && !(*fields & rt::kBundleGate))
    return emitOpError("gate_bias needs a gate");
  Value gatePre = getGatePre();
  if (gatePre && (*fields & (rt::kBundleGate | rt::kBundleShift)))
    return emitOpError("with gate_pre the rows hold no gate, gate_bias or "
                       "shift (they are in gate_pre)");
  bool gated = (*fields & rt::kBundleGate) || gatePre;
  auto in = getInput().getType(), out = getType();
  auto bundle = cast<RankedTensorType>(getBundle().getType());
  if (in.getRank() < 1 || out.getRank() != in.getRank())
    return emitOpError("input and result must have the same rank >= 1");
  int64_t d = in.getShape().back(), e = out.getShape().back();
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(e))
    return emitOpError("the input and result features must be static");
  if (!isCompatibleShape(in.getShape().drop_back(), out.getShape().drop_back()))
    return emitOpError("input and result must agree on every dimension but "
                       "the last");
  if (bundle.getRank() != 2 || !bundle.hasStaticShape())
    return emitOpError("bundle must be a static matrix (neurons x row)");
  std::optional<rt::QuantKind> quant;
  if (std::optional<QuantKind> q = getQuant())
    quant = rt::QuantKind(int64_t(*q));
  if (bundle.getElementType().isInteger(8) != quant.has_value())
    return emitOpError("a quantized bundle (quant = ...) is a matrix of i8, "
                       "and an i8 bundle needs its quant format");
  int64_t stride = rt::FfnBundleLayout::make(d, e, *fields, quant).stride;
  if (bundle.getShape()[1] != stride)
    return emitOpError("bundle rows of ")
           << bundle.getShape()[1] << (quant ? " bytes" : " floats")
           << ", but these fields with " << d << " inputs and " << e
           << " outputs take " << stride;
  int64_t hidden = bundle.getShape()[0];
  Type element = out.getElementType();
  if (quant && !element.isF32())
    return emitOpError("a quantized bundle computes in f32");
  for (Value v : getOperands())
    if (v != getBundle() || !quant)
      if (cast<RankedTensorType>(v.getType()).getElementType() != element)
        return emitOpError("operands and result must share one element type");
  if (Value bias = getDownBias())
    if (cast<RankedTensorType>(bias.getType()).getShape() != ArrayRef{e})
      return emitOpError("down_bias must be a vector of one entry per output");
  if (failed(verifyNeuronAttrs(*this, gated)))
    return failure();
  bool lowrank = getPredictor() == Predictor::lowrank;
  if (gatePre) {
    ArrayRef<int64_t> g = cast<RankedTensorType>(gatePre.getType()).getShape();
    if (g.size() != in.getShape().size() ||
        !isCompatibleShape(g.drop_back(), in.getShape().drop_back()) ||
        g.back() != hidden)
      return emitOpError("gate_pre must have the input's leading dimensions "
                         "and one entry per neuron (")
             << hidden << ")";
    if (!isGateDetermined() || lowrank)
      return emitOpError("gate_pre serves blocks whose gate decides their "
                         "zeros, without a low-rank predictor");
  }
  if (bool(getScoreA()) != lowrank)
    return emitOpError("scores(A, B, c) go with predictor = lowrank, and only "
                       "with it");
  if (getPredictor() && !isGateDetermined())
    return emitOpError("a predictor needs a block whose gate decides its "
                       "zeros (activation = relu, no threshold_on = neuron)");
  if (lowrank) {
    ArrayRef<int64_t> a = cast<RankedTensorType>(getScoreA().getType()).getShape(),
                      b = cast<RankedTensorType>(getScoreB().getType()).getShape(),
                      c = cast<RankedTensorType>(getScoreBias().getType()).getShape();
    if (a.size() != 2 || b.size() != 2 || c.size() != 1 || a[0] != d ||
        b[0] != a[1] || b[1] != hidden || c[0] != hidden)
      return emitOpError("scores must be D x r, r x H and H (D = ")
             << d << ", H = " << hidden << ")";
  }
  return success();
}

#include "actsparse/Dialect/ActSparseEnums.cpp.inc"

#define GET_OP_CLASSES
#include "actsparse/Dialect/ActSparseOps.cpp.inc"

//===----------------------------------------------------------------------===//
// SliceOp, TriluOp, ScatterNdOp
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::verify() {
  ArrayRef<int64_t> data = shapeOf(getData());
  ArrayRef<int64_t> axes = getAxes(), steps = getSteps();
  if (steps.size() != axes.size())
    return emitOpError("has ") << axes.size() << " axes but " << steps.size()
                               << " steps";
  for (Value v : {getStarts(), getEnds()}) {
    ArrayRef<int64_t> s = shapeOf(v);
    if (s.size() != 1 || (!ShapedType::isDynamic(s[0]) &&
                          s[0] != (int64_t)axes.size()))
      return emitOpError("starts and ends must be 1-D with one element per "
                         "axis (")
             << axes.size() << ")";
  }
  SmallVector<bool> seen(data.size(), false);
  for (auto [axis, step] : llvm::zip(axes, steps)) {
    if (failed(verifyAxis(*this, axis, data.size())))
      return failure();
    if (seen[axis])
      return emitOpError("axis ") << axis << " is sliced twice";
    seen[axis] = true;
    if (step == 0 || step == INT64_MIN)
      return emitOpError("steps must be non-zero (and above INT64_MIN), not ")
             << step;
  }
  // Axes not sliced keep their size; sliced ones are at most as large.
  SmallVector<int64_t> expected(data);
  for (int64_t axis : axes)
    expected[axis] = ShapedType::kDynamic;
  if (failed(verifyResultShape(*this, expected)))
    return failure();
  ArrayRef<int64_t> result = getType().getShape();
  for (int64_t axis : axes)
    if (!ShapedType::isDynamic(data[axis]) &&
        !ShapedType::isDynamic(result[axis]) && result[axis] > data[axis])
      return emitOpError("result dimension ")
             << axis << " (" << result[axis] << ") exceeds the input's ("
             << data[axis] << ")";
  return success();
}

LogicalResult TriluOp::verify() {
  if (getInput().getType().getRank() < 2)
    return emitOpError("needs an input of rank 2 or more");
  return success();
}

LogicalResult ScatterNdOp::verify() {
  if (auto r = getReduction();
      r && !llvm::is_contained({ReduceKind::sum, ReduceKind::prod,
                                ReduceKind::max, ReduceKind::min},
                               *r))
    return emitOpError("reduction must be sum, prod, max or min");
  if (getReduction() && getType().getElementType().isInteger(1))
    return emitOpError("does not reduce booleans");
  ArrayRef<int64_t> data = shapeOf(getData()), idx = shapeOf(getIndices());
  if (idx.empty() || ShapedType::isDynamic(idx.back()))
    return emitOpError("indices need a static last dimension (the index "
                       "length)");
  int64_t k = idx.back();
  if (k < 1 || k > (int64_t)data.size())
    return emitOpError("index length ")
           << k << " is not in 1.." << data.size() << " (the data rank)";
  SmallVector<int64_t> expected(idx.drop_back());
  llvm::append_range(expected, data.drop_front(k));
  ArrayRef<int64_t> updates = shapeOf(getUpdates());
  if (!isCompatibleShape(updates, expected))
    return emitOpError("updates have shape ")
           << shapeString(updates) << ", expected " << shapeString(expected);
  return success();
}
