//===- Importer.h - the ONNX importer's internals ---------------*- C++ -*-===//
//
// The importer class shared by OnnxImporter.cpp (loading, validation,
// initializers, the node loop and the registration table of handlers) and
// the handler files in Ops/, one per op family. Private to lib/Import.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_LIB_IMPORT_IMPORTER_H
#define ACTSPARSE_LIB_IMPORT_IMPORTER_H

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Dialect/ShapeUtils.h"
#include "actsparse/Import/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <unordered_map>

namespace mlir::actsparse::onnx_import {

namespace rt = ::actsparse::runtime;


/// Elements of a small integer tensor as far as the importer knows them.
using Known = SmallVector<std::optional<int64_t>>;

inline std::string dtypeName(int32_t t) {
  return onnx::TensorProto_DataType_IsValid(t)
             ? onnx::TensorProto_DataType_Name(t)
             : "dtype " + std::to_string(t);
}

/// One ONNX node being imported: its inputs as values (null for omitted
/// optional inputs) and its location.
struct NodeCtx {
  const onnx::NodeProto &node;
  Location loc;
  SmallVector<Value> inputs;
  SmallVector<Value> results;

  Value in(unsigned i) const { return i < inputs.size() ? inputs[i] : Value(); }
};

/// Where an external tensor's bytes are, once its location has been checked
/// against ONNX's rule (a relative path that stays inside the model's
/// directory) and its keys parsed.
struct ExternalData {
  std::string location; ///< as the model spells it, for messages
  std::string file;     ///< canonical path, inside the model's directory
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

/// Largest tensor the importer accepts (2^40 bytes): a declared size above
/// it is a damaged or hostile model, not a real one.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 40;

class Importer;
using Handler = LogicalResult (Importer::*)(NodeCtx &);

class Importer {
public:
  Importer(MLIRContext &ctx, StringRef path, const OnnxImportOptions &options)
      : ctx(ctx), b(&ctx), path(path.str()), options(options),
        fileLoc(FileLineColLoc::get(&ctx, path, 0, 0)) {
    modelDir = llvm::sys::path::parent_path(path).str();
    if (modelDir.empty())
      modelDir = ".";
  }

  FailureOr<OnnxImportResult> run();
  FailureOr<std::vector<OnnxOpUse>> listOps();

private:
  // Loading and validation.
  LogicalResult load();
  LogicalResult check();
  void inferOnnxShapes();

  // Types and values.
  FailureOr<Type> elementType(int32_t onnxType, Location loc,
                              const std::string &what);
  FailureOr<RankedTensorType> tensorType(const onnx::TypeProto &type,
                                         Location loc, const std::string &what);
  LogicalResult importInitializer(const onnx::TensorProto &t);
  FailureOr<std::string> tensorBytes(const onnx::TensorProto &t, Location loc);
  LogicalResult validateTensors();
  FailureOr<uint64_t> tensorSize(const onnx::TensorProto &t, Location loc);
  FailureOr<ExternalData> externalData(const onnx::TensorProto &t,
                                       Location loc);
  LogicalResult streamExternal(const onnx::TensorProto &t, uint64_t size,
                               Location loc,
                               function_ref<LogicalResult(const char *, size_t)>
                                   sink);
  FailureOr<DenseElementsAttr> tensorAttr(const onnx::TensorProto &t,
                                          Location loc);
  Value constant(DenseElementsAttr attr, Location loc);
  /// ONNX's unsigned integer types, which the IR holds in signless tensors
  /// of the same width: the importer tracks which values are unsigned and
  /// tells the ops whose semantics differ (Div, Mod, Min, Max, comparisons,
  /// casts); ops that would not know are refused on them.
  static bool isUnsignedOnnx(int32_t onnxType);
  bool isUnsigned(Value v) const { return unsignedValues.contains(v); }
  void markUnsigned(Value v, bool isUnsigned = true) {
    if (isUnsigned)
      unsignedValues.insert(v);
  }

  // Nodes.
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  RankedTensorType refine(RankedTensorType ours, const std::string &name,
                          Location loc, bool &ok);
  std::optional<Known> known(Value v) const;
  FailureOr<SmallVector<int64_t>> constInts(NodeCtx &n, unsigned i,
                                            StringRef what);
  FailureOr<int64_t> normAxis(NodeCtx &n, int64_t axis, int64_t rank);
  /// normAxis on each of `axes`, in place.
  LogicalResult normAxes(NodeCtx &n, MutableArrayRef<int64_t> axes,
                         int64_t rank);
  static RankedTensorType withShape(Value like, ArrayRef<int64_t> shape,
                                    Type elt = {}) {
    return RankedTensorType::get(
        shape, elt ? elt : cast<RankedTensorType>(like.getType()).getElementType());
  }
  static ArrayRef<int64_t> shapeOf(Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  }
  LogicalResult expectInputs(NodeCtx &n, unsigned min, unsigned max);

  // Attribute access.
  const onnx::AttributeProto *attr(const onnx::NodeProto &n, StringRef name);
  int64_t intAttr(const onnx::NodeProto &n, StringRef name, int64_t dflt);
  float floatAttr(const onnx::NodeProto &n, StringRef name, float dflt);
  std::optional<SmallVector<int64_t>> intsAttr(const onnx::NodeProto &n,
                                               StringRef name);

