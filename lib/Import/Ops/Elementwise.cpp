//===- Elementwise.cpp - ONNX elementwise handlers --------------------------===//
//
// Handlers of the importer's registration table (OnnxImporter.cpp) for
// elementwise arithmetic, comparisons, math and activations, Where, Cast.
//
//===----------------------------------------------------------------------===//

#include "../Importer.h"

using namespace mlir;
using namespace mlir::actsparse;

namespace mlir::actsparse::onnx_import {

namespace {

/// The element types an op takes, as its ODS operand constraint says.
enum class Operands { Float, Numeric, Bool };

template <typename OpTy> constexpr Operands operandsOf() {
  if constexpr (llvm::is_one_of<OpTy, AddOp, SubOp, MulOp, DivOp, MinOp,
                                MaxOp, NegOp, AbsOp, SignOp>::value)
    return Operands::Numeric;
  else if constexpr (llvm::is_one_of<OpTy, AndOp, OrOp, XorOp, NotOp>::value)
    return Operands::Bool;
  else
    return Operands::Float;
}

/// Checks `v`'s element type against what OpTy takes.
template <typename OpTy>
LogicalResult checkOperand(const NodeCtx &n, Value v) {
  Type t = getElementTypeOrSelf(v);
  switch (operandsOf<OpTy>()) {
  case Operands::Float:
    if (isa<FloatType>(t))
      return success();
    return emitError(n.loc) << n.node.op_type()
                            << " is supported on floating-point tensors only";
  case Operands::Bool:
    if (t.isInteger(1))
      return success();
    return emitError(n.loc) << n.node.op_type()
                            << " is supported on boolean tensors only";
  case Operands::Numeric:
    if (isa<FloatType>(t) || (isa<IntegerType>(t) && !t.isInteger(1)))
      return success();
    return emitError(n.loc) << n.node.op_type()
                            << " is not supported on boolean tensors";
  }
  return failure();
}

/// x op y on known shape elements; nullopt where the result would overflow
/// or divide by zero.
template <typename OpTy>
std::optional<int64_t> foldKnown(int64_t x, int64_t y) {
  int64_t r;
  if constexpr (std::is_same_v<OpTy, AddOp>) {
    if (!__builtin_add_overflow(x, y, &r))
      return r;
  } else if constexpr (std::is_same_v<OpTy, SubOp>) {
    if (!__builtin_sub_overflow(x, y, &r))
      return r;
  } else if constexpr (std::is_same_v<OpTy, MulOp>) {
    if (!__builtin_mul_overflow(x, y, &r))
      return r;
  } else if constexpr (std::is_same_v<OpTy, DivOp>) {
    if (y != 0 && !(x == INT64_MIN && y == -1))
      return x / y;
  } else if constexpr (std::is_same_v<OpTy, MinOp>) {
    return std::min(x, y);
  } else if constexpr (std::is_same_v<OpTy, MaxOp>) {
    return std::max(x, y);
  }
  return std::nullopt;
}

} // namespace

template <typename OpTy>
FailureOr<Value> Importer::broadcastBinary(NodeCtx &n, Value lhs, Value rhs) {
  auto lt = cast<RankedTensorType>(lhs.getType());
  if (getElementTypeOrSelf(rhs) != lt.getElementType())
    return emitError(n.loc) << n.node.op_type()
                            << " operands have different element types";
  if (failed(checkOperand<OpTy>(n, lhs)))
    return failure();
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lt.getShape(), shapeOf(rhs));
  if (!shape)
    return emitError(n.loc) << n.node.op_type()
                            << " operands do not broadcast";
  bool isUnsignedOp = isUnsigned(lhs) || isUnsigned(rhs);
  Value r = OpTy::create(b, n.loc, withShape(lhs, *shape), lhs, rhs,
                         isUnsignedOp);
  if (lt.getElementType().isInteger(64) && !isUnsignedOp)
    if (auto k = combineKnown(known(lhs), known(rhs), foldKnown<OpTy>))
      knownValues[r] = *k;
  markUnsigned(r, isUnsignedOp);
  return r;
}

