//===- Passes.h - actsparse passes and pipelines ----------------*- C++ -*-===//
//
// Pass constructors and registration (generated from Passes.td), the
// populate functions behind them, and the pipeline builders that every tool
// shares.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TRANSFORMS_PASSES_H
#define ACTSPARSE_TRANSFORMS_PASSES_H

#include "actsparse/Dialect/ActSparseDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir {
class RewritePatternSet;

namespace actsparse {

#define GEN_PASS_DECL
#include "actsparse/Transforms/Passes.h.inc"

/// Patterns that replace decomposed GELU/SiLU arithmetic by named ops.
void populateRaiseActivationsPatterns(RewritePatternSet &patterns);

/// Clean-up after import: fold constants, name the activations, drop
/// duplicates. Every later actsparse pipeline starts with it.
void buildGraphCleanupPipeline(OpPassManager &pm);

/// Numbers the actsparse.ffn ops of every function in `root` in program
/// order (their `layer` attribute).
void numberFfnLayers(Operation *root);

/// Registers the named pipelines (`actsparse-graph-cleanup`, ...).
void registerActSparsePipelines();

#define GEN_PASS_REGISTRATION
#include "actsparse/Transforms/Passes.h.inc"

} // namespace actsparse
} // namespace mlir

#endif // ACTSPARSE_TRANSFORMS_PASSES_H
