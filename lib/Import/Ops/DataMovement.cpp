//===- DataMovement.cpp - ONNX datamovement handlers ------------------------===//
//
// Handlers of the importer's registration table (OnnxImporter.cpp) for
// shape and data movement: constants, Identity, Gather, Transpose, Reshape,
// Expand, Unsqueeze, Concat, Shape, ConstantOfShape, Range, Slice, Trilu,
// ScatterND.
//
//===----------------------------------------------------------------------===//

#include "../Importer.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::actsparse;

namespace mlir::actsparse::onnx_import {

LogicalResult Importer::constantNode(NodeCtx &n) {
  if (n.node.attribute_size() != 1)
    return emitError(n.loc) << "Constant needs exactly one value attribute";
  const onnx::AttributeProto &a = n.node.attribute(0);
  DenseElementsAttr value;
  if (a.name() == "value") {
    FailureOr<DenseElementsAttr> t = tensorAttr(a.t(), n.loc);
    if (failed(t))
      return failure();
    value = *t;
  } else if (a.name() == "value_float") {
    value = DenseElementsAttr::get(
        RankedTensorType::get({}, b.getF32Type()), a.f());
  } else if (a.name() == "value_floats") {
    SmallVector<float> v(a.floats().begin(), a.floats().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)v.size()}, b.getF32Type()),
        ArrayRef<float>(v));
  } else if (a.name() == "value_int") {
    value = DenseElementsAttr::get(
        RankedTensorType::get({}, b.getI64Type()), (int64_t)a.i());
  } else if (a.name() == "value_ints") {
    SmallVector<int64_t> v(a.ints().begin(), a.ints().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)v.size()}, b.getI64Type()),
        ArrayRef<int64_t>(v));
  } else {
    return emitError(n.loc) << "Constant attribute '" << a.name()
                            << "' is not supported";
  }
  n.results.push_back(constant(value, n.loc));
  markUnsigned(n.results.back(),
               a.name() == "value" && isUnsignedOnnx(a.t().data_type()));
  return success();
}

LogicalResult Importer::identity(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  n.results.push_back(n.in(0));
  return success();
}

LogicalResult Importer::gather(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  ArrayRef<int64_t> data = shapeOf(n.in(0));
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", 0), data.size());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(data.take_front(*axis));
  llvm::append_range(shape, shapeOf(n.in(1)));
  llvm::append_range(shape, data.drop_front(*axis + 1));
  Value r = GatherOp::create(b, n.loc, withShape(n.in(0), shape), n.in(0),
                             n.in(1), b.getI64IntegerAttr(*axis));
  // Shape arithmetic: gathering known elements with constant indices.
  auto kd = known(n.in(0));
  auto ki = known(n.in(1));
  if (kd && ki && data.size() == 1) {
    Known k;
    for (const auto &i : *ki) {
      int64_t idx = i ? (*i < 0 ? *i + (int64_t)kd->size() : *i) : -1;
      k.push_back(i && idx >= 0 && idx < (int64_t)kd->size()
                      ? (*kd)[idx]
                      : std::nullopt);
    }
    knownValues[r] = std::move(k);
  }
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::transpose(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  SmallVector<int64_t> perm;
  if (auto p = intsAttr(n.node, "perm"))
    perm = *p;
  else
    for (int64_t i = in.size() - 1; i >= 0; --i)
      perm.push_back(i);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= (int64_t)in.size())
      return emitError(n.loc) << "Transpose perm entry " << p
                              << " is out of range";
    shape.push_back(in[p]);
  }
  n.results.push_back(TransposeOp::create(b, n.loc, withShape(n.in(0), shape),
                                          n.in(0), perm));
  return success();
}