template <typename OpTy> LogicalResult Importer::binary(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  FailureOr<Value> r = broadcastBinary<OpTy>(n, n.in(0), n.in(1));
  if (failed(r))
    return failure();
  n.results.push_back(*r);
  return success();
}

template <typename OpTy> LogicalResult Importer::variadic(NodeCtx &n) {
  if (n.inputs.empty() || llvm::any_of(n.inputs, [](Value v) { return !v; }))
    return emitError(n.loc) << n.node.op_type() << " needs at least one input";
  Value acc = n.in(0);
  if (failed(checkOperand<OpTy>(n, acc)))
    return failure();
  for (Value v : ArrayRef<Value>(n.inputs).drop_front()) {
    FailureOr<Value> r = broadcastBinary<OpTy>(n, acc, v);
    if (failed(r))
      return failure();
    acc = *r;
  }
  n.results.push_back(acc);
  return success();
}

LogicalResult Importer::mean(NodeCtx &n) {
  if (failed(variadic<AddOp>(n)))
    return failure();
  Value sum = n.results.pop_back_val();
  Type t = getElementTypeOrSelf(sum);
  if (!isa<FloatType>(t))
    return emitError(n.loc) << "Mean is supported on floating-point tensors "
                               "only";
  Value count = constant(
      DenseElementsAttr::get(RankedTensorType::get({}, t),
                             b.getFloatAttr(t, double(n.inputs.size()))),
      n.loc);
  FailureOr<Value> r = broadcastBinary<DivOp>(n, sum, count);
  if (failed(r))
    return failure();
  n.results.push_back(*r);
  return success();
}

LogicalResult Importer::pow(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  // ONNX Pow takes an exponent of another type, and integer bases: the
  // power is computed in floating point (f64 for integers, exact for the
  // results an integer can hold up to 2^53) and cast back to the base's
  // type, as ONNX's reference does.
  Value x = n.in(0), y = n.in(1);
  Type xt = getElementTypeOrSelf(x);
  Type ct = isa<FloatType>(xt) ? xt : Type(b.getF64Type());
  if (xt.isInteger(1) || getElementTypeOrSelf(y).isInteger(1))
    return emitError(n.loc) << "Pow is not supported on boolean tensors";
  auto convert = [&](Value v, Type t, bool toUnsigned) -> Value {
    if (getElementTypeOrSelf(v) == t)
      return v;
    return CastOp::create(b, n.loc, withShape(v, shapeOf(v), t), v,
                          isUnsigned(v), toUnsigned);
  };
  FailureOr<Value> r =
      broadcastBinary<PowOp>(n, convert(x, ct, false), convert(y, ct, false));
  if (failed(r))
    return failure();
  n.results.push_back(convert(*r, xt, isUnsigned(x)));
  markUnsigned(n.results.back(), isUnsigned(x));
  return success();
}

LogicalResult Importer::mod(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  bool fmod = intAttr(n.node, "fmod", 0) != 0;
  Type t = getElementTypeOrSelf(n.in(0));
  if (isa<FloatType>(t) && !fmod)
    return emitError(n.loc) << "Mod on floating-point tensors needs fmod = 1 "
                               "(ONNX's rule)";
  if (t.isInteger(1))
    return emitError(n.loc) << "Mod is not supported on boolean tensors";
  if (getElementTypeOrSelf(n.in(1)) != t)
    return emitError(n.loc) << "Mod operands have different element types";
  auto shape = broadcastShapes(shapeOf(n.in(0)), shapeOf(n.in(1)));
  if (!shape)
    return emitError(n.loc) << "Mod operands do not broadcast";
  bool isUnsignedOp = isUnsigned(n.in(0)) || isUnsigned(n.in(1));
  n.results.push_back(ModOp::create(b, n.loc, withShape(n.in(0), *shape),
                                    n.in(0), n.in(1), fmod, isUnsignedOp));
  return success();
}

