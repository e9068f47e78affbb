//===- CompiledModel.cpp - JIT and ahead-of-time compiled models ----------===//
//
// Both paths share lowerForExecution (the pipeline, the entry wrapper and
// the embedded signature) and LLVM's O3 pipeline for the host CPU, so JIT
// and shared-library models compute the same numbers. Calls go through the
// runtime's invokeEntry (runtime/include/actsparse/runtime/Entry.h).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Execution/CompiledModel.h"
#include "actsparse/Execution/ObjectCache.h"
#include "actsparse/Conversion/Passes.h"
#include "actsparse/Transforms/Passes.h"
#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Quant.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/SystemLibraries.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Transforms/Scalar/DCE.h"
#include "llvm/Transforms/Scalar/EarlyCSE.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <optional>


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
  if (t.isInteger(16))
    return rt::DType::I16;
  if (t.isInteger(8))
    return rt::DType::I8;
  if (t.isInteger(1))
    return rt::DType::Bool;
  return std::nullopt;
}

/// The runtime type of an argument or result; `isUnsigned` (the
/// actsparse.unsigned attribute) turns a signless integer into u8 ... u64.
static FailureOr<rt::TensorSpec> specOf(Type type, StringRef name,
                                        bool isUnsigned, std::string &error) {
  auto t = dyn_cast<RankedTensorType>(type);
  std::optional<rt::DType> dt = t ? dtypeOf(t.getElementType()) : std::nullopt;
  if (dt && isUnsigned) {
    switch (*dt) {
    case rt::DType::I8: dt = rt::DType::U8; break;
    case rt::DType::I16: dt = rt::DType::U16; break;
    case rt::DType::I32: dt = rt::DType::U32; break;
    case rt::DType::I64: dt = rt::DType::U64; break;
    default: dt = std::nullopt;
    }
  }
  if (!dt) {
    error = "entry parameter '" + name.str() + "' has an unsupported type";
    return failure();
  }
  rt::TensorSpec p{name.str(), *dt, {}};
  for (int64_t d : t.getShape())
    p.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return p;
}

