//===- OnnxImporter.cpp - ONNX to actsparse -------------------------------===//
//
// Reads an ONNX model, validates it with libonnx's checker, and builds
// actsparse IR node by node through a table of small handlers keyed by op
// type. Result types come from our own shape rules (ShapeUtils, the same
// code the verifiers use) refined by libonnx's shape inference; small
// integer tensors (shapes, indices) are tracked element by element so that
// Reshape/Expand targets computed from Shape ops still give static ranks and
// as many static dimensions as the graph determines.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Import/OnnxImporter.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Dialect/ShapeUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/checker.h>
#include <onnx/defs/parser.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace mlir;
using namespace mlir::actsparse;
namespace rt = ::actsparse::runtime;

namespace {

/// Elements of a small integer tensor as far as the importer knows them.
using Known = SmallVector<std::optional<int64_t>>;

std::string dtypeName(int32_t t) {
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

  // Nodes.
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  RankedTensorType refine(RankedTensorType ours, const std::string &name,
                          Location loc, bool &ok);
  std::optional<Known> known(Value v) const;
  FailureOr<SmallVector<int64_t>> constInts(NodeCtx &n, unsigned i,
                                            StringRef what);
  FailureOr<int64_t> normAxis(NodeCtx &n, int64_t axis, int64_t rank);
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

  // Handlers.
  template <typename OpTy> LogicalResult binary(NodeCtx &n);
  template <typename OpTy> LogicalResult compare(NodeCtx &n);
  template <typename OpTy> LogicalResult unary(NodeCtx &n);
  LogicalResult constantNode(NodeCtx &n);
  LogicalResult identity(NodeCtx &n);
  LogicalResult thresholdedRelu(NodeCtx &n);
  LogicalResult matmul(NodeCtx &n);
  LogicalResult where(NodeCtx &n);
  LogicalResult softmax(NodeCtx &n);
  LogicalResult reduceMean(NodeCtx &n);
  LogicalResult layerNorm(NodeCtx &n);
  LogicalResult gather(NodeCtx &n);
  LogicalResult transpose(NodeCtx &n);
  LogicalResult reshape(NodeCtx &n);
  LogicalResult expand(NodeCtx &n);
  LogicalResult unsqueeze(NodeCtx &n);
  LogicalResult concat(NodeCtx &n);
  LogicalResult castNode(NodeCtx &n);
  LogicalResult shape(NodeCtx &n);
  LogicalResult constantOfShape(NodeCtx &n);
  LogicalResult range(NodeCtx &n);
  LogicalResult slice(NodeCtx &n);
  LogicalResult trilu(NodeCtx &n);
  LogicalResult scatterNd(NodeCtx &n);

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
};

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

LogicalResult Importer::load() {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return emitError(fileLoc) << "cannot read ONNX model '" << path
                              << "': " << (errno ? std::strerror(errno)
                                                 : "not a regular file");
  if (StringRef(path).ends_with(".onnxtxt")) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    // libonnx's parser reports most errors by status, but converts numbers
    // with std::stoi/stof, which throw on "1e999" or "-".
    std::string error;
    try {
      onnx::Common::Status s =
          onnx::OnnxParser::Parse(model, text.str().c_str());
      if (!s.IsOK())
        error = s.ErrorMessage();
    } catch (const std::exception &e) {
      error = std::string("bad number or literal (") + e.what() + ")";
    }
    if (!error.empty())
      return emitError(fileLoc) << "cannot parse text ONNX model: " << error;
    return success();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return emitError(fileLoc) << "cannot open ONNX model '" << path
                              << "': " << std::strerror(errno);
  bool parsed;
  {
    google::protobuf::io::FileInputStream raw(fd);
    google::protobuf::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT_MAX);
    parsed = model.ParseFromCodedStream(&coded) &&
             coded.ConsumedEntireMessage();
  }
  ::close(fd);
  if (!parsed)
    return emitError(fileLoc)
           << "'" << path
           << "' is not a valid ONNX protobuf (truncated, damaged or not an "
              "ONNX model)";
  if (!model.has_graph() || model.ir_version() == 0)
    return emitError(fileLoc) << "'" << path
                              << "' is not an ONNX model (no graph or IR "
                                 "version; truncated?)";
  return success();
}