template <typename OpTy> LogicalResult Importer::compare(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  if (getElementTypeOrSelf(n.in(0)) != getElementTypeOrSelf(n.in(1)))
    return emitError(n.loc) << n.node.op_type()
                            << " operands have different element types";
  auto shape = broadcastShapes(shapeOf(n.in(0)), shapeOf(n.in(1)));
  if (!shape)
    return emitError(n.loc) << n.node.op_type()
                            << " operands do not broadcast";
  bool isUnsignedOp = isUnsigned(n.in(0)) || isUnsigned(n.in(1));
  Value r = OpTy::create(b, n.loc, withShape(n.in(0), *shape, b.getI1Type()),
                         n.in(0), n.in(1), isUnsignedOp);
  // Shape arithmetic (exports compare shape vectors with -1): known
  // integer elements give known booleans, kept as 0 / 1.
  if (getElementTypeOrSelf(n.in(0)).isInteger(64) && shape->size() <= 1 &&
      !isUnsignedOp) {
    auto rel = [](int64_t x, int64_t y) -> std::optional<int64_t> {
      if constexpr (std::is_same_v<OpTy, EqualOp>)
        return x == y;
      else if constexpr (std::is_same_v<OpTy, LessOp>)
        return x < y;
      else if constexpr (std::is_same_v<OpTy, LessOrEqualOp>)
        return x <= y;
      else if constexpr (std::is_same_v<OpTy, GreaterOp>)
        return x > y;
      else
        return x >= y;
    };
    if (auto k = combineKnown(known(n.in(0)), known(n.in(1)), rel))
      knownValues[r] = *k;
  }
  n.results.push_back(r);
  return success();
}

template <typename OpTy> LogicalResult Importer::unary(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)) || failed(checkOperand<OpTy>(n, n.in(0))))
    return failure();
  Value r = OpTy::create(b, n.loc, n.in(0));
  // Shape arithmetic: Neg of known i64 elements (ONNX's LayerNormalization
  // expansion negates an axis to size a shape).
  if constexpr (std::is_same_v<OpTy, NegOp>) {
    if (auto k = known(n.in(0)); k && getElementTypeOrSelf(r).isInteger(64)) {
      Known neg;
      for (const auto &e : *k)
        neg.push_back(e && *e != INT64_MIN ? std::optional<int64_t>(-*e)
                                           : std::nullopt);
      knownValues[r] = std::move(neg);
    }
  }
  n.results.push_back(r);
  return success();
}

template <typename OpTy>
LogicalResult Importer::paramActivation(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)) || failed(checkOperand<OpTy>(n, n.in(0))))
    return failure();
  // ONNX's defaults; Selu's gamma is our beta.
  float alpha = 1.0f, beta = 0.0f;
  if constexpr (std::is_same_v<OpTy, LeakyReluOp>)
    alpha = 0.01f;
  if constexpr (std::is_same_v<OpTy, HardSigmoidOp>)
    alpha = 0.2f, beta = 0.5f;
  if constexpr (std::is_same_v<OpTy, SeluOp>)
    alpha = 1.67326319217681884765625f, beta = 1.05070102214813232421875f;
  if constexpr (std::is_same_v<OpTy, ShrinkOp>)
    alpha = 0.5f;
  // Shrink names its parameters lambd and bias, Selu its second gamma.
  bool shrink = std::is_same_v<OpTy, ShrinkOp>;
  alpha = floatAttr(n.node, shrink ? "lambd" : "alpha", alpha);
  beta = floatAttr(n.node,
                   shrink ? "bias"
                          : std::is_same_v<OpTy, SeluOp> ? "gamma" : "beta",
                   beta);
  if (std::is_same_v<OpTy, CeluOp> && alpha == 0)
    return emitError(n.loc) << "Celu alpha must not be 0";
  n.results.push_back(OpTy::create(b, n.loc, n.in(0), b.getF32FloatAttr(alpha),
                                   b.getF32FloatAttr(beta)));
  return success();
}

LogicalResult Importer::isNaN(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)) ||
      failed(checkOperand<SqrtOp>(n, n.in(0))))
    return failure();
  n.results.push_back(IsNaNOp::create(
      b, n.loc, withShape(n.in(0), shapeOf(n.in(0)), b.getI1Type()), n.in(0)));
  return success();
}

LogicalResult Importer::isInf(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)) ||
      failed(checkOperand<SqrtOp>(n, n.in(0))))
    return failure();
  n.results.push_back(IsInfOp::create(
      b, n.loc, withShape(n.in(0), shapeOf(n.in(0)), b.getI1Type()), n.in(0),
      intAttr(n.node, "detect_positive", 1) != 0,
      intAttr(n.node, "detect_negative", 1) != 0));
  return success();
}