/// Adds `actsparse_entry(void **params)`, which calls `_mlir_ciface_main`
/// with params[0..n), and `actsparse_signature()` returning the signature.
static LogicalResult addEntryPoints(ModuleOp module, const std::string &sig,
                                    std::string &error) {
  MLIRContext *ctx = module.getContext();
  auto ciface = module.lookupSymbol<LLVM::LLVMFuncOp>(
      std::string(rt::kEntryPrefix) + rt::kGraphSymbol);
  if (!ciface) {
    error = "lowering produced no C interface for the graph";
    return failure();
  }
  // Only the wrapper is called from outside. The graph is one very large
  // function: inlining it into the wrappers made LLVM's InstCombine spend
  // 10x longer (40 s instead of 4 s for stories260K), for nothing.
  if (auto graph = module.lookupSymbol<LLVM::LLVMFuncOp>(rt::kGraphSymbol))
    graph.setNoInline(true);
  // The C interface wrapper loads every field of every descriptor and
  // passes them all to the graph: one call of thousands of arguments
  // (SmolLM2: 272 weights), whose stack stores LLVM's instruction
  // selection compares pairwise (6.6 of SmolLM2's 12 s of code
  // generation). It runs once per call of the model, so it is compiled
  // without optimization (0.5 s).
  ciface.setNoInline(true);
  ciface.setOptimizeNone(true);
  Location loc = module.getLoc();
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto voidTy = LLVM::LLVMVoidType::get(ctx);

  auto entry = LLVM::LLVMFuncOp::create(
      b, loc, rt::kEntrySymbol, LLVM::LLVMFunctionType::get(voidTy, {ptr}));
  {
    OpBuilder::InsertionGuard guard(b);
    Block *block = entry.addEntryBlock(b);
    b.setInsertionPointToStart(block);
    SmallVector<Value> args;
    for (unsigned i = 0; i < ciface.getNumArguments(); ++i) {
      Value slot = LLVM::GEPOp::create(b, loc, ptr, ptr, block->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      args.push_back(LLVM::LoadOp::create(b, loc, ptr, slot));
    }
    LLVM::CallOp::create(b, loc, ciface, args);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
  auto sigFn = LLVM::LLVMFuncOp::create(
      b, loc, rt::kSignatureSymbol, LLVM::LLVMFunctionType::get(ptr, {}));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(sigFn.addEntryBlock(b));
    Value text = LLVM::createGlobalString(
        loc, b, "actsparse_signature_text", StringRef(sig.c_str(), sig.size() + 1),
        LLVM::Linkage::Internal);
    LLVM::ReturnOp::create(b, loc, text);
  }
  return success();
}

/// The integer a scalar (or one-element) actsparse.constant holds.
static std::optional<int64_t> scalarConstant(Value v) {
  auto constant = v.getDefiningOp<ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto dense = dyn_cast<DenseIntElementsAttr>(constant.getValue());
  if (!dense || dense.getNumElements() != 1)
    return std::nullopt;
  return (*dense.begin()).getSExtValue();
}

/// The rows of the smallest table gathered (axis 0) by the `position_ids`
/// input, through casts, reshapes and the addition of a constant offset
/// (OPT's learned positions start at 2): the positions the model supports.
/// 0 when no gather reads `position_ids` (RoPE computed from the
/// positions, full-sequence graphs).
static int64_t inferContext(func::FuncOp main) {
  int64_t context = 0;
  main.walk([&](GatherOp gather) {
    if (gather.getAxis() != 0)
      return;
    Value indices = gather.getIndices();
    int64_t offset = 0;
    while (Operation *def = indices.getDefiningOp()) {
      if (isa<CastOp, ReshapeOp>(def)) {
        indices = def->getOperand(0);
        continue;
      }
      auto add = dyn_cast<AddOp>(def);
      if (!add)
        return;
      if (auto c = scalarConstant(add.getRhs())) {
        offset += *c;
        indices = add.getLhs();
      } else if (auto c = scalarConstant(add.getLhs())) {
        offset += *c;
        indices = add.getRhs();
      } else {
        return;
      }
    }
    auto arg = dyn_cast<BlockArgument>(indices);
    if (!arg || arg.getOwner() != &main.getBody().front())
      return;
    auto name = main.getArgAttrOfType<StringAttr>(
        arg.getArgNumber(), ActSparseDialect::getOnnxNameAttrName());
    auto table = dyn_cast<RankedTensorType>(gather.getData().getType());
    if (!name || name.getValue() != "position_ids" || !table ||
        table.isDynamicDim(0))
      return;
    int64_t rows = table.getDimSize(0) - offset;
    if (offset < 0 || rows <= 0)
      return;
    context = context ? std::min(context, rows) : rows;
  });
  return context;
}

LogicalResult mlir::actsparse::lowerForExecution(ModuleOp module,
                                                 ModelSignature &signature,
                                                 std::string &error) {
  MLIRContext *ctx = module.getContext();
  if (auto pack = module->getAttrOfType<StringAttr>(
          ActSparseDialect::getWeightPackAttrName()))
    signature.weightPack = pack.str();
  if (auto id = module->getAttrOfType<StringAttr>(
          ActSparseDialect::getWeightPackIdAttrName()))
    signature.weightPackId = id.str();
  if (auto graph = module.lookupSymbol<func::FuncOp>("main");
      graph && !graph.isExternal())
    signature.context = inferContext(graph);
  // The passes' output is verified once, at the end of each half, not
  // after every pass: verification between the passes was 45 % of the MLIR
  // lowering (stories260K with fused blocks: 0.52 s of lowering, 0.28 s
  // without). The lit tests run every pass under sparse-opt, which still
  // verifies after each.
  PassManager toTensors(ctx);
  toTensors.enableVerifier(false);
  buildLowerToTensorsPipeline(toTensors);
  if (failed(toTensors.run(module)) || failed(verify(module))) {
    error = "lowering to tensors failed";
    return failure();
  }
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main || main.isExternal()) {
    error = "the module has no runnable entry point (func.func @main)";
    return failure();
  }
  FunctionType fnType = main.getFunctionType();
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    auto weight = main.getArgAttrOfType<StringAttr>(
        i, ActSparseDialect::getWeightArgAttrName());
    auto name = main.getArgAttrOfType<StringAttr>(
        i, ActSparseDialect::getOnnxNameAttrName());
    StringRef label = weight ? weight.getValue()
                             : name ? name.getValue() : StringRef("");
    auto p = specOf(fnType.getInput(i), label,
                    bool(main.getArgAttr(
                        i, ActSparseDialect::getUnsignedAttrName())),
                    error);
    if (failed(p))
      return failure();
    if (auto n = main.getArgAttrOfType<IntegerAttr>(
            i, ActSparseDialect::getWeightPanelsArgAttrName()))
      p->panelColumns = n.getInt();
    p->panelsTransposed = bool(main.getArgAttr(
        i, ActSparseDialect::getWeightPanelsTransposedArgAttrName()));
    if (auto groups = main.getArgAttrOfType<DictionaryAttr>(
            i, ActSparseDialect::getWeightRowGroupsArgAttrName())) {
      auto rows = groups.getAs<IntegerAttr>("rows");
      auto kindName = groups.getAs<StringAttr>("kind");
      auto kind = kindName ? rt::parseQuantKind(kindName.getValue().str())
                           : std::nullopt;
      if (!rows || !kind) {
        error = "weight argument '" + p->name +
                "' has a malformed row-groups attribute";
        return failure();
      }
      p->groupRows = rows.getInt();
      p->groupKind = int64_t(*kind);
    }
    if (auto cache = main.getArgAttrOfType<DictionaryAttr>(
            i, ActSparseDialect::getKvCacheArgAttrName())) {
      rt::CacheSpec c;
      c.tensor = *p;
      auto past = cache.getAs<StringAttr>("past");
      auto axis = cache.getAs<IntegerAttr>("axis");
      for (size_t k = 0; past && k < signature.inputs.size(); ++k)
        if (signature.inputs[k].name == past.getValue())
          c.past = k;
      if (c.past < 0 || !axis) {
        error = "cache argument '" + p->name + "' names no past input";
        return failure();
      }
      c.axis = axis.getInt();
      signature.caches.push_back(c);
      continue;
    }
    (weight ? signature.weights : signature.inputs).push_back(*p);
  }
  for (unsigned i = 0; i < fnType.getNumResults(); ++i) {
    auto name = main.getResultAttrOfType<StringAttr>(
        i, ActSparseDialect::getOnnxNameAttrName());
    auto p = specOf(fnType.getResult(i), name ? name.getValue() : "",
                    bool(main.getResultAttr(
                        i, ActSparseDialect::getUnsignedAttrName())),
                    error);
    if (failed(p))
      return failure();
    signature.results.push_back(*p);
  }
  signature.deriveOutputs();
  // A shared library must not export `main`: ELF would bind its calls to
  // the executable's main. Give the graph a name of its own.
  main.setName(rt::kGraphSymbol);
  // The names are in the signature; LLVM has no use for them.
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    main.removeArgAttr(i, ActSparseDialect::getWeightArgAttrName());
    main.removeArgAttr(i, ActSparseDialect::getWeightPanelsArgAttrName());
    main.removeArgAttr(
        i, ActSparseDialect::getWeightPanelsTransposedArgAttrName());
    main.removeArgAttr(i, ActSparseDialect::getWeightRowGroupsArgAttrName());
    main.removeArgAttr(i, ActSparseDialect::getOnnxNameAttrName());
    main.removeArgAttr(i, ActSparseDialect::getKvCacheArgAttrName());
    main.removeArgAttr(i, ActSparseDialect::getUnsignedAttrName());
  }
  for (unsigned i = 0; i < fnType.getNumResults(); ++i) {
    main.removeResultAttr(
        i, StringAttr::get(ctx, ActSparseDialect::getOnnxNameAttrName()));
    main.removeResultAttr(
        i, StringAttr::get(ctx, ActSparseDialect::getUnsignedAttrName()));
  }

  PassManager toLLVM(ctx);
  toLLVM.enableVerifier(false);
  buildTensorsToLLVMPipeline(toLLVM);
  if (failed(toLLVM.run(module)) || failed(verify(module))) {
    error = "lowering to LLVM failed";
    return failure();
  }
  return addEntryPoints(module, signature.serialize(), error);
}

