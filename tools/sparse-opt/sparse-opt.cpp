//===- sparse-opt.cpp - the ActSparse compiler driver ---------------------===//
//
// An mlir-opt style driver over the ActSparse libraries. `.onnx` / `.onnxtxt`
// inputs are imported first (weights go to a weight pack beside the output),
// `.mlir` inputs are parsed; then the passes named on the command line run.
// Registers only the dialects and passes that ActSparse uses.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Execution/CompiledModel.h"
#include "actsparse/Import/OnnxImporter.h"
#include "actsparse/Transforms/Calibration.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "actsparse/Import/DeferTerminationSignals.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/ADT/ScopeExit.h"

#include <optional>

#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory importCategory("ONNX import options");
static cl::OptionCategory outputCategory("Native code output options");

static cl::opt<std::string> weightPackPath(
    "weight-pack",
    cl::desc("Where to write the weight pack of an imported ONNX model "
             "(default: the output path with extension .weights, or "
             "<input stem>.weights when writing to stdout)"),
    cl::value_desc("path"), cl::cat(importCategory));

static cl::opt<int64_t> inlineLimit(
    "inline-limit",
    cl::desc("Initializers with at most this many elements stay in the IR as "
             "actsparse.constant; larger ones go to the weight pack"),
    cl::init(16), cl::cat(importCategory));

static cl::opt<int64_t> maxNodes(
    "max-nodes",
    cl::desc("Refuse ONNX graphs with more nodes than this (a bound on the "
             "time and memory a hostile model can take)"),
    cl::init(200000), cl::cat(importCategory));

enum class EmitKind { MLIR, SharedLib };
static cl::opt<EmitKind> emit(
    "emit", cl::desc("What to write to the output file"),
    cl::values(clEnumValN(EmitKind::MLIR, "mlir", "MLIR text (default)"),
               clEnumValN(EmitKind::SharedLib, "shared-lib",
                          "a shared library of native code for this CPU "
                          "that sparse-run loads without compiling (after "
                          "the passes given, the whole lowering runs)")),
    cl::init(EmitKind::MLIR), cl::cat(outputCategory));

static cl::opt<unsigned> sharedLibOptLevel(
    "opt-level",
    cl::desc("LLVM optimisation level (0-3) of --emit=shared-lib (default "
             "3; 0 compiles about twice as fast, for code that runs "
             "briefly)"),
    cl::init(3), cl::cat(outputCategory));

static cl::list<std::string> bindInputs(
    "bind-input",
    cl::desc("Fix a graph input to the tensor in a TensorProto file (as "
             "ONNX's backend tests store inputs): it becomes a constant, no "
             "longer an argument. Repeatable"),
    cl::value_desc("name=file.pb"), cl::cat(importCategory));

static cl::opt<bool> listOps(
    "list-onnx-ops",
    cl::desc("Print the op types of an ONNX model's graph, one per line "
             "with its node count and whether ActSparse imports it, then "
             "exit (status 1 when some op is unsupported)"),
    cl::init(false), cl::cat(importCategory));

static cl::opt<bool> quiet("quiet",
                           cl::desc("No progress output while importing"),
                           cl::init(false), cl::cat(importCategory));

/// Chooses the pack path and how the IR refers to it.
static std::pair<std::string, std::string>
choosePackPath(StringRef input, StringRef output) {
  llvm::SmallString<256> pack;
  if (!weightPackPath.empty()) {
    pack = weightPackPath;
  } else if (output == "-") {
    pack = llvm::sys::path::stem(input);
    pack += ".weights";
  } else {
    pack = output;
    llvm::sys::path::replace_extension(pack, ".weights");
  }
  // Beside the IR file, the IR names the pack by file name only so the pair
  // can be moved together; anywhere else, by absolute path.
  llvm::SmallString<256> ref(pack);
  StringRef outDir = output == "-" ? "" : llvm::sys::path::parent_path(output);
  if (output != "-" && llvm::sys::path::parent_path(pack) == outDir)
    ref = llvm::sys::path::filename(pack);
  else
    llvm::sys::fs::make_absolute(ref);
  return {std::string(pack), std::string(ref)};
}