  // Helpers the handlers share.
  /// A constant i64 tensor: 1-D of `values`, or a scalar of values[0].
  Value i64Constant(ArrayRef<int64_t> values, Location loc,
                    bool scalar = false);
  /// Pushes `x` reshaped to `shape` as the node's result (dynamic entries
  /// allowed where a constant ONNX Reshape target can express them: one
  /// -1, or a 0 that copies).
  LogicalResult pushReshaped(NodeCtx &n, Value x, ArrayRef<int64_t> shape);
  /// A list the op takes as constant input #i from opset `inputSince` on
  /// (axes, split sizes), as the attribute `name` before; empty if absent.
  FailureOr<SmallVector<int64_t>> intsOperand(NodeCtx &n, unsigned i,
                                              StringRef name,
                                              int64_t inputSince);
  /// An OpTy of two operands with ONNX broadcasting, checked.
  template <typename OpTy>
  FailureOr<Value> broadcastBinary(NodeCtx &n, Value lhs, Value rhs);
  /// The axes of a Reduce* node, normalized, sorted and unique (all axes
  /// when none are given); nullopt for a no-op (noop_with_empty_axes).
  /// `axesInputSince`: the opset from which the op takes axes as an input.
  FailureOr<std::optional<SmallVector<int64_t>>>
  reductionAxes(NodeCtx &n, int64_t axesInputSince);
  RankedTensorType reducedType(Value input, ArrayRef<int64_t> axes,
                               bool keepdims, Type elt = {});
  LogicalResult castTo(NodeCtx &n, Type to, bool toUnsigned);

  // Handlers, one per ONNX op type or family of them; handlers() in
  // OnnxImporter.cpp is the registration table.
  // Ops/Elementwise.cpp: arithmetic, comparisons, logic, math,
  // activations, Where, Cast.
  template <typename OpTy> LogicalResult binary(NodeCtx &n);
  template <typename OpTy> LogicalResult variadic(NodeCtx &n);
  template <typename OpTy> LogicalResult compare(NodeCtx &n);
  template <typename OpTy> LogicalResult unary(NodeCtx &n);
  template <typename OpTy> LogicalResult paramActivation(NodeCtx &n);
  LogicalResult mean(NodeCtx &n);
  LogicalResult pow(NodeCtx &n);
  LogicalResult mod(NodeCtx &n);
  LogicalResult clip(NodeCtx &n);
  LogicalResult isNaN(NodeCtx &n);
  LogicalResult isInf(NodeCtx &n);
  LogicalResult thresholdedRelu(NodeCtx &n);
  LogicalResult where(NodeCtx &n);
  LogicalResult castNode(NodeCtx &n);
  LogicalResult castLike(NodeCtx &n);
  // Ops/DataMovement.cpp: constants, shapes, reshapes, slicing, gathers
  // and scatters.
  LogicalResult constantNode(NodeCtx &n);
  LogicalResult identity(NodeCtx &n);
  LogicalResult dropout(NodeCtx &n);
  LogicalResult shape(NodeCtx &n);
  LogicalResult size(NodeCtx &n);
  LogicalResult constantOfShape(NodeCtx &n);
  LogicalResult range(NodeCtx &n);
  LogicalResult reshape(NodeCtx &n);
  LogicalResult flatten(NodeCtx &n);
  LogicalResult squeeze(NodeCtx &n);
  LogicalResult unsqueeze(NodeCtx &n);
  LogicalResult expand(NodeCtx &n);
  LogicalResult tile(NodeCtx &n);
  LogicalResult transpose(NodeCtx &n);
  LogicalResult concat(NodeCtx &n);
  LogicalResult split(NodeCtx &n);
  LogicalResult slice(NodeCtx &n);
  LogicalResult trilu(NodeCtx &n);
  LogicalResult gather(NodeCtx &n);
  LogicalResult gatherElements(NodeCtx &n);
  LogicalResult scatterNd(NodeCtx &n);
  LogicalResult cumSum(NodeCtx &n);
  LogicalResult topK(NodeCtx &n);
  // Ops/Reductions.cpp: reductions and normalization.
  LogicalResult reduceMean(NodeCtx &n);
  LogicalResult reduce(NodeCtx &n);
  LogicalResult argReduce(NodeCtx &n);
  LogicalResult softmax(NodeCtx &n);
  LogicalResult logSoftmax(NodeCtx &n);
  LogicalResult layerNorm(NodeCtx &n);
  // Ops/MatMul.cpp.
  LogicalResult matmul(NodeCtx &n);
  LogicalResult gemm(NodeCtx &n);

  static const llvm::StringMap<Handler> &handlers();

  MLIRContext &ctx;
  OpBuilder b;
  std::string path, modelDir;
  const OnnxImportOptions &options;
  Location fileLoc;
  onnx::ModelProto model;
  int64_t opset = 0;
  std::unique_ptr<rt::WeightPackWriter> pack;
  uint64_t weightBytes = 0, totalWeightBytes = 0, nextProgress = 0;

  std::unordered_map<std::string, Value> values;
  std::unordered_map<std::string, const onnx::TypeProto *> onnxTypes;
  llvm::DenseMap<Value, Known> knownValues;
  llvm::DenseSet<Value> unsignedValues;
};

/// Elementwise integer arithmetic on known elements, broadcasting scalars.
template <typename F>
std::optional<Known> combineKnown(const std::optional<Known> &a,
                                  const std::optional<Known> &b, F f) {
  if (!a || !b || (a->size() != b->size() && a->size() != 1 && b->size() != 1))
    return std::nullopt;
  Known r(std::max(a->size(), b->size()));
  for (size_t i = 0; i < r.size(); ++i) {
    auto x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
    if (x && y)
      r[i] = f(*x, *y);
  }
  return r;
}

} // namespace mlir::actsparse::onnx_import

#endif // ACTSPARSE_LIB_IMPORT_IMPORTER_H