/// The host CPU target both paths compile for, generating code at the
/// level the IR was optimized at.
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
hostTargetMachine(bool pic, unsigned optLevel) {
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return builder.takeError();
  std::optional<llvm::CodeGenOptLevel> level =
      llvm::CodeGenOpt::getLevel(int(optLevel));
  builder->setCodeGenOptLevel(level ? *level
                                    : llvm::CodeGenOptLevel::Aggressive);
  if (pic)
    builder->setRelocationModel(llvm::Reloc::PIC_);
  return builder->createTargetMachine();
}

static void initLLVM(MLIRContext *ctx) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
}

static double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

/// glibc's vector math library, which vectorized generated code calls.
static constexpr const char *kVectorMath = "libmvec.so.1";

/// LLVM's default pipeline at `optLevel`, with this CPU's cost model for
/// the outlined loop nests (OutlineKernels), so that the loop and SLP
/// vectorizers widen them to its vectors (norms, RoPE, activations,
/// scaling), and with glibc's vector math library, so that exp, sin and
/// cos in those loops are vectorized too. SiLU's exp was a scalar libm call
/// per element, 6 % of SmolLM2's prefill.
///
/// Two choices keep the compile fast (stories260K: 1.6 s, against 1.9 s
/// for the unvectorized pipeline and 4.0 s for LLVM's defaults):
///  - the graph and layer functions keep the generic cost model: they are
///    calls and buffer bookkeeping, and their size is what code generation
///    pays for;
///  - no unrolling and no interleaving of vectorized loops: they tripled
///    the code the vectorizer emits (code generation 0.7 s -> 2.4 s) for
///    loops bound by memory or by the libmvec call.
///
/// At level 0 only the memref descriptors' bookkeeping is cleaned up:
/// every call of a kernel or layer takes descriptors apart (extractvalue)
/// and builds them again (insertvalue), which LLVM's fast instruction
/// selector does not handle, so such blocks fell back to the slow one.
/// EarlyCSE folds most of them and DCE drops the rest: on a stories260K
/// fixture (8 interleaved compiles each) code generation 0.185 -> 0.158 s
/// for 0.010 s of the two passes.
static llvm::Error optimize(llvm::Module &module, llvm::TargetMachine *tm,
                            unsigned optLevel) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  tuning.LoopInterleaving = false;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder pb(tm, tuning);
  llvm::TargetLibraryInfoImpl libraryInfo(module.getTargetTriple());
  libraryInfo.addVectorizableFunctionsFromVecLib(llvm::VectorLibrary::LIBMVEC,
                                                 module.getTargetTriple());
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(libraryInfo); });
  fam.registerPass([&] {
    return llvm::TargetIRAnalysis([tm](const llvm::Function &f) {
      if (f.getName().starts_with(rt::kKernelPrefix))
        return tm->getTargetTransformInfo(f);
      return llvm::TargetTransformInfo(f.getDataLayout());
    });
  });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  if (optLevel == 0) {
    llvm::ModulePassManager mpm =
        pb.buildO0DefaultPipeline(llvm::OptimizationLevel::O0);
    llvm::FunctionPassManager cleanup;
    cleanup.addPass(llvm::EarlyCSEPass());
    cleanup.addPass(llvm::DCEPass());
    mpm.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(cleanup)));
    mpm.run(module, mam);
    return llvm::Error::success();
  }
  llvm::OptimizationLevel level = optLevel == 1   ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  pb.buildPerModuleDefaultPipeline(level).run(module, mam);
  return llvm::Error::success();
}

