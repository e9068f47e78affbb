//===- Pipelines.cpp - named actsparse pipelines --------------------------===//
//
// Pipelines are plain builder functions so that sparse-opt, sparse-run and
// other compilers assemble exactly the same pass sequence.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::actsparse::buildGraphCleanupPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createRaiseActivations());
  pm.addPass(createCSEPass());
}

void mlir::actsparse::registerActSparsePipelines() {
  PassPipelineRegistration<>(
      "actsparse-graph-cleanup",
      "Fold constants, name decomposed activations and remove duplicates",
      buildGraphCleanupPipeline);
}
