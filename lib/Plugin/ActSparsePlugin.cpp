//===- ActSparsePlugin.cpp - actsparse as an mlir-opt plugin --------------===//
//
// One shared module that upstream mlir-opt loads both ways:
//
//   mlir-opt --load-dialect-plugin=ActSparsePlugin.so    (the dialect)
//   mlir-opt --load-pass-plugin=ActSparsePlugin.so       (passes, pipelines)
//
// A single file serves both so that the dialect's TypeID exists once in the
// process however the plugin is loaded. Only graph and lowering passes are
// here: calibration runs the model and needs the runtime, so it stays in
// sparse-opt.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

using namespace mlir;

extern "C" LLVM_ATTRIBUTE_WEAK DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "ActSparse", LLVM_VERSION_STRING,
          [](DialectRegistry *registry) {
            registry->insert<actsparse::ActSparseDialect>();
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "ActSparse", LLVM_VERSION_STRING, []() {
            actsparse::registerActSparsePasses();
            actsparse::registerActSparsePipelines();
            actsparse::registerActSparseConversionPasses();
            actsparse::registerLoweringPipelines();
          }};
}