/// Lowered module -> optimized native object code for this CPU. Both the
/// JIT and shared libraries use exactly this object code, so they compute
/// bit-identical results.
static std::unique_ptr<llvm::MemoryBuffer>
compileToObject(ModuleOp module, std::string &error, unsigned optLevel = 3,
                CompileReport *report = nullptr) {
  initLLVM(module.getContext());
  auto tm = hostTargetMachine(/*pic=*/true, optLevel);
  if (!tm) {
    error = "no target for this CPU: " + llvm::toString(tm.takeError());
    return nullptr;
  }
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return nullptr;
  }
  llvmModule->setDataLayout((*tm)->createDataLayout());
  llvmModule->setTargetTriple((*tm)->getTargetTriple());
  auto start = std::chrono::steady_clock::now();
  if (llvm::Error e = optimize(*llvmModule, tm->get(), optLevel)) {
    error = "LLVM optimization failed: " + llvm::toString(std::move(e));
    return nullptr;
  }
  if (report)
    report->optimizationSeconds = secondsSince(start);
  start = std::chrono::steady_clock::now();
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager pm;
  if ((*tm)->addPassesToEmitFile(pm, os, nullptr,
                                 llvm::CodeGenFileType::ObjectFile)) {
    error = "this target cannot emit object files";
    return nullptr;
  }
  pm.run(*llvmModule);
  if (report)
    report->codegenSeconds = secondsSince(start);
  return llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(object.data(), object.size()), "actsparse-model.o");
}

