//===- OnnxImporter.cpp - ONNX to actsparse -------------------------------===//
//
// Reads an ONNX model, validates it with libonnx's checker, and builds
// actsparse IR node by node through a table of small handlers keyed by op
// type (handlers(), below; the handlers are in Ops/, one file per family). Result types come from our own shape rules (ShapeUtils, the same
// code the verifiers use) refined by libonnx's shape inference; small
// integer tensors (shapes, indices) are tracked element by element so that
// Reshape/Expand targets computed from Shape ops still give static ranks and
// as many static dimensions as the graph determines.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Import/OnnxImporter.h"
#include "Importer.h"
#include "TensorData.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Dialect/ShapeUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "actsparse/Import/DeferTerminationSignals.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
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

namespace mlir::actsparse::onnx_import {

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
  case TP::INT16: return Type(b.getI16Type());
  // Unsigned: the same bits in a signless tensor (isUnsignedOnnx).
  case TP::UINT8: return Type(b.getI8Type());
  case TP::UINT16: return Type(b.getI16Type());
  case TP::UINT32: return Type(b.getI32Type());
  case TP::UINT64: return Type(b.getI64Type());
  case TP::INT8: return Type(b.getI8Type());
  case TP::BOOL: return Type(b.getI1Type());
  default:
    return emitError(loc) << what << " has unsupported element type "
                          << dtypeName(t);
  }
}

bool Importer::isUnsignedOnnx(int32_t t) {
  using TP = onnx::TensorProto;
  return t == TP::UINT8 || t == TP::UINT16 || t == TP::UINT32 ||
         t == TP::UINT64;
}

