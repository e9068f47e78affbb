//===- sparse-opt.cpp - the ActSparse compiler driver ---------------------===//
//
// Thin main over MlirOptMain: registers only the dialects and passes that
// ActSparse uses, so the tool stays small and fast to link.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::actsparse::ActSparseDialect, mlir::func::FuncDialect>();

  mlir::actsparse::registerActSparsePasses();
  mlir::actsparse::registerActSparsePipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "ActSparse compiler driver\n", registry));
}