/// Imported module (lowered in place) -> object code. The signature the
/// lowering computes is embedded in the object, where every loader reads it.
static std::unique_ptr<llvm::MemoryBuffer>
lowerAndCompile(ModuleOp module, unsigned optLevel, std::string &error,
                CompileReport *report = nullptr) {
  ModelSignature signature;
  auto start = std::chrono::steady_clock::now();
  if (failed(lowerForExecution(module, signature, error)))
    return nullptr;
  if (report)
    report->loweringSeconds = secondsSince(start);
  return compileToObject(module, error, optLevel, report);
}

std::unique_ptr<CompiledModel> CompiledModel::compile(ModuleOp module,
                                                      std::string &error,
                                                      unsigned optLevel) {
  std::unique_ptr<llvm::MemoryBuffer> object =
      lowerAndCompile(module, optLevel, error);
  if (!object)
    return nullptr;
  return fromObject(std::move(object), error);
}

std::unique_ptr<CompiledModel>
CompiledModel::compileFile(StringRef path, MLIRContext &context,
                           const CompileOptions &options,
                           CompileReport &report, std::string &error) {
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (!file) {
    error = "cannot read '" + path.str() + "': " + file.getError().message();
    return nullptr;
  }
  return compileBuffer(std::move(*file), context, options, report, error);
}

std::unique_ptr<CompiledModel> CompiledModel::compileBuffer(
    std::unique_ptr<llvm::MemoryBuffer> file, MLIRContext &context,
    const CompileOptions &options, CompileReport &report, std::string &error) {
  auto start = std::chrono::steady_clock::now();
  auto done = [&](std::unique_ptr<CompiledModel> model) {
    report.seconds = secondsSince(start);
    return model;
  };
  std::string path = file->getBufferIdentifier().str();
  // The graph passes the options add, run on the parsed IR below; the
  // cache key names them as their pipeline prints.
  PassManager graphPasses(&context);
  if (options.lastPositionLogits)
    graphPasses.addPass(createLastPositionLogits());
  std::string pipeline;
  if (graphPasses.size() != 0) {
    llvm::raw_string_ostream os(pipeline);
    graphPasses.printAsTextualPipeline(os);
  }
  std::optional<ObjectCache> cache;
  std::string key;
  if (!options.cacheDirectory.empty()) {
    cache.emplace(options.cacheDirectory);
    key = ObjectCache::key(file->getBuffer(), options.optLevel, pipeline);
    report.cacheEntry = cache->pathOf(key);
    if (auto object = cache->lookup(key, report.warning)) {
      std::string loadError;
      if (auto model = fromObject(std::move(object), loadError)) {
        report.cacheHit = true;
        return done(std::move(model));
      }
      // A checksummed entry that does not load was written by something
      // else under our name: compile, and replace it.
      report.warning = "cached object '" + report.cacheEntry +
                       "' does not load (" + loadError + "); compiling again";
    }
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module) {
    error = "cannot load model '" + path + "'";
    return nullptr;
  }
  if (failed(graphPasses.run(*module))) {
    error = "the graph passes (" + pipeline + ") failed";
    return nullptr;
  }
  std::unique_ptr<llvm::MemoryBuffer> object =
      lowerAndCompile(*module, options.optLevel, error, &report);
  if (!object)
    return nullptr;
  if (cache && !cache->store(key, object->getBuffer(), report.warning))
    report.cacheEntry.clear();
  return done(fromObject(std::move(object), error));
}

