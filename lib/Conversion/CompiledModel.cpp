//===- CompiledModel.cpp - JIT-compiled actsparse models ------------------===//
//
// Lowering, JIT compilation and the call through the entry ABI
// (runtime/include/actsparse/runtime/Abi.h).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/CompiledModel.h"
#include "actsparse/Conversion/Passes.h"
#include "actsparse/runtime/Abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>
#include <set>

using namespace mlir;
using namespace mlir::actsparse;
namespace rt = ::actsparse::runtime;

CompiledModel::~CompiledModel() = default;

static std::optional<rt::DType> dtypeOf(Type t) {
  if (t.isF32())
    return rt::DType::F32;
  if (t.isF64())
    return rt::DType::F64;
  if (t.isF16())
    return rt::DType::F16;
  if (t.isBF16())
    return rt::DType::BF16;
  if (t.isInteger(64))
    return rt::DType::I64;
  if (t.isInteger(32))
    return rt::DType::I32;
  if (t.isInteger(8))
    return rt::DType::I8;
  if (t.isInteger(1))
    return rt::DType::Bool;
  return std::nullopt;
}

static FailureOr<ModelSignature::Param> paramOf(Type type, StringRef name,
                                                std::string &error) {
  auto t = dyn_cast<RankedTensorType>(type);
  std::optional<rt::DType> dt = t ? dtypeOf(t.getElementType()) : std::nullopt;
  if (!dt) {
    error = "entry parameter '" + name.str() + "' has an unsupported type";
    return failure();
  }
  ModelSignature::Param p{name.str(), *dt, {}};
  for (int64_t d : t.getShape())
    p.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return p;
}

std::unique_ptr<CompiledModel> CompiledModel::compile(ModuleOp module,
                                                      std::string &error) {
  MLIRContext *ctx = module.getContext();
  PassManager toTensors(ctx);
  buildLowerToTensorsPipeline(toTensors);
  if (failed(toTensors.run(module))) {
    error = "lowering to tensors failed";
    return nullptr;
  }
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.isExternal()) {
    error = "the module has no runnable entry point (func.func @main)";
    return nullptr;
  }
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  FunctionType fnType = main.getFunctionType();
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    auto weight = main.getArgAttrOfType<StringAttr>(i, kWeightArgAttr);
    auto name = main.getArgAttrOfType<StringAttr>(i, "actsparse.name");
    StringRef label = weight ? weight.getValue()
                             : name ? name.getValue() : StringRef("");
    auto p = paramOf(fnType.getInput(i), label, error);
    if (failed(p))
      return nullptr;
    (weight ? model->signature_.weights : model->signature_.inputs)
        .push_back(*p);
  }
  for (unsigned i = 0; i < fnType.getNumResults(); ++i) {
    auto name = main.getResultAttrOfType<StringAttr>(i, "actsparse.name");
    auto p = paramOf(fnType.getResult(i), name ? name.getValue() : "", error);
    if (failed(p))
      return nullptr;
    model->signature_.results.push_back(*p);
  }

  // The names are recorded in the signature; LLVM has no use for them.
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    main.removeArgAttr(i, kWeightArgAttr);
    main.removeArgAttr(i, "actsparse.name");
  }
  for (unsigned i = 0; i < fnType.getNumResults(); ++i)
    main.removeResultAttr(i, StringAttr::get(ctx, "actsparse.name"));

  PassManager toLLVM(ctx);
  buildTensorsToLLVMPipeline(toLLVM);
  if (failed(toLLVM.run(module))) {
    error = "lowering to LLVM failed";
    return nullptr;
  }

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  ExecutionEngineOptions options;
  options.transformer = makeOptimizingTransformer(3, 0, nullptr);
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  // memrefCopy (strided copies left by bufferization) lives in MLIR's C
  // runner utilities.
  std::vector<StringRef> libs = {ACTSPARSE_MLIR_C_RUNNER_UTILS};
  options.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    error = "JIT compilation failed: " + llvm::toString(engine.takeError());
    return nullptr;
  }
  model->engine_ = std::move(*engine);
  model->engine_->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    map[interner(rt::kIndexOutOfRangeSymbol)] = {
        llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_index_out_of_range),
        llvm::JITSymbolFlags::Exported};
    map[interner(rt::kMatMulSymbol)] = {
        llvm::orc::ExecutorAddr::fromPtr(&_mlir_ciface_actsparse_rt_matmul_f32),
        llvm::JITSymbolFlags::Exported};
    return map;
  });
  auto fn = model->engine_->lookupPacked(std::string(rt::kEntryPrefix) + "main");
  if (!fn) {
    error = "JIT: entry point not found: " + llvm::toString(fn.takeError());
    return nullptr;
  }
  model->entry_ = *fn;
  return model;
}

