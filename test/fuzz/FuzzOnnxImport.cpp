//===- FuzzOnnxImport.cpp - ONNX bytes to actsparse IR --------------------===//
//
// The whole import path of sparse-opt: protobuf (or libonnx's text format,
// ACTSPARSE_FUZZ_SUFFIX=".onnxtxt"), the external-data rules, libonnx's
// checker and shape inference, the op handlers and the weight pack writer.
// A module the importer accepts must also pass the MLIR verifier.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Import/OnnxImporter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mlir;
  namespace fuzz = ::actsparse::fuzz;
  std::string path = fuzz::writeInput(data, size, ACTSPARSE_FUZZ_SUFFIX);
  DialectRegistry registry;
  registry.insert<mlir::actsparse::ActSparseDialect, func::FuncDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Errors are the expected outcome for most inputs; keep them quiet.
  ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });

  mlir::actsparse::OnnxImportOptions options;
  options.weightPackPath = fuzz::scratchDir() + "/model.pack";
  options.weightPackReference = "model.pack";
  options.progress = false;
  FailureOr<mlir::actsparse::OnnxImportResult> result =
      mlir::actsparse::importOnnxFile(context, path, options);
  if (failed(result))
    return 0;
  if (failed(verify(*result->module))) {
    std::fprintf(stderr, "the importer accepted a model and produced IR "
                         "that does not verify\n");
    std::abort();
  }
  return 0;
}