std::unique_ptr<CompiledModel>
CompiledModel::fromObject(std::unique_ptr<llvm::MemoryBuffer> object,
                          std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  auto fail = [&](llvm::Error e) {
    error = "JIT: " + llvm::toString(std::move(e));
    return nullptr;
  };
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return fail(jit.takeError());
  // Generated code calls malloc/free, libm, libmvec (vectorized exp),
  // memrefCopy (MLIR's C runner utilities) and the runtime functions of
  // Abi.h.
  for (const char *library : {ACTSPARSE_MLIR_C_RUNNER_UTILS, kVectorMath}) {
    std::string loadError;
    if (llvm::sys::DynamicLibrary::LoadLibraryPermanently(library,
                                                          &loadError)) {
      error = "cannot load " + std::string(library) + ": " + loadError;
      return nullptr;
    }
  }
  llvm::orc::JITDylib &dylib = (*jit)->getMainJITDylib();
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    return fail(process.takeError());
  dylib.addGenerator(std::move(*process));
  llvm::orc::MangleAndInterner mangle((*jit)->getExecutionSession(),
                                      (*jit)->getDataLayout());
  // The runtime ABI (Abi.h) that generated code calls.
  const std::pair<const char *, llvm::orc::ExecutorAddr> abi[] = {
      {rt::kIndexOutOfRangeSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_index_out_of_range)},
      {rt::kShapeMismatchSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_shape_mismatch)},
      {rt::kInvalidReshapeSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_invalid_reshape)},
      {rt::kKvCacheMismatchSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_kv_cache_mismatch)},
      {rt::kAllocSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&_mlir_memref_to_llvm_alloc)},
      {rt::kAlignedAllocSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&_mlir_memref_to_llvm_aligned_alloc)},
      {rt::kFreeSymbol,
       llvm::orc::ExecutorAddr::fromPtr(&_mlir_memref_to_llvm_free)},
      {rt::kMatMulSymbol, llvm::orc::ExecutorAddr::fromPtr(
                              &_mlir_ciface_actsparse_rt_matmul_f32)},
      {rt::kMatMulNtSymbol, llvm::orc::ExecutorAddr::fromPtr(
                                &_mlir_ciface_actsparse_rt_matmul_nt_f32)},
      {rt::kMatMulPanelsSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_matmul_panels_f32)},
      {rt::kParallelForFunction,
       llvm::orc::ExecutorAddr::fromPtr(&actsparse_rt_parallel_for)},
      {rt::kMatMulSetSymbol, llvm::orc::ExecutorAddr::fromPtr(
                                 &_mlir_ciface_actsparse_rt_matmul_set_f32)},
      {rt::kMatMulNtSetSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_matmul_nt_set_f32)},
      {rt::kMatMulPanelsSetSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_matmul_panels_set_f32)},
      {rt::kQuantMatMulSymbol, llvm::orc::ExecutorAddr::fromPtr(
                                   &_mlir_ciface_actsparse_rt_matmul_q_f32)},
      {rt::kQuantMatMulGroupsSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_matmul_q_groups_f32)},
      {rt::kSoftmaxSymbol, llvm::orc::ExecutorAddr::fromPtr(
                               &_mlir_ciface_actsparse_rt_softmax_f32)},
      {rt::kBatchMatMulSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_batch_matmul_f32)},
      {rt::kBatchMatMulNtSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_batch_matmul_nt_f32)},
      {rt::kBatchMatMulSetSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_batch_matmul_set_f32)},
      {rt::kBatchMatMulNtSetSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_batch_matmul_nt_set_f32)},
      {rt::kFfnProbeSymbol, llvm::orc::ExecutorAddr::fromPtr(
                                &_mlir_ciface_actsparse_rt_ffn_probe)},
      {rt::kSparseFfnSymbol, llvm::orc::ExecutorAddr::fromPtr(
                                 &_mlir_ciface_actsparse_rt_sparse_ffn_f32)},
      {rt::kSparseFfnQuantSymbol,
       llvm::orc::ExecutorAddr::fromPtr(
           &_mlir_ciface_actsparse_rt_sparse_ffn_q_f32)},
  };
  llvm::orc::SymbolMap runtime;
  for (const auto &[name, addr] : abi)
    runtime[mangle(name)] = {addr, llvm::JITSymbolFlags::Exported};
  if (llvm::Error e = dylib.define(llvm::orc::absoluteSymbols(runtime)))
    return fail(std::move(e));
  if (llvm::Error e = (*jit)->addObjectFile(std::move(object)))
    return fail(std::move(e));
  auto entry = (*jit)->lookup(rt::kEntrySymbol);
  if (!entry)
    return fail(entry.takeError());
  auto signatureFn = (*jit)->lookup(rt::kSignatureSymbol);
  if (!signatureFn)
    return fail(signatureFn.takeError());
  rt::Status parsed = ModelSignature::parse(
      signatureFn->toPtr<const char *(*)()>()(), model->signature_);
  if (!parsed) {
    error = parsed.message();
    return nullptr;
  }
  model->entry_ = entry->toPtr<rt::EntryFn>();
  model->jit_ = std::move(*jit);
  return model;
}