/// libLLVM registers hundreds of backend options (AMDGPU, Polly, ...) that
/// mean nothing to sparse-opt users. Everything registered before MLIR's own
/// options is hidden from --help unless it is ours; it still works, and
/// --help-hidden lists it.
static void hideUnrelatedLLVMOptions() {
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *opt = entry.second;
    StringRef name = entry.first;
    bool ours = llvm::is_contained(opt->Categories, &importCategory) ||
                llvm::is_contained(opt->Categories, &outputCategory);
    if (!ours && name != "help" && name != "version")
      opt->setHiddenFlag(cl::ReallyHidden);
  }
}

int main(int argc, char **argv) {
  hideUnrelatedLLVMOptions();
  // Calibration runs the model over its tokens (runtime/Abi.h says why).
  ::actsparse::runtime::keepTensorsInHeap();
  DialectRegistry registry;
  registry.insert<mlir::actsparse::ActSparseDialect, func::FuncDialect>();
  mlir::actsparse::registerActSparsePasses();
  mlir::actsparse::registerActSparsePipelines();
  mlir::actsparse::registerCalibrationPasses();
  mlir::actsparse::registerActSparseConversionPasses();
  mlir::actsparse::registerLoweringPipelines();
  mlir::actsparse::registerLoweringDialects(registry);
  registerCanonicalizerPass();
  registerCSEPass();
  registerSymbolDCEPass();

  auto [inputFile, outputFile] = registerAndParseCLIOptions(
      argc, argv,
      "ActSparse compiler driver\n\n"
      "Reads .mlir, or imports .onnx (binary, with external data) and "
      ".onnxtxt (ONNX text format),\nthen runs the passes named on the "
      "command line.\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();

  std::string error;
  if (listOps) {
    if (!mlir::actsparse::isOnnxPath(inputFile)) {
      llvm::errs() << "sparse-opt: --list-onnx-ops needs an .onnx or "
                      ".onnxtxt input\n";
      return 1;
    }
    MLIRContext context(registry);
    auto ops = mlir::actsparse::listOnnxOps(context, inputFile);
    if (failed(ops))
      return 1;
    bool all = true;
    for (const auto &use : *ops) {
      llvm::outs() << use.op << " " << use.nodes << " "
                   << (use.supported ? "supported" : "unsupported") << "\n";
      all &= use.supported;
    }
    return all ? 0 : 1;
  }
  if (!bindInputs.empty() && !mlir::actsparse::isOnnxPath(inputFile)) {
    llvm::errs() << "sparse-opt: --bind-input needs an .onnx or .onnxtxt "
                    "input\n";
    return 1;
  }
  if (sharedLibOptLevel > 3) {
    llvm::errs() << "sparse-opt: --opt-level must be 0-3\n";
    return 1;
  }
  if (sharedLibOptLevel.getNumOccurrences() && emit != EmitKind::SharedLib) {
    llvm::errs() << "sparse-opt: --opt-level applies to --emit=shared-lib "
                    "only\n";
    return 1;
  }
  if (emit == EmitKind::SharedLib && outputFile == "-") {
    llvm::errs() << "sparse-opt: --emit=shared-lib needs -o FILE\n";
    return 1;
  }
  // Outputs go to a temporary file next to the final one and are renamed
  // into place only when everything succeeded: an error, a full disk or an
  // interrupt (the temporary file is removed on SIGINT/SIGTERM) leaves the
  // previous output and pack as they were.
  // (Devices and pipes, such as -o /dev/null, are written directly.)
  std::optional<llvm::sys::fs::TempFile> temp;
  bool special = outputFile == "-" ||
                 (llvm::sys::fs::exists(outputFile) &&
                  !llvm::sys::fs::is_regular_file(outputFile));
  if (!special) {
    // TempFile::create registers the file for removal on a signal.
    mlir::actsparse::DeferTerminationSignals deferred;
    auto created = llvm::sys::fs::TempFile::create(
        outputFile + ".tmp-%%%%%%",
        llvm::sys::fs::all_read | llvm::sys::fs::owner_write);
    if (!created) {
      llvm::errs() << "sparse-opt: cannot write '" << outputFile
                   << "': " << llvm::toString(created.takeError()) << "\n";
      return 1;
    }
    temp.emplace(std::move(*created));
  }
  llvm::scope_exit discardTemp([&] {
    if (temp)
      llvm::consumeError(temp->discard());
  });
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::unique_ptr<::actsparse::runtime::WeightPackWriter> pack;
  if (mlir::actsparse::isOnnxPath(inputFile)) {
    auto [packPath, packRef] = choosePackPath(inputFile, special ? std::string("-") : outputFile);
    if (llvm::sys::path::filename(packPath) ==
            llvm::sys::path::filename(outputFile) &&
        llvm::sys::path::parent_path(packPath) ==
            llvm::sys::path::parent_path(outputFile)) {
      llvm::errs() << "sparse-opt: the weight pack would overwrite the "
                      "output file; choose another --weight-pack\n";
      return 1;
    }
    mlir::actsparse::OnnxImportOptions options;
    options.weightPackPath = packPath;
    options.weightPackReference = packRef;
    options.inlineElementLimit = inlineLimit;
    options.maxNodes = maxNodes;
    options.progress = !quiet;
    for (const std::string &b : bindInputs) {
      size_t eq = b.find('=');
      if (eq == std::string::npos || eq == 0) {
        llvm::errs() << "sparse-opt: --bind-input expects name=file.pb, got '"
                     << b << "'\n";
        return 1;
      }
      options.boundInputs.emplace_back(b.substr(0, eq), b.substr(eq + 1));
    }
    MLIRContext context(registry);
    ScopedDiagnosticHandler diagnostics(&context, [](Diagnostic &d) {
      mlir::actsparse::printImportDiagnostic(d, llvm::errs());
      return success();
    });
    auto imported = mlir::actsparse::importOnnxFile(context, inputFile, options);
    if (failed(imported))
      return 1;
    // Hand the module to MlirOptMain as text, with locations, so that the
    // pass pipeline, printing and diagnostics behave as for .mlir input.
    std::string text;
    llvm::raw_string_ostream os(text);
    imported->module->print(os, OpPrintingFlags().enableDebugInfo());
    buffer = llvm::MemoryBuffer::getMemBufferCopy(text, inputFile);
    pack = std::move(imported->pack);
    // Calibration reads the pack while it still has its temporary name.
    if (pack)
      mlir::actsparse::setWeightPackLocation(packRef, pack->temporaryPath());
  } else {
    buffer = openInputFile(inputFile, &error);
    if (!buffer) {
      llvm::errs() << "sparse-opt: " << error << "\n";
      return 1;
    }
  }

  if (emit == EmitKind::SharedLib) {
    // Run the requested passes, then compile the result.
    std::string text;
    llvm::raw_string_ostream os(text);
    config.outputSplitMarker("");
    if (failed(MlirOptMain(os, std::move(buffer), registry, config)))
      return 1;
    MLIRContext context(registry);
    auto module = parseSourceString<ModuleOp>(text, &context);
    if (!module)
      return 1;
    if (failed(mlir::actsparse::compileToSharedLibrary(
            *module, temp ? temp->TmpName : outputFile, error,
            sharedLibOptLevel))) {
      llvm::errs() << "sparse-opt: " << error << "\n";
      return 1;
    }
  } else if (!temp) {
    std::error_code ec;
    llvm::raw_fd_ostream os(outputFile, ec);
    if (ec) {
      llvm::errs() << "sparse-opt: cannot write '" << outputFile
                   << "': " << ec.message() << "\n";
      return 1;
    }
    if (failed(MlirOptMain(os, std::move(buffer), registry, config)))
      return 1;
  } else {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    if (failed(MlirOptMain(os, std::move(buffer), registry, config)))
      return 1;
    os.flush();
    if (os.has_error() || ::fsync(temp->FD) != 0) {
      std::error_code ec =
          os.has_error() ? os.error() : std::error_code(errno,
                                                        std::generic_category());
      os.clear_error();
      llvm::errs() << "sparse-opt: cannot write '" << outputFile
                   << "': " << ec.message() << "\n";
      return 1;
    }
  }
  // The pack first: the module names it, so a module must never be in place
  // without its pack.
  if (pack) {
    if (auto s = pack->commit(); !s) {
      llvm::errs() << "sparse-opt: " << s.message() << "\n";
      return 1;
    }
  }
  if (temp) {
    if (llvm::Error e = temp->keep(outputFile)) {
      llvm::errs() << "sparse-opt: cannot move the output into place at '"
                   << outputFile << "': " << llvm::toString(std::move(e))
                   << "\n";
      return 1;
    }
    temp.reset();
  }
  return 0;
}