LogicalResult Importer::reshape(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  ArrayRef<int64_t> target = shapeOf(n.in(1));
  if (intAttr(n.node, "allowzero", 0)) {
    // A 0 is a real empty dimension, not a copy. Without a 0 the attribute
    // changes nothing; with one, the target must be known at import time
    // (without -1) and is then the result's shape: the lowering reads
    // static dimensions from the type.
    std::optional<Known> k = known(n.in(1));
    if (!k)
      return emitError(n.loc) << "Reshape with allowzero = 1 needs a "
                                 "constant target shape (input #1)";
    SmallVector<int64_t> shape;
    for (const auto &e : *k)
      if (e && *e >= 0)
        shape.push_back(*e);
    bool hasZero = llvm::is_contained(shape, 0);
    if (hasZero && shape.size() != k->size())
      return emitError(n.loc) << "Reshape with allowzero = 1, a 0 and a -1 "
                                 "is invalid";
    auto inType = cast<RankedTensorType>(n.in(0).getType());
    if (hasZero &&
        (!inType.hasStaticShape() || inType.getNumElements() != 0))
      return emitError(n.loc) << "Reshape with allowzero = 1 to an empty "
                                 "shape needs a static, empty input";
    if (hasZero) {
      n.results.push_back(ReshapeOp::create(
          b, n.loc, withShape(n.in(0), shape), n.in(0), n.in(1)));
      return success();
    }
  }
  if (target.size() != 1 || ShapedType::isDynamic(target[0]))
    return emitError(n.loc) << "Reshape target shape must be a 1-D tensor "
                               "of static length (the result rank)";
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  Known k = known(n.in(1)).value_or(Known(target[0]));
  SmallVector<int64_t> shape;
  int64_t inferred = -1;
  for (auto [i, e] : llvm::enumerate(k)) {
    if (!e)
      shape.push_back(ShapedType::kDynamic);
    else if (*e == 0 && i < in.size())
      shape.push_back(in[i]);
    else if (*e == -1) {
      if (inferred >= 0)
        return emitError(n.loc) << "Reshape target has more than one -1";
      inferred = i;
      shape.push_back(ShapedType::kDynamic);
    } else if (*e > 0)
      shape.push_back(*e);
    else
      return emitError(n.loc) << "Reshape target dimension " << *e
                              << " is invalid";
  }
  auto inType = cast<RankedTensorType>(n.in(0).getType());
  // Checked here, where the node can be named, rather than left to the
  // verifier.
  int64_t staticProduct = 1;
  bool allStatic = true;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if ((int64_t)i == inferred || ShapedType::isDynamic(d)) {
      allStatic &= (int64_t)i == inferred;
      continue;
    }
    if (__builtin_mul_overflow(staticProduct, d, &staticProduct))
      return emitError(n.loc) << "Reshape target shape has more elements "
                                 "than 2^63";
  }
  if (inferred < 0 && allStatic && inType.hasStaticShape() &&
      staticProduct != inType.getNumElements())
    return emitError(n.loc) << "Reshape of " << inType.getNumElements()
                            << " elements to a shape of " << staticProduct
                            << " elements";
  if (inferred >= 0 && inType.hasStaticShape()) {
    int64_t rest = 1;
    bool known = true;
    for (auto [i, d] : llvm::enumerate(shape))
      if ((int64_t)i != inferred) {
        known &= !ShapedType::isDynamic(d);
        rest *= ShapedType::isDynamic(d) ? 1 : d;
      }
    if (known && rest > 0) {
      if (inType.getNumElements() % rest != 0)
        return emitError(n.loc) << "Reshape cannot infer its -1 dimension";
      shape[inferred] = inType.getNumElements() / rest;
    }
  }
  Value r = ReshapeOp::create(b, n.loc, withShape(n.in(0), shape), n.in(0),
                              n.in(1));
  if (auto ki = known(n.in(0)); ki && shape.size() <= 1)
    knownValues[r] = *ki;
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::expand(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  ArrayRef<int64_t> target = shapeOf(n.in(1));
  if (target.size() != 1 || ShapedType::isDynamic(target[0]))
    return emitError(n.loc) << "Expand shape must be a 1-D tensor of static "
                               "length";
  Known k = known(n.in(1)).value_or(Known(target[0]));
  SmallVector<int64_t> dims;
  for (const auto &e : k)
    dims.push_back(e ? *e : ShapedType::kDynamic);
  auto shape = broadcastShapes(shapeOf(n.in(0)), dims);
  if (!shape)
    return emitError(n.loc) << "Expand input does not broadcast to the "
                               "target shape";
  n.results.push_back(ExpandOp::create(b, n.loc, withShape(n.in(0), *shape),
                                       n.in(0), n.in(1)));
  return success();
}

