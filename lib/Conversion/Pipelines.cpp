//===- Pipelines.cpp - from actsparse to the LLVM dialect -----------------===//
//
// The lowering pipeline shared by sparse-opt (to inspect or emit code) and
// sparse-run (to JIT): one builder function, so both compile identically.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::actsparse::markNoInline(func::FuncOp f) {
  Builder b(f.getContext());
  f->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
}

void mlir::actsparse::buildLowerToLLVMPipeline(OpPassManager &pm) {
  buildLowerToTensorsPipeline(pm);
  buildTensorsToLLVMPipeline(pm);
}

void mlir::actsparse::buildLowerToTensorsPipeline(OpPassManager &pm) {
  buildGraphCleanupPipeline(pm);
  pm.addPass(createKvCacheInPlace());
  pm.addPass(createGroupQueryAttention());
  pm.addPass(createLowerToLinalg());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // After CSE, which shares equal producers between consumers.
  pm.addPass(createFuseElementwise());
}

void mlir::actsparse::buildTensorsToLLVMPipeline(OpPassManager &pm) {
  // After CSE, before bufferization: one init per destination.
  pm.addPass(createUnshareDestinations());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Upstream's buffer deallocation pipeline
  // (bufferization::buildBufferDeallocationPipeline), with the block-end
  // deallocs split in linear time before its pairwise simplification.
  pm.addPass(memref::createExpandReallocPass({/*emitDeallocs=*/false}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createSplitDeallocs());
  pm.addPass(bufferization::createBufferDeallocationSimplificationPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  // Results that alias an argument or a constant are returned as
  // bufferization.clone: allocation + copy.
  pm.addPass(createConvertBufferizationToMemRefPass());
  // Deallocation frees at the end of the block: free after the last use,
  // so a call holds only what is live (and the buffer pool reuses it).
  pm.addNestedPass<func::FuncOp>(createFreeAfterLastUse());
  // Linalg ops tagged with a runtime kernel become calls into the runtime.
  pm.addPass(createLowerLibraryCalls());
  // One function per distinct loop nest: LLVM's time grows faster than the
  // size of a function, and layers repeat the same ops.
  pm.addPass(createOutlineKernels());
  // Kernels whose leading loops are parallel run in chunks on the
  // runtime's threads (the calls become parallel-fors at the end).
  pm.addPass(createParallelKernels());
  // Then one function per layer: the glue between kernels repeats too.
  pm.addPass(createOutlineLayers());

  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  // Allocations go through the runtime (_mlir_memref_to_llvm_alloc), which
  // checks them: a failed one ends the call with an error instead of a
  // write through a null pointer.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createParallelKernelCalls());
}

void mlir::actsparse::registerLoweringPipelines() {
  PassPipelineRegistration<>(
      "actsparse-lower-to-llvm",
      "Lower imported actsparse IR to the LLVM dialect (clean-up, linalg, "
      "bufferization, loops, LLVM)",
      buildLowerToLLVMPipeline);
}

void mlir::actsparse::registerLoweringDialects(DialectRegistry &registry) {
  registry.insert<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, linalg::LinalgDialect, LLVM::LLVMDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  tensor::TensorDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
}
