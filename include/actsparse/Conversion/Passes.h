//===- Passes.h - actsparse lowering passes and pipelines -------*- C++ -*-===//
//
// The lowering passes (generated from Passes.td), their patterns, and the
// pipeline that takes imported IR all the way to the LLVM dialect.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_CONVERSION_PASSES_H
#define ACTSPARSE_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir {
class DialectRegistry;
class RewritePatternSet;
namespace arith {
class ArithDialect;
}
namespace linalg {
class LinalgDialect;
}
namespace math {
class MathDialect;
}
namespace tensor {
class TensorDialect;
}
namespace scf {
class SCFDialect;
}
namespace memref {
class MemRefDialect;
}
namespace func {
class FuncDialect;
class FuncOp;
}
namespace LLVM {
class LLVMDialect;
}

namespace actsparse {

#define GEN_PASS_DECL
#include "actsparse/Conversion/Passes.h.inc"

/// Asks LLVM not to inline `f` (a `passthrough = ["noinline"]` that the
/// lowering to the LLVM dialect keeps): the outlined kernels and layers are
/// compiled once each, out of the graph function.
void markNoInline(func::FuncOp f);

/// actsparse graph ops -> linalg / tensor / arith / math on tensors.
void populateActSparseToLinalgPatterns(RewritePatternSet &patterns);

/// Imported actsparse IR -> LLVM dialect ready for translation: the two
/// halves below, in order.
void buildLowerToLLVMPipeline(OpPassManager &pm);
/// First half: clean-up and lowering to tensor-level upstream IR (after it,
/// @main has its final signature: inputs, then tagged weight arguments).
void buildLowerToTensorsPipeline(OpPassManager &pm);
/// Second half: one-shot bufferization with buffer deallocation, loops, and
/// the conversions to the LLVM dialect.
void buildTensorsToLLVMPipeline(OpPassManager &pm);

/// Registers `actsparse-lower-to-llvm` and the dialect extensions
/// (bufferization models) its passes need.
void registerLoweringPipelines();
void registerLoweringDialects(DialectRegistry &registry);

#define GEN_PASS_REGISTRATION
#include "actsparse/Conversion/Passes.h.inc"

} // namespace actsparse
} // namespace mlir

#endif // ACTSPARSE_CONVERSION_PASSES_H