/// Copies a (possibly strided) memref into a dense tensor.
static void copyOut(const rt::MemRefDescriptor &d, rt::Tensor &t) {
  size_t elt = rt::dtypeSize(uint32_t(t.dtype));
  char *dst = static_cast<char *>(t.data());
  const char *base = static_cast<const char *>(d.aligned()) + d.offset() * elt;
  int64_t rank = d.rank();
  uint64_t n = t.numElements();
  std::vector<int64_t> idx(rank, 0);
  for (uint64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int64_t k = 0; k < rank; ++k)
      off += idx[k] * d.stride(k);
    std::memcpy(dst + i * elt, base + off * elt, elt);
    for (int64_t k = rank - 1; k >= 0; --k) {
      if (++idx[k] < d.size(k))
        break;
      idx[k] = 0;
    }
  }
}

rt::Status CompiledModel::run(const std::vector<const rt::Tensor *> &inputs,
                              std::vector<rt::Tensor> &outputs) {
  const ModelSignature &sig = signature_;
  const std::vector<const void *> &weights = weights_;
  if (inputs.size() != sig.inputs.size() || weights.size() != sig.weights.size())
    return rt::Status::error("model expects " +
                             std::to_string(sig.inputs.size()) + " inputs and " +
                             std::to_string(sig.weights.size()) + " weights");
  std::vector<rt::MemRefDescriptor> descs;
  std::set<const void *> owned; // buffers the caller owns: never freed here
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ModelSignature::Param &p = sig.inputs[i];
    const rt::Tensor &t = *inputs[i];
    if (t.dtype != p.dtype || t.shape.size() != p.shape.size())
      return rt::Status::error("input '" + p.name + "' has the wrong type or rank");
    for (size_t k = 0; k < t.shape.size(); ++k)
      if (p.shape[k] >= 0 && p.shape[k] != t.shape[k])
        return rt::Status::error("input '" + p.name + "' dimension " +
                                 std::to_string(k) + " must be " +
                                 std::to_string(p.shape[k]));
    descs.push_back(rt::MemRefDescriptor::forBuffer(const_cast<void *>(t.data()),
                                                    t.shape));
    owned.insert(t.data());
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    descs.push_back(rt::MemRefDescriptor::forBuffer(
        const_cast<void *>(weights[i]), sig.weights[i].shape));
    owned.insert(weights[i]);
  }
  size_t resultWords = 0;
  for (const auto &r : sig.results)
    resultWords += 3 + 2 * r.shape.size();
  std::vector<uint64_t> results(resultWords + 1, 0);

  std::vector<void *> params;
  params.push_back(results.data());
  for (auto &d : descs)
    params.push_back(d.data());
  std::vector<void *> packed;
  for (void *&p : params)
    packed.push_back(&p);
  entry_(packed.data());
  int64_t badIndex, tableSize;
  bool outOfRange = rt::takeIndexOutOfRange(badIndex, tableSize);

  outputs.clear();
  std::set<void *> freed;
  size_t word = 0;
  for (const auto &r : sig.results) {
    int64_t rank = r.shape.size();
    rt::MemRefDescriptor d(rank);
    std::memcpy(d.data(), results.data() + word, 8 * (3 + 2 * rank));
    word += 3 + 2 * rank;
    std::vector<int64_t> shape(rank);
    for (int64_t k = 0; k < rank; ++k)
      shape[k] = d.size(k);
    rt::Tensor t(r.dtype, shape);
    copyOut(d, t);
    outputs.push_back(std::move(t));
    if (d.allocated() && !owned.count(d.allocated()) &&
        freed.insert(d.allocated()).second)
      std::free(d.allocated());
  }
  if (outOfRange) {
    outputs.clear();
    return rt::Status::error(
        "index " + std::to_string(badIndex) + " read from a table of " +
        std::to_string(tableSize) +
        " entries (a token id outside the vocabulary, or a position past the "
        "model's context); results discarded");
  }
  return {};
}