LogicalResult Importer::clip(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 3)))
    return failure();
  Value x = n.in(0);
  if (getElementTypeOrSelf(x).isInteger(1))
    return emitError(n.loc) << "Clip is not supported on boolean tensors";
  // Opset 11 on: optional scalar inputs; before: float attributes.
  Value lo = n.in(1), hi = n.in(2);
  if (opset < 11) {
    Type t = getElementTypeOrSelf(x);
    if (!isa<FloatType>(t))
      return emitError(n.loc) << "Clip before opset 11 takes floating-point "
                                 "tensors only";
    auto bound = [&](StringRef name) -> Value {
      const onnx::AttributeProto *a = attr(n.node, name);
      if (!a)
        return Value();
      return constant(DenseElementsAttr::get(RankedTensorType::get({}, t),
                                             b.getFloatAttr(t, a->f())),
                      n.loc);
    };
    lo = bound("min"), hi = bound("max");
  }
  for (Value v : {lo, hi})
    if (v && !shapeOf(v).empty())
      return emitError(n.loc) << "Clip min and max must be scalars";
  // min(max(x, lo), hi), as numpy's clip: a NaN stays NaN.
  if (lo) {
    FailureOr<Value> r = broadcastBinary<MaxOp>(n, x, lo);
    if (failed(r))
      return failure();
    x = *r;
  }
  if (hi) {
    FailureOr<Value> r = broadcastBinary<MinOp>(n, x, hi);
    if (failed(r))
      return failure();
    x = *r;
  }
  n.results.push_back(x);
  return success();
}

LogicalResult Importer::thresholdedRelu(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  n.results.push_back(ThresholdedReluOp::create(
      b, n.loc, n.in(0), b.getF32FloatAttr(floatAttr(n.node, "alpha", 1.0f))));
  return success();
}