LogicalResult Importer::check() {
  for (const auto &imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      opset = imp.version();
  if (opset == 0)
    return emitError(fileLoc) << "model imports no default-domain opset";
  try {
    // The path overload resolves external data relative to the model, but
    // reads the file again; the ModelProto overload is enough for text
    // models, which have no external data.
    if (StringRef(path).ends_with(".onnxtxt"))
      onnx::checker::check_model(model);
    else
      onnx::checker::check_model(path);
  } catch (const std::exception &e) {
    return emitError(fileLoc) << "ONNX checker rejected the model: "
                              << e.what();
  }
  return success();
}

void Importer::inferOnnxShapes() {
  // Best effort: our own shape rules are authoritative, ONNX's inference
  // only refines dimensions they leave dynamic.
  try {
    onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*error_mode=*/0,
                                     /*data_prop=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       opts);
  } catch (const std::exception &e) {
    emitWarning(fileLoc) << "ONNX shape inference failed, continuing with "
                            "ActSparse's own shape rules: "
                         << e.what();
  }
  for (const auto &vi : model.graph().value_info())
    onnxTypes[vi.name()] = &vi.type();
  for (const auto &vi : model.graph().output())
    onnxTypes[vi.name()] = &vi.type();
}

//===----------------------------------------------------------------------===//
// Types, initializers, constants
//===----------------------------------------------------------------------===//

FailureOr<Type> Importer::elementType(int32_t t, Location loc,
                                      const std::string &what) {
  using TP = onnx::TensorProto;
  switch (t) {
  case TP::FLOAT: return Type(b.getF32Type());
  case TP::FLOAT16: return Type(b.getF16Type());
  case TP::BFLOAT16: return Type(b.getBF16Type());
  case TP::DOUBLE: return Type(b.getF64Type());
  case TP::INT64: return Type(b.getI64Type());
  case TP::INT32: return Type(b.getI32Type());
  case TP::INT8: return Type(b.getI8Type());
  case TP::BOOL: return Type(b.getI1Type());
  default:
    return emitError(loc) << what << " has unsupported element type "
                          << dtypeName(t);
  }
}

FailureOr<RankedTensorType> Importer::tensorType(const onnx::TypeProto &type,
                                                 Location loc,
                                                 const std::string &what) {
  if (!type.has_tensor_type())
    return emitError(loc) << what << " is not a tensor";
  FailureOr<Type> elt = elementType(type.tensor_type().elem_type(), loc, what);
  if (failed(elt))
    return failure();
  if (!type.tensor_type().has_shape())
    return emitError(loc) << what << " has no shape (unknown rank)";
  SmallVector<int64_t> dims;
  for (const auto &d : type.tensor_type().shape().dim())
    dims.push_back(d.has_dim_value() ? d.dim_value() : ShapedType::kDynamic);
  return RankedTensorType::get(dims, *elt);
}

FailureOr<uint64_t> Importer::tensorSize(const onnx::TensorProto &t,
                                         Location loc) {
  uint64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return emitError(loc) << "tensor '" << t.name()
                            << "' has negative dimension " << d;
    if (__builtin_mul_overflow(n, uint64_t(d), &n) || n > kMaxTensorBytes)
      return emitError(loc) << "tensor '" << t.name()
                            << "' declares more than 2^40 elements";
  }
  size_t eltSize = rt::dtypeSize(t.data_type());
  if (eltSize == 0)
    return emitError(loc) << "tensor '" << t.name()
                          << "' has unsupported element type "
                          << dtypeName(t.data_type());
  if (n * eltSize > kMaxTensorBytes)
    return emitError(loc) << "tensor '" << t.name() << "' declares "
                          << n * eltSize << " bytes, more than the 2^40 "
                          << "the importer accepts";
  return n * eltSize;
}

FailureOr<ExternalData> Importer::externalData(const onnx::TensorProto &t,
                                               Location loc) {
  ExternalData ext;
  bool hasLocation = false;
  for (const auto &kv : t.external_data()) {
    StringRef key = kv.key(), value = kv.value();
    if (key == "location") {
      ext.location = value.str();
      hasLocation = true;
    } else if (key == "offset" || key == "length") {
      uint64_t v;
      if (value.getAsInteger(10, v))
        return emitError(loc) << "external data of tensor '" << t.name()
                              << "' has " << key << " '" << value
                              << "', not a byte count";
      if (key == "offset")
        ext.offset = v;
      else
        ext.length = v;
    }
  }
  auto bad = [&](StringRef why) {
    return emitError(loc) << "external data location '" << ext.location
                          << "' of tensor '" << t.name() << "' " << why;
  };
  if (!hasLocation || ext.location.empty())
    return emitError(loc) << "external data of tensor '" << t.name()
                          << "' has no location";
  // ONNX's rule: a relative path that stays inside the model's directory.
  // Checked on the text first (absolute, '..'), then on the canonical path,
  // which catches symbolic links that lead out.
  StringRef locRef = ext.location;
  if (llvm::sys::path::is_absolute(locRef) || locRef.starts_with("/") ||
      locRef.contains('\0'))
    return bad("is absolute; ONNX external data must be relative to the "
               "model's directory");
  for (auto it = llvm::sys::path::begin(locRef),
            e = llvm::sys::path::end(locRef);
       it != e; ++it)
    if (*it == "..")
      return bad("contains '..'; ONNX external data must stay inside the "
                 "model's directory");
  SmallString<256> dir, file;
  if (std::error_code ec = llvm::sys::fs::real_path(modelDir, dir))
    return emitError(loc) << "cannot resolve the model's directory '"
                          << modelDir << "': " << ec.message();
  SmallString<256> joined(modelDir);
  llvm::sys::path::append(joined, locRef);
  if (std::error_code ec = llvm::sys::fs::real_path(joined, file))
    return emitError(loc) << "external data file '" << ext.location
                          << "' of tensor '" << t.name()
                          << "' cannot be opened: " << ec.message();
  if (!StringRef(file).starts_with((dir + "/").str()))
    return bad("leads out of the model's directory through a symbolic link");
  ext.file = file.str().str();
  return ext;
}

/// Bytes a tensor stored inside the model holds, whichever field holds them.
static uint64_t storedBytes(const onnx::TensorProto &t) {
  using TP = onnx::TensorProto;
  if (t.has_raw_data())
    return t.raw_data().size();
  uint64_t eltSize = rt::dtypeSize(t.data_type());
  switch (t.data_type()) {
  case TP::FLOAT: return t.float_data_size() * eltSize;
  case TP::DOUBLE: return t.double_data_size() * eltSize;
  case TP::INT64: return t.int64_data_size() * eltSize;
  default: return t.int32_data_size() * eltSize;
  }
}

LogicalResult Importer::validateTensors() {
  // Every stored tensor is checked before anything reads a file it names:
  // the ONNX checker itself would otherwise follow a hostile location.
  auto check = [&](const onnx::TensorProto &t, StringRef where) {
    Location loc = NameLoc::get(b.getStringAttr(where), fileLoc);
    FailureOr<uint64_t> size = tensorSize(t, loc);
    if (failed(size))
      return failure();
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      return LogicalResult(externalData(t, loc));
    uint64_t stored = storedBytes(t);
    if (stored != *size)
      return LogicalResult(emitError(loc)
                           << "tensor '" << t.name() << "' holds " << stored
                           << " bytes but its shape and type need " << *size);
    return success();
  };
  const onnx::GraphProto &g = model.graph();
  for (const auto &t : g.initializer())
    if (failed(check(t, t.name())))
      return failure();
  for (const auto &node : g.node())
    for (const auto &a : node.attribute())
      if (a.has_t() && failed(check(a.t(), node.name().empty()
                                                 ? node.op_type()
                                                 : node.name())))
        return failure();
  return success();
}

LogicalResult Importer::streamExternal(
    const onnx::TensorProto &t, uint64_t size, Location loc,
    function_ref<LogicalResult(const char *, size_t)> sink) {
  FailureOr<ExternalData> ext = externalData(t, loc);
  if (failed(ext))
    return failure();
  const std::string &location = ext->location;
  uint64_t offset = ext->offset;
  int fd = ::open(ext->file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return emitError(loc) << "external data file '" << location
                          << "' of tensor '" << t.name()
                          << "' cannot be opened: " << std::strerror(errno);
  llvm::scope_exit closeFd([&] { ::close(fd); });
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return emitError(loc) << "external data file '" << location
                          << "' of tensor '" << t.name()
                          << "' is not a regular file";
  uint64_t fileSize = st.st_size;
  if (ext->length && *ext->length != size)
    return emitError(loc) << "external data of tensor '" << t.name()
                          << "' has length " << *ext->length
                          << " but its shape and type need " << size
                          << " bytes";
  if (offset > fileSize || size > fileSize - offset)
    return emitError(loc) << "external data of tensor '" << t.name()
                          << "' (offset " << offset << ", " << size
                          << " bytes) lies outside '" << location << "' ("
                          << fileSize << " bytes)";
  std::vector<char> buf(std::min<uint64_t>(size, 8 << 20));
  for (uint64_t done = 0; done < size;) {
    size_t want = std::min<uint64_t>(buf.size(), size - done);
    ssize_t got = ::pread(fd, buf.data(), want, offset + done);
    if (got <= 0)
      return emitError(loc) << "cannot read external data of tensor '"
                            << t.name() << "' from '" << location << "'";
    if (failed(sink(buf.data(), got)))
      return failure();
    done += got;
  }
  return success();
}

/// The tensor's bytes in ONNX's little-endian layout, from whichever field
/// holds them.
FailureOr<std::string> Importer::tensorBytes(const onnx::TensorProto &t,
                                             Location loc) {
  using TP = onnx::TensorProto;
  uint64_t n = 1;
  for (int64_t d : t.dims())
    n *= d;
  size_t eltSize = rt::dtypeSize(t.data_type());
  uint64_t size = n * eltSize;
  std::string bytes;
  if (t.data_location() == TP::EXTERNAL) {
    bytes.reserve(size);
    if (failed(streamExternal(t, size, loc, [&](const char *p, size_t k) {
          bytes.append(p, k);
          return success();
        })))
      return failure();
    return bytes;
  }
  if (t.has_raw_data()) {
    bytes = t.raw_data();
  } else {
    auto append = [&](const auto &field, auto tag) {
      using T = decltype(tag);
      for (auto v : field) {
        T x = static_cast<T>(v);
        bytes.append(reinterpret_cast<const char *>(&x), sizeof(T));
      }
    };
    switch (t.data_type()) {
    case TP::FLOAT: append(t.float_data(), float()); break;
    case TP::DOUBLE: append(t.double_data(), double()); break;
    case TP::INT64: append(t.int64_data(), int64_t()); break;
    case TP::INT32: append(t.int32_data(), int32_t()); break;
    case TP::INT8: append(t.int32_data(), int8_t()); break;
    case TP::BOOL: append(t.int32_data(), uint8_t()); break;
    case TP::FLOAT16:
    case TP::BFLOAT16: append(t.int32_data(), uint16_t()); break;
    default:
      return emitError(loc) << "tensor '" << t.name()
                            << "' has unsupported element type "
                            << dtypeName(t.data_type());
    }
  }
  if (bytes.size() != size)
    return emitError(loc) << "tensor '" << t.name() << "' holds "
                          << bytes.size() << " bytes but its shape and type "
                          << "need " << size;
  return bytes;
}

FailureOr<DenseElementsAttr> Importer::tensorAttr(const onnx::TensorProto &t,
                                                  Location loc) {
  FailureOr<Type> elt = elementType(t.data_type(), loc,
                                    "tensor '" + t.name() + "'");
  if (failed(elt))
    return failure();
  FailureOr<std::string> bytes = tensorBytes(t, loc);
  if (failed(bytes))
    return failure();
  auto type = RankedTensorType::get(
      SmallVector<int64_t>(t.dims().begin(), t.dims().end()), *elt);
  if (elt->isInteger(1)) {
    SmallVector<bool> bits(bytes->begin(), bytes->end());
    return DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  }
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(bytes->data(), bytes->size()));
}

Value Importer::constant(DenseElementsAttr attr, Location loc) {
  Value v = ConstantOp::create(b, loc, attr.getType(), attr);
  if (attr.getElementType().isInteger(64) && attr.getNumElements() <= 64) {
    Known k;
    for (int64_t x : attr.getValues<int64_t>())
      k.push_back(x);
    knownValues[v] = std::move(k);
  }
  return v;
}

LogicalResult Importer::importInitializer(const onnx::TensorProto &t) {
  Location loc = NameLoc::get(b.getStringAttr(t.name()), fileLoc);
  uint64_t n = 1;
  for (int64_t d : t.dims())
    n *= d;
  if (n <= (uint64_t)options.inlineElementLimit) {
    FailureOr<DenseElementsAttr> attr = tensorAttr(t, loc);
    if (failed(attr))
      return failure();
    values[t.name()] = constant(*attr, loc);
    return success();
  }
  FailureOr<Type> elt = elementType(t.data_type(), loc,
                                    "initializer '" + t.name() + "'");
  if (failed(elt))
    return failure();
  SmallVector<int64_t> dims(t.dims().begin(), t.dims().end());
  uint64_t size = n * rt::dtypeSize(t.data_type());
  std::vector<int64_t> shape(dims.begin(), dims.end());
  auto fail = [&](const rt::Status &s) {
    return emitError(loc) << s.message();
  };
  if (rt::Status s = pack->begin(t.name(), rt::DType(t.data_type()), shape,
                                 size);
      !s)
    return fail(s);
  auto sink = [&](const char *p, size_t k) -> LogicalResult {
    if (rt::Status s = pack->append(p, k); !s)
      return fail(s);
    weightBytes += k;
    if (options.progress && totalWeightBytes >= (256u << 20) &&
        weightBytes >= nextProgress) {
      llvm::errs() << llvm::format("sparse-opt: weights %.0f / %.0f MiB\n",
                                   weightBytes / 1048576.0,
                                   totalWeightBytes / 1048576.0);
      while (nextProgress <= weightBytes)
        nextProgress += totalWeightBytes / 10;
    }
    return success();
  };
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    if (failed(streamExternal(t, size, loc, sink)))
      return failure();
  } else {
    FailureOr<std::string> bytes = tensorBytes(t, loc);
    if (failed(bytes) || failed(sink(bytes->data(), bytes->size())))
      return failure();
  }
  if (rt::Status s = pack->end(); !s)
    return fail(s);
  values[t.name()] =
      WeightOp::create(b, loc, RankedTensorType::get(dims, *elt), t.name());
  return success();
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

FailureOr<OnnxImportResult> Importer::run() {
  if (failed(load()))
    return failure();
  if (model.graph().node_size() > options.maxNodes)
    return emitError(fileLoc)
           << "the graph has " << model.graph().node_size()
           << " nodes, more than the limit of " << options.maxNodes
           << " (--max-nodes raises it)";
  if (failed(validateTensors()) || failed(check()))
    return failure();
  inferOnnxShapes();
  const onnx::GraphProto &g = model.graph();

  rt::Status s;
  pack = rt::WeightPackWriter::create(options.weightPackPath, s);
  if (!pack)
    return emitError(fileLoc) << s.message();
  // An interrupted import leaves no temporary pack behind (the final name
  // only ever holds a complete pack: WeightPackWriter::commit).
  llvm::sys::RemoveFileOnSignal(pack->temporaryPath());

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  b.setInsertionPointToEnd(module->getBody());

  // Graph inputs that are not initializers become function arguments.
  std::unordered_set<std::string> initNames;
  for (const auto &t : g.initializer()) {
    initNames.insert(t.name());
    uint64_t n = 1;
    for (int64_t d : t.dims())
      n *= d;
    if (n > (uint64_t)options.inlineElementLimit)
      totalWeightBytes += n * rt::dtypeSize(t.data_type());
  }
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  for (const auto &in : g.input()) {
    if (initNames.count(in.name()))
      continue;
    FailureOr<RankedTensorType> t =
        tensorType(in.type(), fileLoc, "graph input '" + in.name() + "'");
    if (failed(t))
      return failure();
    argTypes.push_back(*t);
    argNames.push_back(in.name());
  }
  auto func = func::FuncOp::create(b, fileLoc, "main",
                                   b.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    values[name] = entry->getArgument(i);
    func.setArgAttr(i, ActSparseDialect::getOnnxNameAttrName(),
                    b.getStringAttr(name));
  }
  b.setInsertionPointToStart(entry);

  for (const auto &t : g.initializer())
    if (failed(importInitializer(t)))
      return failure();
  for (const auto &node : g.node())
    if (failed(importNode(node, &node - &*g.node().begin())))
      return failure();

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const auto &out : g.output()) {
    auto it = values.find(out.name());
    if (it == values.end() || !it->second)
      return emitError(fileLoc) << "graph output '" << out.name()
                                << "' is not produced by any node";
    results.push_back(it->second);
    resultTypes.push_back(it->second.getType());
  }
  func::ReturnOp::create(b, fileLoc, results);
  func.setType(b.getFunctionType(argTypes, resultTypes));
  for (auto [i, out] : llvm::enumerate(g.output()))
    func.setResultAttr(i, ActSparseDialect::getOnnxNameAttrName(),
                       b.getStringAttr(out.name()));

  if (rt::Status s = pack->finish(); !s)
    return emitError(fileLoc) << s.message();
  std::string id;
  llvm::raw_string_ostream(id) << llvm::format_hex_no_prefix(pack->packId(), 16);
  (*module)->setAttr(ActSparseDialect::getWeightPackAttrName(),
                     b.getStringAttr(options.weightPackReference));
  (*module)->setAttr(ActSparseDialect::getWeightPackIdAttrName(),
                     b.getStringAttr(id));
  if (options.progress && totalWeightBytes >= (256u << 20))
    llvm::errs() << llvm::format("sparse-opt: imported %d nodes, %.0f MiB "
                                 "of weights\n",
                                 g.node_size(), weightBytes / 1048576.0);
  if (failed(verify(*module)))
    return emitError(fileLoc) << "internal error: imported IR does not verify";
  return OnnxImportResult{std::move(module), std::move(pack)};
}

LogicalResult Importer::importNode(const onnx::NodeProto &node, int index) {
  // Unnamed nodes are identified by their position in the graph.
  std::string label = node.name().empty()
                          ? "#" + std::to_string(index) + " " + node.op_type()
                          : node.name();
  Location loc = NameLoc::get(b.getStringAttr(label), fileLoc);
  StringRef domain = node.domain();
  auto it = handlers().find(node.op_type());
  if ((!domain.empty() && domain != "ai.onnx") || it == handlers().end()) {
    int64_t version = opset;
    for (const auto &imp : model.opset_import())
      if (imp.domain() == node.domain())
        version = imp.version();
    return emitError(loc) << "unsupported ONNX op '" << node.op_type()
                          << "' (domain '"
                          << (domain.empty() ? "ai.onnx" : domain)
                          << "', opset " << version << ") in node '"
                          << label << "'";
  }
  NodeCtx n{node, loc, {}, {}};
  for (const std::string &name : node.input()) {
    if (name.empty()) {
      n.inputs.push_back(Value());
      continue;
    }
    auto v = values.find(name);
    if (v == values.end())
      return emitError(loc) << "input '" << name << "' of node '" << label
                            << "' is not defined";
    n.inputs.push_back(v->second);
  }
  if (failed((this->*it->second)(n)))
    return failure();
  bool ok = true;
  for (auto [i, name] : llvm::enumerate(node.output())) {
    if (name.empty())
      continue;
    if (i >= n.results.size() || !n.results[i])
      return emitError(loc) << "output #" << i << " of " << node.op_type()
                            << " is not supported (only the first output "
                               "is)";
    Value v = n.results[i];
    RankedTensorType refined =
        refine(cast<RankedTensorType>(v.getType()), name, loc, ok);
    if (!ok)
      return failure();
    // Forwarded values (Identity, no-op Cast) already have users whose
    // types must not change under them.
    if (refined != v.getType() && v.use_empty() && v.getDefiningOp() &&
        v.getDefiningOp()->getNumResults() == 1) {
      // Static dimensions ONNX knew and we did not.
      v.setType(refined);
      if (failed(verify(v.getDefiningOp())))
        return failure();
    }
    values[name] = v;
  }
  return success();
}

RankedTensorType Importer::refine(RankedTensorType ours,
                                  const std::string &name, Location loc,
                                  bool &ok) {
  auto it = onnxTypes.find(name);
  if (it == onnxTypes.end() || !it->second->has_tensor_type() ||
      !it->second->tensor_type().has_shape())
    return ours;
  const auto &dims = it->second->tensor_type().shape().dim();
  if (dims.size() != ours.getRank()) {
    emitError(loc) << "ONNX shape inference gives '" << name << "' rank "
                   << dims.size() << ", ActSparse computes rank "
                   << ours.getRank();
    ok = false;
    return ours;
  }
  SmallVector<int64_t> shape(ours.getShape());
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (!d.has_dim_value())
      continue;
    if (ShapedType::isDynamic(shape[i])) {
      shape[i] = d.dim_value();
    } else if (shape[i] != d.dim_value()) {
      emitError(loc) << "ONNX shape inference gives '" << name
                     << "' dimension " << i << " = " << d.dim_value()
                     << ", ActSparse computes " << shape[i];
      ok = false;
      return ours;
    }
  }
  return RankedTensorType::get(shape, ours.getElementType());
}

//===----------------------------------------------------------------------===//
// Handler helpers
//===----------------------------------------------------------------------===//

const onnx::AttributeProto *Importer::attr(const onnx::NodeProto &n,
                                           StringRef name) {
  for (const auto &a : n.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t Importer::intAttr(const onnx::NodeProto &n, StringRef name,
                          int64_t dflt) {
  const onnx::AttributeProto *a = attr(n, name);
  return a ? a->i() : dflt;
}

float Importer::floatAttr(const onnx::NodeProto &n, StringRef name,
                          float dflt) {
  const onnx::AttributeProto *a = attr(n, name);
  return a ? a->f() : dflt;
}

std::optional<SmallVector<int64_t>>
Importer::intsAttr(const onnx::NodeProto &n, StringRef name) {
  const onnx::AttributeProto *a = attr(n, name);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

std::optional<Known> Importer::known(Value v) const {
  auto it = knownValues.find(v);
  if (it == knownValues.end())
    return std::nullopt;
  return it->second;
}

FailureOr<SmallVector<int64_t>> Importer::constInts(NodeCtx &n, unsigned i,
                                                    StringRef what) {
  std::optional<Known> k = n.in(i) ? known(n.in(i)) : std::nullopt;
  SmallVector<int64_t> out;
  if (k)
    for (const auto &e : *k)
      if (e)
        out.push_back(*e);
  if (!k || out.size() != k->size())
    return emitError(n.loc) << n.node.op_type() << " needs constant " << what
                            << " (input #" << i << ")";
  return out;
}

FailureOr<int64_t> Importer::normAxis(NodeCtx &n, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return emitError(n.loc) << n.node.op_type() << " axis " << axis
                            << " is out of range for rank " << rank;
  return a;
}

LogicalResult Importer::expectInputs(NodeCtx &n, unsigned min, unsigned max) {
  unsigned present = 0;
  for (Value v : n.inputs)
    present += v ? 1 : 0;
  if (n.inputs.size() < min || n.inputs.size() > max ||
      llvm::any_of(ArrayRef<Value>(n.inputs).take_front(min),
                   [](Value v) { return !v; }))
    return emitError(n.loc) << n.node.op_type() << " expects " << min
                            << (min == max ? "" : " to " + std::to_string(max))
                            << " inputs, the node has " << present;
  return success();
}

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

//===----------------------------------------------------------------------===//
// Handlers
//===----------------------------------------------------------------------===//

template <typename OpTy> LogicalResult Importer::binary(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  Value lhs = n.in(0), rhs = n.in(1);
  auto lt = cast<RankedTensorType>(lhs.getType());
  if (getElementTypeOrSelf(rhs) != lt.getElementType()) {
    // ONNX Pow allows an exponent of another type; others do not.
    if (!std::is_same_v<OpTy, PowOp>)
      return emitError(n.loc) << n.node.op_type()
                              << " operands have different element types";
    rhs = CastOp::create(b, n.loc, withShape(rhs, shapeOf(rhs),
                                             lt.getElementType()), rhs);
  }
  std::optional<SmallVector<int64_t>> shape =
      broadcastShapes(lt.getShape(), shapeOf(rhs));
  if (!shape)
    return emitError(n.loc) << n.node.op_type()
                            << " operands do not broadcast";
  Value r = OpTy::create(b, n.loc, withShape(lhs, *shape), lhs, rhs);
  if (lt.getElementType().isInteger(64)) {
    std::optional<Known> k;
    auto kl = known(lhs), kr = known(rhs);
    if constexpr (std::is_same_v<OpTy, AddOp>)
      k = combineKnown(kl, kr, [](int64_t x, int64_t y) { return x + y; });
    else if constexpr (std::is_same_v<OpTy, SubOp>)
      k = combineKnown(kl, kr, [](int64_t x, int64_t y) { return x - y; });
    else if constexpr (std::is_same_v<OpTy, MulOp>)
      k = combineKnown(kl, kr, [](int64_t x, int64_t y) { return x * y; });
    else if constexpr (std::is_same_v<OpTy, DivOp>)
      k = combineKnown(kl, kr, [](int64_t x, int64_t y) {
        return y == 0 ? std::optional<int64_t>() : x / y;
      });
    if (k)
      knownValues[r] = *k;
  }
  n.results.push_back(r);
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
  Value r = OpTy::create(b, n.loc, withShape(n.in(0), *shape, b.getI1Type()),
                         n.in(0), n.in(1));
  // Shape arithmetic (exports compare shape vectors with -1): known
  // integer elements give known booleans, kept as 0 / 1.
  if (getElementTypeOrSelf(n.in(0)).isInteger(64) && shape->size() <= 1) {
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
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  if (!isa<FloatType>(getElementTypeOrSelf(n.in(0))) &&
      !std::is_same_v<OpTy, NegOp>)
    return emitError(n.loc) << n.node.op_type()
                            << " is supported on floating-point tensors only";
  n.results.push_back(OpTy::create(b, n.loc, n.in(0)));
  return success();
}

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
  return success();
}

LogicalResult Importer::identity(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  n.results.push_back(n.in(0));
  return success();
}

LogicalResult Importer::thresholdedRelu(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  n.results.push_back(ThresholdedReluOp::create(
      b, n.loc, n.in(0), b.getF32FloatAttr(floatAttr(n.node, "alpha", 1.0f))));
  return success();
}

LogicalResult Importer::matmul(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 2)))
    return failure();
  std::string why;
  auto shape = matmulShape(shapeOf(n.in(0)), shapeOf(n.in(1)), why);
  if (!shape)
    return emitError(n.loc) << "MatMul operands are incompatible: " << why;
  if (getElementTypeOrSelf(n.in(0)) != getElementTypeOrSelf(n.in(1)))
    return emitError(n.loc) << "MatMul operands have different element types";
  n.results.push_back(MatMulOp::create(b, n.loc, withShape(n.in(0), *shape),
                                       n.in(0), n.in(1)));
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

LogicalResult Importer::softmax(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  if (opset < 13)
    return emitError(n.loc) << "Softmax before opset 13 (2-D coercion) is "
                               "not supported; re-export with opset >= 13";
  int64_t rank = shapeOf(n.in(0)).size();
  FailureOr<int64_t> axis = normAxis(n, intAttr(n.node, "axis", -1), rank);
  if (failed(axis))
    return failure();
  n.results.push_back(
      SoftmaxOp::create(b, n.loc, n.in(0), b.getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult Importer::reduceMean(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 2)))
    return failure();
  ArrayRef<int64_t> in = shapeOf(n.in(0));
  SmallVector<int64_t> axes;
  if (opset >= 18 && n.in(1)) {
    FailureOr<SmallVector<int64_t>> a = constInts(n, 1, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else if (auto a = intsAttr(n.node, "axes")) {
    axes = *a;
  }
  if (axes.empty()) {
    if (intAttr(n.node, "noop_with_empty_axes", 0))
      return identity(n);
    for (int64_t i = 0; i < (int64_t)in.size(); ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes) {
    FailureOr<int64_t> na = normAxis(n, a, in.size());
    if (failed(na))
      return failure();
    a = *na;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  bool keep = intAttr(n.node, "keepdims", 1);
  SmallVector<int64_t> shape;
  for (auto [i, d] : llvm::enumerate(in)) {
    if (!llvm::is_contained(axes, (int64_t)i))
      shape.push_back(d);
    else if (keep)
      shape.push_back(1);
  }
  n.results.push_back(ReduceMeanOp::create(b, n.loc, withShape(n.in(0), shape),
                                           n.in(0), axes, keep));
  return success();
}

LogicalResult Importer::layerNorm(NodeCtx &n) {
  if (failed(expectInputs(n, 2, 3)))
    return failure();
  FailureOr<int64_t> axis =
      normAxis(n, intAttr(n.node, "axis", -1), shapeOf(n.in(0)).size());
  if (failed(axis))
    return failure();
  n.results.push_back(LayerNormOp::create(
      b, n.loc, n.in(0).getType(), n.in(0), n.in(1), n.in(2),
      b.getI64IntegerAttr(*axis),
      b.getF32FloatAttr(floatAttr(n.node, "epsilon", 1e-5f))));
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
  if (intAttr(n.node, "allowzero", 0))
    return emitError(n.loc) << "Reshape with allowzero = 1 is not supported";
  ArrayRef<int64_t> target = shapeOf(n.in(1));
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
  for (int64_t &a : axes) {
    FailureOr<int64_t> na = normAxis(n, a, rank);
    if (failed(na))
      return failure();
    a = *na;
  }
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

LogicalResult Importer::castNode(NodeCtx &n) {
  if (failed(expectInputs(n, 1, 1)))
    return failure();
  FailureOr<Type> to = elementType(intAttr(n.node, "to", 0), n.loc,
                                   "Cast target");
  if (failed(to))
    return failure();
  if (*to == getElementTypeOrSelf(n.in(0))) {
    n.results.push_back(n.in(0));
    return success();
  }
  Value r = CastOp::create(b, n.loc, withShape(n.in(0), shapeOf(n.in(0)), *to),
                           n.in(0));
  if (auto k = known(n.in(0)); k && to->isInteger(64))
    knownValues[r] = *k;
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
  for (int64_t &a : axes) {
    FailureOr<int64_t> na = normAxis(n, a, rank);
    if (failed(na))
      return failure();
    a = *na;
  }
  for (int64_t st : steps)
    if (st <= 0)
      return emitError(n.loc) << "Slice step " << st << " is not supported "
                                 "(only positive steps are)";
  // Static sizes where the bounds and the dimension are known.
  auto ks = known(n.in(1)), ke = known(n.in(2));
  SmallVector<int64_t> shape(data);
  std::optional<std::pair<int64_t, int64_t>> span; // of 1-D data, if known
  for (auto [i, axis] : llvm::enumerate(axes)) {
    shape[axis] = ShapedType::kDynamic;
    int64_t d = data[axis];
    if (ShapedType::isDynamic(d) || !ks || !ke || !(*ks)[i] || !(*ke)[i])
      continue;
    auto clampIdx = [d](int64_t x) {
      return std::clamp<int64_t>(x < 0 ? x + d : x, 0, d);
    };
    int64_t lo = clampIdx((*ks)[i].value_or(0)),
            hi = clampIdx((*ke)[i].value_or(0));
    shape[axis] = hi > lo ? (hi - lo + steps[i] - 1) / steps[i] : 0;
    if (rank == 1)
      span = {lo, hi};
  }
  Value r = SliceOp::create(b, n.loc, withShape(n.in(0), shape), n.in(0),
                            n.in(1), n.in(2), axes, steps);
  // Shape arithmetic: slicing a known 1-D vector with known bounds.
  if (auto kd = known(n.in(0)); kd && span) {
    Known k;
    for (int64_t j = span->first; j < span->second; j += steps[0])
      k.push_back((*kd)[j]);
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
  if (StringRef(attr(n.node, "reduction") ? attr(n.node, "reduction")->s()
                                          : "none") != "none")
    return emitError(n.loc) << "ScatterND with a reduction is not supported";
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
  n.results.push_back(ScatterNdOp::create(b, n.loc, n.in(0).getType(),
                                          n.in(0), n.in(1), n.in(2)));
  return success();
}

const llvm::StringMap<Handler> &Importer::handlers() {
  static const llvm::StringMap<Handler> table = {
      {"Add", &Importer::binary<AddOp>},
      {"Sub", &Importer::binary<SubOp>},
      {"Mul", &Importer::binary<MulOp>},
      {"Div", &Importer::binary<DivOp>},
      {"Pow", &Importer::binary<PowOp>},
      {"Equal", &Importer::compare<EqualOp>},
      {"Less", &Importer::compare<LessOp>},
      {"LessOrEqual", &Importer::compare<LessOrEqualOp>},
      {"Greater", &Importer::compare<GreaterOp>},
      {"GreaterOrEqual", &Importer::compare<GreaterOrEqualOp>},
      {"Neg", &Importer::unary<NegOp>},
      {"Sqrt", &Importer::unary<SqrtOp>},
      {"Reciprocal", &Importer::unary<ReciprocalOp>},
      {"Exp", &Importer::unary<ExpOp>},
      {"Tanh", &Importer::unary<TanhOp>},
      {"Erf", &Importer::unary<ErfOp>},
      {"Cos", &Importer::unary<CosOp>},
      {"Sin", &Importer::unary<SinOp>},
      {"Sigmoid", &Importer::unary<SigmoidOp>},
      {"Relu", &Importer::unary<ReluOp>},
      {"ThresholdedRelu", &Importer::thresholdedRelu},
      {"Constant", &Importer::constantNode},
      {"Identity", &Importer::identity},
      {"MatMul", &Importer::matmul},
      {"Where", &Importer::where},
      {"Softmax", &Importer::softmax},
      {"ReduceMean", &Importer::reduceMean},
      {"LayerNormalization", &Importer::layerNorm},
      {"Gather", &Importer::gather},
      {"Transpose", &Importer::transpose},
      {"Reshape", &Importer::reshape},
      {"Expand", &Importer::expand},
      {"Unsqueeze", &Importer::unsqueeze},
      {"Concat", &Importer::concat},
      {"Cast", &Importer::castNode},
      {"Shape", &Importer::shape},
      {"ConstantOfShape", &Importer::constantOfShape},
      {"Range", &Importer::range},
      {"Slice", &Importer::slice},
      {"Trilu", &Importer::trilu},
      {"ScatterND", &Importer::scatterNd},
  };
  return table;
}

} // namespace

bool mlir::actsparse::isOnnxPath(StringRef path) {
  return path.ends_with(".onnx") || path.ends_with(".onnxtxt");
}

FailureOr<OnnxImportResult>
mlir::actsparse::importOnnxFile(MLIRContext &context, StringRef path,
                                const OnnxImportOptions &options) {
  context.loadDialect<ActSparseDialect, func::FuncDialect>();
  return Importer(context, path, options).run();
}
