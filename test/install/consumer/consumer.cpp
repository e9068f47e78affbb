//===- consumer.cpp - a compiler that reuses the actsparse passes ---------===//
//
// Parses a module with an FFN chain, runs --actsparse-fuse-ffn and
// --actsparse-relufy through its own pass manager, checks the result
// through the dialect's C++ API and prints the module.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: actsparse-consumer input.mlir\n";
    return 2;
  }
  mlir::DialectRegistry registry;
  registry.insert<mlir::actsparse::ActSparseDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(argv[1], &context);
  if (!module)
    return 1;

  mlir::PassManager pm(&context);
  pm.addPass(mlir::actsparse::createFuseFfn());
  pm.addPass(mlir::actsparse::createRelufy());
  if (mlir::failed(pm.run(*module)))
    return 1;

  int relu = 0, other = 0;
  module->walk([&](mlir::actsparse::FfnOp ffn) {
    if (ffn.getActivation() == mlir::actsparse::Activation::relu)
      ++relu;
    else
      ++other;
  });
  llvm::errs() << "actsparse.ffn: " << relu << " with ReLU, " << other
               << " other\n";
  module->print(llvm::outs());
  return relu > 0 && other == 0 ? 0 : 1;
}