FailureOr<RankedTensorType> Importer::tensorType(const onnx::TypeProto &type,
                                                 Location loc,
                                                 const std::string &what) {
  if (!type.has_tensor_type())
    return emitError(loc) << what << " is not a tensor (sequence, map and "
                                     "optional types are not supported)";
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
  case TP::UINT32:
  case TP::UINT64: return t.uint64_data_size() * eltSize;
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
  if (std::string e = onnx_import::inlineTensorBytes(t, bytes); !e.empty())
    return emitError(loc) << "tensor '" << t.name() << "' " << e;
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
  // Small integer constants are known element by element: shapes, axes,
  // indices (ONNX writes axes as i64, CumSum's axis may be i32).
  Type elt = attr.getElementType();
  if ((elt.isInteger(64) || elt.isInteger(32)) && attr.getNumElements() <= 64) {
    Known k;
    for (const APInt &x : attr.getValues<APInt>())
      k.push_back(x.getSExtValue());
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
    markUnsigned(values[t.name()], isUnsignedOnnx(t.data_type()));
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
  // Unsigned weights are stored with their signed twin's type (the same
  // bits), as the IR types them.
  int32_t packType = t.data_type();
  switch (packType) {
  case onnx::TensorProto::UINT8: packType = onnx::TensorProto::INT8; break;
  case onnx::TensorProto::UINT16: packType = onnx::TensorProto::INT16; break;
  case onnx::TensorProto::UINT32: packType = onnx::TensorProto::INT32; break;
  case onnx::TensorProto::UINT64: packType = onnx::TensorProto::INT64; break;
  default: break;
  }
  if (rt::Status s = pack->begin(t.name(), rt::DType(packType), shape, size);
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
  markUnsigned(values[t.name()], isUnsignedOnnx(t.data_type()));
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
  {
    // An interrupted import leaves no temporary pack behind (the final
    // name only ever holds a complete pack: WeightPackWriter::commit).
    DeferTerminationSignals deferred;
    pack = rt::WeightPackWriter::create(options.weightPackPath, s);
    if (pack)
      llvm::sys::RemoveFileOnSignal(pack->temporaryPath());
  }
  if (!pack)
    return emitError(fileLoc) << s.message();

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
  // Bound inputs: read and checked against the input's declared type
  // before anything is built.
  std::unordered_map<std::string, DenseElementsAttr> bound;
  for (const auto &[name, file] : options.boundInputs) {
    auto in = llvm::find_if(g.input(), [&, &name = name](const auto &i) {
      return i.name() == name;
    });
    if (in == g.input().end() || initNames.count(name))
      return emitError(fileLoc) << "--bind-input: '" << name
                                << "' is not a graph input";
    onnx::TensorProto t;
    std::ifstream f(file, std::ios::binary);
    if (!f || !t.ParseFromIstream(&f))
      return emitError(fileLoc) << "--bind-input: cannot read a TensorProto "
                                   "from '" << file << "'";
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      return emitError(fileLoc) << "--bind-input: '" << file
                                << "' must hold its data inline";
    if (failed(tensorSize(t, fileLoc)))
      return failure();
    FailureOr<DenseElementsAttr> value = tensorAttr(t, fileLoc);
    if (failed(value))
      return failure();
    FailureOr<RankedTensorType> declared =
        tensorType(in->type(), fileLoc, "graph input '" + name + "'");
    if (failed(declared))
      return failure();
    if (declared->getElementType() != value->getElementType() ||
        !isCompatibleShape(declared->getShape(), value->getType().getShape()))
      return emitError(fileLoc) << "--bind-input: '" << file << "' holds a "
                                << value->getType() << ", graph input '"
                                << name << "' is " << *declared;
    bound[name] = *value;
  }
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  SmallVector<bool> argUnsigned;
  for (const auto &in : g.input()) {
    if (initNames.count(in.name()) || bound.count(in.name()))
      continue;
    FailureOr<RankedTensorType> t =
        tensorType(in.type(), fileLoc, "graph input '" + in.name() + "'");
    if (failed(t))
      return failure();
    argTypes.push_back(*t);
    argNames.push_back(in.name());
    argUnsigned.push_back(isUnsignedOnnx(in.type().tensor_type().elem_type()));
  }
  auto func = func::FuncOp::create(b, fileLoc, "main",
                                   b.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    values[name] = entry->getArgument(i);
    func.setArgAttr(i, ActSparseDialect::getOnnxNameAttrName(),
                    b.getStringAttr(name));
    if (argUnsigned[i]) {
      markUnsigned(entry->getArgument(i));
      func.setArgAttr(i, ActSparseDialect::getUnsignedAttrName(),
                      b.getUnitAttr());
    }
  }
  b.setInsertionPointToStart(entry);

  for (const auto &[name, value] : bound) {
    values[name] = constant(value, fileLoc);
    auto in = llvm::find_if(g.input(), [&, &name = name](const auto &i) {
      return i.name() == name;
    });
    markUnsigned(values[name],
                 isUnsignedOnnx(in->type().tensor_type().elem_type()));
  }
  for (const auto &t : g.initializer())
    if (failed(importInitializer(t)))
      return failure();
  // (RepeatedPtrField elements are not contiguous: count, do not subtract.)
  for (int i = 0; i < g.node_size(); ++i)
    if (failed(importNode(g.node(i), i)))
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
  for (auto [i, out] : llvm::enumerate(g.output())) {
    func.setResultAttr(i, ActSparseDialect::getOnnxNameAttrName(),
                       b.getStringAttr(out.name()));
    if (isUnsigned(results[i]))
      func.setResultAttr(i, ActSparseDialect::getUnsignedAttrName(),
                         b.getUnitAttr());
  }

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

FailureOr<std::vector<OnnxOpUse>> Importer::listOps() {
  if (failed(load()))
    return failure();
  std::vector<OnnxOpUse> ops;
  llvm::StringMap<size_t> index;
  for (const auto &node : model.graph().node()) {
    bool onnxDomain = node.domain().empty() || node.domain() == "ai.onnx";
    std::string op =
        onnxDomain ? node.op_type() : node.domain() + "." + node.op_type();
    auto [it, inserted] = index.try_emplace(op, ops.size());
    if (inserted)
      ops.push_back({op, 0, onnxDomain && handlers().count(node.op_type())});
    ++ops[it->second].nodes;
  }
  return ops;
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
  // Ops that know unsigned operands (or do not care: data movement) take
  // them; the others would compute signed results and are refused.
  static const llvm::StringSet<> unsignedAware = {
      "Add", "Sub", "Mul", "Div", "Mod", "Min", "Max", "Sum", "Clip", "Pow",
      "Cast", "CastLike", "Identity", "Reshape", "Squeeze", "Unsqueeze",
      "Flatten", "Transpose", "Concat", "Slice", "Split", "Gather",
      "GatherElements", "Expand", "Tile", "Shape", "Size", "Equal", "Less",
      "LessOrEqual", "Greater", "GreaterOrEqual", "Where", "Dropout"};
  if (llvm::any_of(n.inputs, [&](Value v) { return v && isUnsigned(v); }) &&
      !unsignedAware.contains(node.op_type()))
    return emitError(loc) << node.op_type()
                          << " is not supported on unsigned integers";
  if (failed((this->*it->second)(n)))
    return failure();
  // An integer result of the type of an unsigned input is unsigned (Cast
  // and CastLike decide for themselves).
  if (node.op_type() != "Cast" && node.op_type() != "CastLike")
    for (Value r : n.results) {
      Type t = r ? getElementTypeOrSelf(r) : Type();
      if (!t || !isa<IntegerType>(t) || t.isInteger(1))
        continue;
      for (Value v : n.inputs)
        if (v && isUnsigned(v) && getElementTypeOrSelf(v) == t)
          markUnsigned(r);
    }
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

LogicalResult Importer::normAxes(NodeCtx &n, MutableArrayRef<int64_t> axes,
                                 int64_t rank) {
  for (int64_t &a : axes) {
    FailureOr<int64_t> na = normAxis(n, a, rank);
    if (failed(na))
      return failure();
    a = *na;
  }
  return success();
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

const llvm::StringMap<Handler> &Importer::handlers() {
  static const llvm::StringMap<Handler> table = {
      {"Add", &Importer::binary<AddOp>},
      {"Sub", &Importer::binary<SubOp>},
      {"Mul", &Importer::binary<MulOp>},
      {"Div", &Importer::binary<DivOp>},
      {"Pow", &Importer::pow},
      {"Mod", &Importer::mod},
      {"Min", &Importer::variadic<MinOp>},
      {"Max", &Importer::variadic<MaxOp>},
      {"Sum", &Importer::variadic<AddOp>},
      {"Mean", &Importer::mean},
      {"Clip", &Importer::clip},
      {"And", &Importer::binary<AndOp>},
      {"Or", &Importer::binary<OrOp>},
      {"Xor", &Importer::binary<XorOp>},
      {"Not", &Importer::unary<NotOp>},
      {"IsNaN", &Importer::isNaN},
      {"IsInf", &Importer::isInf},
      {"Abs", &Importer::unary<AbsOp>},
      {"Sign", &Importer::unary<SignOp>},
      {"Log", &Importer::unary<LogOp>},
      {"Floor", &Importer::unary<FloorOp>},
      {"Ceil", &Importer::unary<CeilOp>},
      {"Round", &Importer::unary<RoundOp>},
      {"Softplus", &Importer::unary<SoftplusOp>},
      {"Softsign", &Importer::unary<SoftsignOp>},
      {"LeakyRelu", &Importer::paramActivation<LeakyReluOp>},
      {"HardSigmoid", &Importer::paramActivation<HardSigmoidOp>},
      {"Elu", &Importer::paramActivation<EluOp>},
      {"Selu", &Importer::paramActivation<SeluOp>},
      {"Celu", &Importer::paramActivation<CeluOp>},
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
      {"ReduceSum", &Importer::reduce},
      {"ReduceMax", &Importer::reduce},
      {"ReduceMin", &Importer::reduce},
      {"ReduceProd", &Importer::reduce},
      {"ReduceL1", &Importer::reduce},
      {"ReduceL2", &Importer::reduce},
      {"ReduceSumSquare", &Importer::reduce},
      {"ReduceLogSum", &Importer::reduce},
      {"ReduceLogSumExp", &Importer::reduce},
      {"ArgMax", &Importer::argReduce},
      {"ArgMin", &Importer::argReduce},
      {"LogSoftmax", &Importer::logSoftmax},
      {"LayerNormalization", &Importer::layerNorm},
      {"Gather", &Importer::gather},
      {"Transpose", &Importer::transpose},
      {"Reshape", &Importer::reshape},
      {"Expand", &Importer::expand},
      {"Unsqueeze", &Importer::unsqueeze},
      {"Concat", &Importer::concat},
      {"Cast", &Importer::castNode},
      {"CastLike", &Importer::castLike},
      {"Squeeze", &Importer::squeeze},
      {"Flatten", &Importer::flatten},
      {"Size", &Importer::size},
      {"Dropout", &Importer::dropout},
      {"Split", &Importer::split},
      {"Tile", &Importer::tile},
      {"GatherElements", &Importer::gatherElements},
      {"CumSum", &Importer::cumSum},
      {"TopK", &Importer::topK},
      {"Gemm", &Importer::gemm},
      {"Tan", &Importer::unary<TanOp>},
      {"Asin", &Importer::unary<AsinOp>},
      {"Acos", &Importer::unary<AcosOp>},
      {"Atan", &Importer::unary<AtanOp>},
      {"Sinh", &Importer::unary<SinhOp>},
      {"Cosh", &Importer::unary<CoshOp>},
      {"Asinh", &Importer::unary<AsinhOp>},
      {"Acosh", &Importer::unary<AcoshOp>},
      {"Atanh", &Importer::unary<AtanhOp>},
      {"HardSwish", &Importer::unary<HardSwishOp>},
      {"Shrink", &Importer::paramActivation<ShrinkOp>},
      {"PRelu", &Importer::binary<PReluOp>},
      {"Shape", &Importer::shape},
      {"ConstantOfShape", &Importer::constantOfShape},
      {"Range", &Importer::range},
      {"Slice", &Importer::slice},
      {"Trilu", &Importer::trilu},
      {"ScatterND", &Importer::scatterNd},
  };
  return table;
}

} // namespace mlir::actsparse::onnx_import

void mlir::actsparse::printImportDiagnostic(Diagnostic &d,
                                            llvm::raw_ostream &os) {
  std::string node, file;
  d.getLocation()->walk([&](Location l) {
    if (auto name = dyn_cast<NameLoc>(l); name && node.empty())
      node = name.getName().str();
    if (auto flc = dyn_cast<FileLineColLoc>(l))
      file = flc.getFilename().str();
    return WalkResult::advance();
  });
  os << file << ": ";
  if (!node.empty())
    os << "node '" << node << "': ";
  os << (d.getSeverity() == DiagnosticSeverity::Error ? "error: "
                                                      : "warning: ")
     << d.str() << "\n";
}

bool mlir::actsparse::isOnnxPath(StringRef path) {
  return path.ends_with(".onnx") || path.ends_with(".onnxtxt");
}

FailureOr<OnnxImportResult>
mlir::actsparse::importOnnxFile(MLIRContext &context, StringRef path,
                                const OnnxImportOptions &options) {
  context.loadDialect<ActSparseDialect, func::FuncDialect>();
  return onnx_import::Importer(context, path, options).run();
}

FailureOr<std::vector<OnnxOpUse>>
mlir::actsparse::listOnnxOps(MLIRContext &context, StringRef path) {
  OnnxImportOptions options;
  return onnx_import::Importer(context, path, options).listOps();
}