LogicalResult mlir::actsparse::compileToSharedLibrary(ModuleOp module,
                                                      StringRef path,
                                                      std::string &error,
                                                      unsigned optLevel) {
  std::unique_ptr<llvm::MemoryBuffer> object =
      lowerAndCompile(module, optLevel, error);
  if (!object)
    return failure();
  // The object, then a shared library linked by the system compiler driver.
  llvm::SmallString<128> objectPath;
  if (llvm::sys::fs::createTemporaryFile("actsparse-model", "o", objectPath)) {
    error = "cannot create a temporary object file";
    return failure();
  }
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove(objectPath); });
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(objectPath, ec);
    if (ec) {
      error = "cannot write '" + objectPath.str().str() + "': " + ec.message();
      return failure();
    }
    out << object->getBuffer();
    out.close();
    if (out.has_error()) {
      // Checked here: an unchecked stream error aborts in its destructor.
      error = "cannot write '" + objectPath.str().str() +
              "': " + out.error().message();
      out.clear_error();
      return failure();
    }
  }
  auto cxx = llvm::sys::findProgramByName("c++");
  if (!cxx) {
    error = "no C++ compiler driver (c++) to link the shared library";
    return failure();
  }
  std::string libDir =
      llvm::sys::path::parent_path(ACTSPARSE_MLIR_C_RUNNER_UTILS).str();
  std::string rpath = "-Wl,-rpath," + libDir;
  std::string libPath = "-L" + libDir;
  SmallVector<StringRef> args = {*cxx,    "-shared", "-Wl,-Bsymbolic",
                                 "-o",    path,      objectPath,
                                 libPath, "-lmlir_c_runner_utils", "-lmvec",
                                 rpath};
  std::string linkError;
  if (llvm::sys::ExecuteAndWait(*cxx, args, std::nullopt, {}, 0, 0,
                                &linkError) != 0) {
    error = "linking '" + path.str() + "' failed" +
            (linkError.empty() ? "" : ": " + linkError);
    return failure();
  }
  return success();
}