LogicalResult Importer::unsqueeze(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  SmallVector<int64_t> axes;
  if (opset >= 13) {
    FailureOr<SmallVector<int64_t>> a = constInts(n, 1, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else if (auto a = intsAttr(n.node, "axes")) {
    axes = *a;
  }
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  int64_t rank = in.size() + axes.size();
  if (failed(normAxes(n, axes, rank)))
    return failure();
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return emitError(n.loc) << "Unsqueeze axes repeat";
  SmallVector<int64_t> shape;
  const int64_t *next = in.begin();
  for (int64_t i = 0; i < rank; ++i)
    shape.push_back(llvm::is_contained(axes, i) ? 1 : *next++);
  Value r = UnsqueezeOp::create(b, n.loc, withShape(n.in(0), shape), n.in(0),
                                axes);
  if (auto k = known(n.in(0)))
    knownValues[r] = *k;
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::concat(NodeCtx &n) {
  if (n.inputs.empty() || llvm::any_of(n.inputs, [](Value v) { return !v; }))
    return emitError(n.loc) << "Concat needs at least one input";
  SmallVector<int64_t> shape(shapeOf(n.in(0)));
  if (!attr(n.node, "axis"))
    return emitError(n.loc) << "Concat needs an axis";
  FailureOr<int64_t> axis =
      normAxis(n, intAttr(n.node, "axis", 0), shape.size());
  if (failed(axis))
    return failure();
  Known k;
  bool allKnown = shape.size() == 1;
  for (auto [i, v] : llvm::enumerate(n.inputs)) {
    ArrayRef<int64_t> s = shapeOf(v);
    if (s.size() != shape.size())
      return emitError(n.loc) << "Concat inputs have different ranks";
    if (getElementTypeOrSelf(v) != getElementTypeOrSelf(n.in(0)))
      return emitError(n.loc) << "Concat inputs have different element types";
    if (i > 0) {
      for (size_t d = 0; d < s.size(); ++d) {
        if ((int64_t)d == *axis)
          shape[d] = ShapedType::isDynamic(shape[d]) || ShapedType::isDynamic(s[d])
                         ? ShapedType::kDynamic
                         : shape[d] + s[d];
        else if (ShapedType::isDynamic(shape[d]))
          shape[d] = s[d];
        else if (!ShapedType::isDynamic(s[d]) && s[d] != shape[d])
          return emitError(n.loc) << "Concat inputs differ in dimension " << d;
      }
    }
    auto kv = known(v);
    if (allKnown && kv)
      llvm::append_range(k, *kv);
    else
      allKnown = false;
  }
  Value r = ConcatOp::create(b, n.loc, withShape(n.in(0), shape), n.inputs,
                             b.getI64IntegerAttr(*axis));
  if (allKnown)
    knownValues[r] = std::move(k);
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::shape(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  int64_t rank = in.size();
  auto clampIndex = [&](int64_t i) {
    i = i < 0 ? i + rank : i;
    return std::clamp<int64_t>(i, 0, rank);
  };
  int64_t start = clampIndex(intAttr(n.node, "start", 0));
  int64_t end = clampIndex(intAttr(n.node, "end", rank));
  end = std::max(start, end);
  IntegerAttr startAttr, endAttr;
  if (start != 0 || end != rank) {
    startAttr = b.getI64IntegerAttr(start);
    endAttr = b.getI64IntegerAttr(end);
  }
  Value r = ShapeOp::create(
      b, n.loc, RankedTensorType::get({end - start}, b.getI64Type()), n.in(0),
      startAttr, endAttr);
  Known k;
  for (int64_t d : in.slice(start, end - start))
    k.push_back(ShapedType::isDynamic(d) ? std::nullopt
                                          : std::optional<int64_t>(d));
  knownValues[r] = std::move(k);
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::constantOfShape(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  DenseElementsAttr value =
      DenseElementsAttr::get(RankedTensorType::get({1}, b.getF32Type()), 0.0f);
  if (const onnx::AttributeProto *a = attr(n.node, "value")) {
    FailureOr<DenseElementsAttr> t = tensorAttr(a->t(), n.loc);
    if (failed(t))
      return failure();
    value = *t;
  }
  ArrayRef<int64_t> s = shapeOf(n.in(0));
  if (s.size() != 1 || ShapedType::isDynamic(s[0]))
    return emitError(n.loc) << "ConstantOfShape needs a 1-D shape of static "
                               "length";
  Known k = known(n.in(0)).value_or(Known(s[0]));
  SmallVector<int64_t> dims;
  for (const auto &e : k)
    dims.push_back(e ? *e : ShapedType::kDynamic);
  Value r = ConstantOfShapeOp::create(
      b, n.loc, RankedTensorType::get(dims, value.getElementType()), n.in(0),
      value);
  // A small all-known integer fill is itself a known shape vector.
  if (value.getElementType().isInteger(64) && dims.size() == 1 &&
      !ShapedType::isDynamic(dims[0]) && dims[0] <= 64)
    knownValues[r] = Known(dims[0], *value.getValues<int64_t>().begin());
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::range(NodeCtx &n) {
  if (failed(expectInputs(n, 3, 3)))
    return failure();
  for (Value v : n.inputs)
    if (!shapeOf(v).empty())
      return emitError(n.loc) << "Range operands must be scalars";
  int64_t len = ShapedType::kDynamic;
  auto s = known(n.in(0)), l = known(n.in(1)), d = known(n.in(2));
  if (s && l && d && (*s)[0] && (*l)[0] && (*d)[0] && *(*d)[0] != 0) {
    int64_t st = *(*s)[0], li = *(*l)[0], de = *(*d)[0];
    len = std::max<int64_t>((li - st + de + (de > 0 ? -1 : 1)) / de, 0);
  }
  n.results.push_back(RangeOp::create(
      b, n.loc, withShape(n.in(0), {len}), n.in(0), n.in(1), n.in(2)));
  return success();
}

LogicalResult Importer::slice(NodeCtx &n) {
  if (opset < 10)
    return emitError(n.loc) << "Slice before opset 10 (attributes instead of "
                               "inputs) is not supported";
  if (failed(expectInputs(n, 3, 5)))
    return failure();
  if (!n.in(0) || !n.in(1) || !n.in(2))
    return emitError(n.loc) << "Slice needs data, starts and ends";
  ArrayRef<int64_t> data = shapeOf(n.in(0));
  int64_t rank = data.size();
  for (unsigned i : {1u, 2u}) {
    ArrayRef<int64_t> s = shapeOf(n.in(i));
    if (s.size() != 1 || ShapedType::isDynamic(s[0]))
      return emitError(n.loc) << "Slice " << (i == 1 ? "starts" : "ends")
                              << " must be a 1-D tensor of static length";
    if (!getElementTypeOrSelf(n.in(i)).isInteger(64) &&
        !getElementTypeOrSelf(n.in(i)).isInteger(32))
      return emitError(n.loc) << "Slice starts and ends must be i32 or i64";
  }
  int64_t count = shapeOf(n.in(1))[0];
  if (shapeOf(n.in(2))[0] != count)
    return emitError(n.loc) << "Slice starts and ends differ in length";
  SmallVector<int64_t> axes, steps(count, 1);
  if (n.in(3)) {
    FailureOr<SmallVector<int64_t>> a = constInts(n, 3, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else {
    for (int64_t i = 0; i < count; ++i)
      axes.push_back(i);
  }
  if (n.in(4)) {
    FailureOr<SmallVector<int64_t>> st = constInts(n, 4, "steps");
    if (failed(st))
      return failure();
    steps = *st;
  }
  if ((int64_t)axes.size() != count || (int64_t)steps.size() != count)
    return emitError(n.loc) << "Slice axes and steps need one entry per "
                               "start (" << count << ")";
  if (failed(normAxes(n, axes, rank)))
    return failure();
  for (int64_t st : steps)
    if (st == 0 || st == INT64_MIN)
      return emitError(n.loc) << "Slice step " << st << " is invalid";
  // Static sizes where the bounds and the dimension are known.
  auto ks = known(n.in(1)), ke = known(n.in(2));
  SmallVector<int64_t> shape(data);
  // Of 1-D data with known bounds: the first index taken and the count.
  std::optional<std::pair<int64_t, int64_t>> span;
  for (auto [i, axis] : llvm::enumerate(axes)) {
    shape[axis] = ShapedType::kDynamic;
    int64_t d = data[axis], step = steps[i];
    if (ShapedType::isDynamic(d) || !ks || !ke || !(*ks)[i] || !(*ke)[i])
      continue;
    auto fromEnd = [d](int64_t x) { return x < 0 ? x + d : x; };
    int64_t start = fromEnd(*(*ks)[i]), end = fromEnd(*(*ke)[i]), count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, d);
      end = std::clamp<int64_t>(end, 0, d);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, d - 1);
      end = std::clamp<int64_t>(end, -1, d - 1);
      count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    shape[axis] = count;
    if (rank == 1)
      span = {start, count};
  }
  Value r = SliceOp::create(b, n.loc, withShape(n.in(0), shape), n.in(0),
                            n.in(1), n.in(2), axes, steps);
  // Shape arithmetic: slicing a known 1-D vector with known bounds.
  if (auto kd = known(n.in(0)); kd && span) {
    Known k;
    for (int64_t j = 0; j < span->second; ++j)
      k.push_back((*kd)[span->first + j * steps[0]]);
    knownValues[r] = std::move(k);
  }
  n.results.push_back(r);
  return success();
}

LogicalResult Importer::trilu(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  if (shapeOf(n.in(0)).size() < 2)
    return emitError(n.loc) << "Trilu needs an input of rank 2 or more";
  Value k = n.in(1);
  if (k && !shapeOf(k).empty()) {
    if (shapeOf(k) != ArrayRef<int64_t>{1})
      return emitError(n.loc) << "Trilu k must be a scalar";
    k = ReshapeOp::create(
        b, n.loc, RankedTensorType::get({}, b.getI64Type()), k,
        constant(DenseElementsAttr::get(
                     RankedTensorType::get({0}, b.getI64Type()),
                     ArrayRef<int64_t>{}),
                 n.loc));
  }
  auto op = TriluOp::create(b, n.loc, n.in(0).getType(), n.in(0), k,
                            intAttr(n.node, "upper", 1) != 0);
  n.results.push_back(op);
  return success();
}

LogicalResult Importer::scatterNd(NodeCtx &n) {
  if (failed(expectInputs(n, 3, 3)))
    return failure();
  StringRef reductionName =
      attr(n.node, "reduction") ? StringRef(attr(n.node, "reduction")->s())
                                : StringRef("none");
  auto reduction = llvm::StringSwitch<std::optional<ReduceKind>>(reductionName)
                       .Case("add", ReduceKind::sum)
                       .Case("mul", ReduceKind::prod)
                       .Case("max", ReduceKind::max)
                       .Case("min", ReduceKind::min)
                       .Default(std::nullopt);
  if (!reduction && reductionName != "none")
    return emitError(n.loc) << "ScatterND reduction '" << reductionName
                            << "' is not supported";
  if (reduction && getElementTypeOrSelf(n.in(0)).isInteger(1))
    return emitError(n.loc) << "ScatterND with a reduction is not supported "
                               "on boolean tensors";
  ArrayRef<int64_t> idx = shapeOf(n.in(1));
  if (!getElementTypeOrSelf(n.in(1)).isInteger(64))
    return emitError(n.loc) << "ScatterND indices must be i64";
  if (idx.empty() || ShapedType::isDynamic(idx.back()))
    return emitError(n.loc) << "ScatterND indices need a static last "
                               "dimension";
  if (getElementTypeOrSelf(n.in(2)) != getElementTypeOrSelf(n.in(0)))
    return emitError(n.loc) << "ScatterND updates and data differ in "
                               "element type";
  int64_t k = idx.back(), rank = shapeOf(n.in(0)).size();
  if (k < 1 || k > rank)
    return emitError(n.loc) << "ScatterND index length " << k
                            << " exceeds the data rank " << rank;
  SmallVector<int64_t> expected(idx.drop_back());
  llvm::append_range(expected, shapeOf(n.in(0)).drop_front(k));
  if (!isCompatibleShape(shapeOf(n.in(2)), expected))
    return emitError(n.loc) << "ScatterND updates do not have the shape "
                               "indices.shape[:-1] + data.shape[k:]";
  n.results.push_back(ScatterNdOp::create(
      b, n.loc, n.in(0).getType(), n.in(0), n.in(1), n.in(2),
      reduction ? ReduceKindAttr::get(b.getContext(), *reduction)
                : ReduceKindAttr()));
  return success();
}

Value Importer::i64Constant(ArrayRef<int64_t> values, Location loc,
                            bool scalar) {
  auto type = RankedTensorType::get(
      scalar ? ArrayRef<int64_t>{} : ArrayRef<int64_t>{(int64_t)values.size()},
      b.getI64Type());
  return constant(DenseElementsAttr::get(type, values), loc);
}

LogicalResult Importer::pushReshaped(NodeCtx &n, Value x,
                                     ArrayRef<int64_t> shape) {
  // ONNX's Reshape codes: 0 copies the input's dimension at the same
  // position, -1 is inferred. A dynamic target dimension takes whichever
  // applies; two that need -1 cannot be expressed by a constant target.
  ArrayRef<int64_t> in = shapeOf(x);
  SmallVector<int64_t> target;
  bool inferred = false;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (!ShapedType::isDynamic(d)) {
      target.push_back(d);
    } else if (i < in.size() && ShapedType::isDynamic(in[i]) &&
               llvm::count_if(in, ShapedType::isDynamic) == 1) {
      target.push_back(0);
    } else if (!inferred) {
      target.push_back(-1);
      inferred = true;
    } else {
      return emitError(n.loc) << n.node.op_type()
                              << " with these dynamic dimensions is not "
                                 "supported";
    }
  }
  // 0 means "copy" only for a non-zero dimension (allowzero = 0): a static
  // 0 is written as itself only where it does not need to be inferred.
  for (auto [i, d] : llvm::enumerate(shape))
    if (d == 0 && (i >= in.size() || in[i] != 0))
      return emitError(n.loc) << n.node.op_type()
                              << " to an empty dimension is not supported";
  Value r = ReshapeOp::create(b, n.loc, withShape(x, shape), x,
                              i64Constant(target, n.loc));
  if (auto k = known(x); k && shape.size() <= 1)
    knownValues[r] = *k;
  n.results.push_back(r);
  return success();
}

FailureOr<SmallVector<int64_t>>
Importer::intsOperand(NodeCtx &n, unsigned i, StringRef name,
                      int64_t inputSince) {
  if (opset >= inputSince && n.in(i))
    return constInts(n, i, name);
  return intsAttr(n.node, name).value_or(SmallVector<int64_t>());
}

LogicalResult Importer::squeeze(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  FailureOr<SmallVector<int64_t>> axesOr = intsOperand(n, 1, "axes", 13);
  if (failed(axesOr))
    return failure();
  SmallVector<int64_t> axes = *axesOr;
  if (axes.empty()) {
    // Every dimension of size 1, which must then be known.
    for (auto [i, d] : llvm::enumerate(in)) {
      if (ShapedType::isDynamic(d))
        return emitError(n.loc) << "Squeeze without axes needs a static "
                                   "shape";
      if (d == 1)
        axes.push_back(i);
    }
  }
  if (failed(normAxes(n, axes, in.size())))
    return failure();
  for (int64_t a : axes) {
    if (!ShapedType::isDynamic(in[a]) && in[a] != 1)
      return emitError(n.loc) << "Squeeze axis " << a << " has size "
                              << in[a] << ", not 1";
  }
  SmallVector<int64_t> shape;
  for (auto [i, d] : llvm::enumerate(in))
    if (!llvm::is_contained(axes, (int64_t)i))
      shape.push_back(d);
  return pushReshaped(n, n.in(0), shape);
}

LogicalResult Importer::flatten(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  int64_t rank = in.size();
  int64_t axis = intAttr(n.node, "axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return emitError(n.loc) << "Flatten axis " << intAttr(n.node, "axis", 1)
                            << " is out of range for rank " << rank;
  auto product = [&](ArrayRef<int64_t> dims) {
    int64_t p = 1;
    for (int64_t d : dims)
      if (ShapedType::isDynamic(d) || __builtin_mul_overflow(p, d, &p))
        return ShapedType::kDynamic;
    return p;
  };
  SmallVector<int64_t> shape = {product(in.take_front(axis)),
                                product(in.drop_front(axis))};
  return pushReshaped(n, n.in(0), shape);
}

LogicalResult Importer::size(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  if (llvm::none_of(in, ShapedType::isDynamic)) {
    int64_t count = 1;
    for (int64_t d : in)
      count *= d;
    n.results.push_back(i64Constant({count}, n.loc, /*scalar=*/true));
    return success();
  }
  // The product of the shape, computed at run time.
  auto shapeType = RankedTensorType::get({(int64_t)in.size()}, b.getI64Type());
  Value shape =
      ShapeOp::create(b, n.loc, shapeType, n.in(0), IntegerAttr(), IntegerAttr());
  n.results.push_back(ReduceOp::create(
      b, n.loc, RankedTensorType::get({}, b.getI64Type()), ReduceKind::prod,
      shape, ArrayRef<int64_t>{0}, false));
  return success();
}

LogicalResult Importer::dropout(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 3)))
    return failure();
  // Inference: the input passes through. Training mode drops at random,
  // which a deterministic compiled model cannot reproduce.
  // A ratio of 0 drops nothing, in training mode too.
  auto constantSplat = [](Value v) -> std::optional<double> {
    auto c = v ? v.getDefiningOp<ConstantOp>() : ConstantOp();
    auto d = c ? dyn_cast<DenseElementsAttr>(c.getValue()) : nullptr;
    if (!d || !d.isSplat())
      return std::nullopt;
    if (d.getElementType().isInteger(1))
      return d.getSplatValue<bool>() ? 1.0 : 0.0;
    if (isa<FloatType>(d.getElementType()))
      return d.getSplatValue<APFloat>().convertToDouble();
    return std::nullopt;
  };
  if (n.in(2) && constantSplat(n.in(2)) != 0.0 &&
      !(n.in(1) && constantSplat(n.in(1)) == 0.0))
    return emitError(n.loc) << "Dropout in training mode (or with a "
                               "training_mode computed at run time) is not "
                               "supported";
  n.results.push_back(n.in(0));
  if (n.node.output_size() > 1 && !n.node.output(1).empty()) {
    // The mask keeps everything.
    ArrayRef<int64_t> in = shapeOf(n.in(0));
    auto shapeType =
        RankedTensorType::get({(int64_t)in.size()}, b.getI64Type());
    Value shape = ShapeOp::create(b, n.loc, shapeType, n.in(0), IntegerAttr(),
                                  IntegerAttr());
    auto one = DenseElementsAttr::get(
        RankedTensorType::get({1}, b.getI1Type()), ArrayRef<bool>{true});
    n.results.push_back(ConstantOfShapeOp::create(
        b, n.loc, withShape(n.in(0), in, b.getI1Type()), shape, one));
  }
  return success();
}

LogicalResult Importer::split(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  Value x = n.in(0);
  ArrayRef<int64_t> in = shapeOf(x);
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", 0), in.size());
  if (failed(axis))
    return failure();
  int64_t outputs = n.node.output_size();
  FailureOr<SmallVector<int64_t>> sizesOr = intsOperand(n, 1, "split", 13);
  if (failed(sizesOr))
    return failure();
  SmallVector<int64_t> sizes = *sizesOr;
  int64_t dim = in[*axis];
  if (sizes.empty()) {
    if (ShapedType::isDynamic(dim) || dim % outputs != 0)
      return emitError(n.loc) << "Split into equal parts needs a static "
                                 "dimension that the outputs divide";
    sizes.assign(outputs, dim / outputs);
  }
  if ((int64_t)sizes.size() != outputs)
    return emitError(n.loc) << "Split has " << sizes.size()
                            << " sizes for " << outputs << " outputs";
  int64_t start = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      return emitError(n.loc) << "Split size " << s << " is negative";
    int64_t end;
    if (__builtin_add_overflow(start, s, &end))
      return emitError(n.loc) << "Split sizes overflow";
    SmallVector<int64_t> shape(in);
    shape[*axis] = s;
    n.results.push_back(SliceOp::create(
        b, n.loc, withShape(x, shape), x, i64Constant({start}, n.loc),
        i64Constant({end}, n.loc), ArrayRef<int64_t>{*axis},
        ArrayRef<int64_t>{1}));
    start = end;
  }
  if (!ShapedType::isDynamic(dim) && start != dim)
    return emitError(n.loc) << "Split sizes add up to " << start
                            << ", the dimension is " << dim;
  return success();
}

LogicalResult Importer::tile(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  FailureOr<SmallVector<int64_t>> repeats = constInts(n, 1, "repeats");
  if (failed(repeats))
    return failure();
  Value x = n.in(0);
  ArrayRef<int64_t> in = shapeOf(x);
  int64_t rank = in.size();
  if ((int64_t)repeats->size() != rank)
    return emitError(n.loc) << "Tile needs one repeat per dimension";
  // x[d0, d1, ...] -> [1, d0, 1, d1, ...] -> Expand to [r0, d0, r1, d1, ...]
  // -> [r0 * d0, r1 * d1, ...]: the copies are a broadcast, not a Concat.
  SmallVector<int64_t> interleaved, expanded, tiled, unitAxes;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t r = (*repeats)[i], d = in[i];
    if (r < 0)
      return emitError(n.loc) << "Tile repeat " << r << " is negative";
    unitAxes.push_back(2 * i);
    interleaved.append({1, d});
    expanded.append({r, d});
    int64_t t;
    tiled.push_back(ShapedType::isDynamic(d) ? ShapedType::kDynamic
                    : __builtin_mul_overflow(r, d, &t) ? ShapedType::kDynamic
                                                       : t);
    if (!ShapedType::isDynamic(d) && ShapedType::isDynamic(tiled.back()))
      return emitError(n.loc) << "Tile result overflows";
  }
  if (llvm::all_of(*repeats, [](int64_t r) { return r == 1; })) {
    n.results.push_back(x);
    return success();
  }
  if (llvm::any_of(in, ShapedType::isDynamic))
    return emitError(n.loc) << "Tile of a tensor with dynamic dimensions is "
                               "not supported";
  Value u = UnsqueezeOp::create(b, n.loc, withShape(x, interleaved), x,
                                unitAxes);
  SmallVector<int64_t> target;
  for (int64_t i = 0; i < rank; ++i)
    target.append({(*repeats)[i], in[i]});
  Value e = ExpandOp::create(b, n.loc, withShape(x, expanded), u,
                             i64Constant(target, n.loc));
  return pushReshaped(n, e, tiled);
}

LogicalResult Importer::gatherElements(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  int64_t rank = shapeOf(n.in(0)).size();
  if ((int64_t)shapeOf(n.in(1)).size() != rank)
    return emitError(n.loc) << "GatherElements indices must have the data's "
                               "rank";
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", 0), rank);
  if (failed(axis))
    return failure();
  n.results.push_back(GatherElementsOp::create(
      b, n.loc, withShape(n.in(0), shapeOf(n.in(1))), n.in(0), n.in(1),
      *axis));
  return success();
}

LogicalResult Importer::topK(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  Value x = n.in(0);
  Type t = getElementTypeOrSelf(x);
  if (t.isInteger(1))
    return emitError(n.loc) << "TopK is not supported on boolean tensors";
  ArrayRef<int64_t> in = shapeOf(x);
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", -1), in.size());
  if (failed(axis))
    return failure();
  Value k = n.in(1);
  if (shapeOf(k) != ArrayRef<int64_t>{1} ||
      !getElementTypeOrSelf(k).isInteger(64))
    return emitError(n.loc) << "TopK k must be a tensor<1xi64>";
  SmallVector<int64_t> shape(in);
  shape[*axis] = ShapedType::kDynamic;
  if (auto kk = known(k); kk && (*kk)[0]) {
    int64_t kv = *(*kk)[0];
    if (kv < 0 || (!ShapedType::isDynamic(in[*axis]) && kv > in[*axis]))
      return emitError(n.loc) << "TopK k = " << kv << " is outside [0, "
                              << in[*axis] << "]";
    shape[*axis] = kv;
  }
  auto op = TopKOp::create(b, n.loc, withShape(x, shape),
                           withShape(x, shape, b.getI64Type()), x, k, *axis,
                           intAttr(n.node, "largest", 1) != 0);
  n.results.push_back(op.getValues());
  n.results.push_back(op.getIndices());
  return success();
}

LogicalResult Importer::cumSum(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  FailureOr<SmallVector<int64_t>> a = constInts(n, 1, "axis");
  if (failed(a))
    return failure();
  if (a->size() != 1)
    return emitError(n.loc) << "CumSum axis must hold one value";
  Type t = getElementTypeOrSelf(n.in(0));
  if (t.isInteger(1))
    return emitError(n.loc) << "CumSum is not supported on boolean tensors";
  FailureOr<int64_t> axis = normAxis(n, (*a)[0], shapeOf(n.in(0)).size());
  if (failed(axis))
    return failure();
  n.results.push_back(CumSumOp::create(
      b, n.loc, n.in(0), *axis, intAttr(n.node, "exclusive", 0) != 0,
      intAttr(n.node, "reverse", 0) != 0));
  return success();
}

} // namespace mlir::actsparse::onnx_import