LogicalResult Importer::where(NodeCtx &n) {
  if (failed(expectInputs(n, 3, 3)))
    return failure();
  auto ab = broadcastShapes(shapeOf(n.in(1)), shapeOf(n.in(2)));
  auto all = ab ? broadcastShapes(shapeOf(n.in(0)), *ab) : std::nullopt;
  if (!all)
    return emitError(n.loc) << "Where operands do not broadcast";
  Value r = WhereOp::create(b, n.loc, withShape(n.in(1), *all), n.in(0),
                            n.in(1), n.in(2));
  // Shape arithmetic: Where(shape == -1, 1, shape), as exports write it.
  auto kc = known(n.in(0)), kx = known(n.in(1)), ky = known(n.in(2));
  if (kc && kx && ky && all->size() <= 1) {
    size_t len = std::max({kc->size(), kx->size(), ky->size()});
    auto at = [&](const Known &k, size_t i) -> std::optional<int64_t> {
      return k.size() == 1 ? k[0] : i < k.size() ? k[i] : std::nullopt;
    };
    if (llvm::all_of(std::array<const Known *, 3>{&*kc, &*kx, &*ky},
                     [&](const Known *k) {
                       return k->size() == 1 || k->size() == len;
                     })) {
      Known k(len);
      for (size_t i = 0; i < len; ++i)
        if (auto c = at(*kc, i))
          k[i] = *c ? at(*kx, i) : at(*ky, i);
      knownValues[r] = std::move(k);
    }
  }
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::castTo(NodeCtx &n, Type to, bool toUnsigned) {
  Value x = n.in(0);
  bool fromUnsigned = isUnsigned(x);
  if (to == getElementTypeOrSelf(x) && fromUnsigned == toUnsigned) {
    n.results.push_back(x);
    return success();
  }
  // Same bits, other signedness: still a new value, so that the input's
  // other users keep theirs.
  Value r = CastOp::create(b, n.loc, withShape(x, shapeOf(x), to), x,
                           fromUnsigned, toUnsigned);
  if (auto k = known(x); k && to.isInteger(64) && !fromUnsigned && !toUnsigned)
    knownValues[r] = *k;
  markUnsigned(r, toUnsigned);
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::castNode(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  FailureOr<Type> to = elementType(intAttr(n.node, "to", 0), n.loc,
                                   "Cast target");
  if (failed(to))
    return failure();
  return castTo(n, *to, isUnsignedOnnx(intAttr(n.node, "to", 0)));
}

LogicalResult Importer::castLike(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  return castTo(n, getElementTypeOrSelf(n.in(1)), isUnsigned(n.in(1)));
}

// The instances the registration table (OnnxImporter.cpp) names.
template LogicalResult Importer::binary<AddOp>(NodeCtx &);
template LogicalResult Importer::binary<SubOp>(NodeCtx &);
template LogicalResult Importer::binary<MulOp>(NodeCtx &);
template LogicalResult Importer::binary<DivOp>(NodeCtx &);
template LogicalResult Importer::variadic<MinOp>(NodeCtx &);
template LogicalResult Importer::variadic<MaxOp>(NodeCtx &);
template LogicalResult Importer::variadic<AddOp>(NodeCtx &);
template LogicalResult Importer::binary<AndOp>(NodeCtx &);
template LogicalResult Importer::binary<OrOp>(NodeCtx &);
template LogicalResult Importer::binary<XorOp>(NodeCtx &);
template LogicalResult Importer::unary<NotOp>(NodeCtx &);
template LogicalResult Importer::unary<AbsOp>(NodeCtx &);
template LogicalResult Importer::unary<SignOp>(NodeCtx &);
template LogicalResult Importer::unary<LogOp>(NodeCtx &);
template LogicalResult Importer::unary<FloorOp>(NodeCtx &);
template LogicalResult Importer::unary<CeilOp>(NodeCtx &);
template LogicalResult Importer::unary<RoundOp>(NodeCtx &);
template LogicalResult Importer::unary<SoftplusOp>(NodeCtx &);
template LogicalResult Importer::unary<SoftsignOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<LeakyReluOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<HardSigmoidOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<EluOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<SeluOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<CeluOp>(NodeCtx &);
template LogicalResult Importer::compare<EqualOp>(NodeCtx &);
template LogicalResult Importer::compare<LessOp>(NodeCtx &);
template LogicalResult Importer::compare<LessOrEqualOp>(NodeCtx &);
template LogicalResult Importer::compare<GreaterOp>(NodeCtx &);
template LogicalResult Importer::compare<GreaterOrEqualOp>(NodeCtx &);
template LogicalResult Importer::unary<NegOp>(NodeCtx &);
template LogicalResult Importer::unary<SqrtOp>(NodeCtx &);
template LogicalResult Importer::unary<ReciprocalOp>(NodeCtx &);
template LogicalResult Importer::unary<ExpOp>(NodeCtx &);
template LogicalResult Importer::unary<TanhOp>(NodeCtx &);
template LogicalResult Importer::unary<ErfOp>(NodeCtx &);
template LogicalResult Importer::unary<CosOp>(NodeCtx &);
template LogicalResult Importer::unary<SinOp>(NodeCtx &);
template LogicalResult Importer::unary<SigmoidOp>(NodeCtx &);
template LogicalResult Importer::unary<ReluOp>(NodeCtx &);
template LogicalResult Importer::unary<TanOp>(NodeCtx &);
template LogicalResult Importer::unary<AsinOp>(NodeCtx &);
template LogicalResult Importer::unary<AcosOp>(NodeCtx &);
template LogicalResult Importer::unary<AtanOp>(NodeCtx &);
template LogicalResult Importer::unary<SinhOp>(NodeCtx &);
template LogicalResult Importer::unary<CoshOp>(NodeCtx &);
template LogicalResult Importer::unary<AsinhOp>(NodeCtx &);
template LogicalResult Importer::unary<AcoshOp>(NodeCtx &);
template LogicalResult Importer::unary<AtanhOp>(NodeCtx &);
template LogicalResult Importer::unary<HardSwishOp>(NodeCtx &);
template LogicalResult Importer::paramActivation<ShrinkOp>(NodeCtx &);
template LogicalResult Importer::binary<PReluOp>(NodeCtx &);

} // namespace mlir::actsparse::onnx_import
