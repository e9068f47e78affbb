//===- OnnxImporter.h - ONNX to actsparse -----------------------*- C++ -*-===//
//
// Imports an ONNX model (binary protobuf with optional external data, or
// libonnx's text format) into a builtin.module holding one func.func @main in
// the actsparse dialect. Initializers above a small size go to a weight pack
// instead of the IR; the module records which pack it needs.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_IMPORT_ONNXIMPORTER_H
#define ACTSPARSE_IMPORT_ONNXIMPORTER_H

#include "actsparse/runtime/WeightPack.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include <memory>
#include <utility>
#include <string>
#include <vector>

namespace mlir::actsparse {

struct OnnxImportOptions {
  /// Where the weight pack is written (finished, not yet committed).
  std::string weightPackPath;
  /// How the IR names the pack (ActSparseDialect::getWeightPackAttrName()):
  /// relative to the IR file's directory, or absolute.
  std::string weightPackReference;
  /// Initializers with at most this many elements stay in the IR as
  /// actsparse.constant; larger ones go to the weight pack.
  int64_t inlineElementLimit = 16;
  /// Graphs with more nodes are refused before the checker runs. The
  /// largest decoder exports have tens of thousands (SmolLM2: 7,546).
  int64_t maxNodes = 200000;
  /// Print progress to stderr while writing weights of large models.
  bool progress = true;
  /// Graph inputs fixed to a constant: name and a TensorProto file (as
  /// ONNX's backend tests store inputs). The input leaves the function's
  /// arguments and becomes a constant, so that ops needing constant
  /// operands (Unsqueeze axes, Tile repeats, ...) can read it.
  std::vector<std::pair<std::string, std::string>> boundInputs;
};

struct OnnxImportResult {
  OwningOpRef<ModuleOp> module;
  /// The finished pack under a temporary name: commit() it once the module
  /// has been written, or drop it to leave nothing behind.
  std::unique_ptr<::actsparse::runtime::WeightPackWriter> pack;
};

/// True for paths sparse-opt should import rather than parse as MLIR:
/// `.onnx` (binary) and `.onnxtxt` (text format).
bool isOnnxPath(StringRef path);

/// Imports the model at `path`. Errors are reported through the context's
/// diagnostic handler, located at the offending node where there is one.
FailureOr<OnnxImportResult> importOnnxFile(MLIRContext &context,
                                           StringRef path,
                                           const OnnxImportOptions &options);

/// Prints an import diagnostic as the tools report them: the input usually
/// is a binary protobuf, so the message names the file and the ONNX node
/// (`model.onnx: node 'Add_3': error: ...`), not a text position.
void printImportDiagnostic(Diagnostic &diagnostic, llvm::raw_ostream &os);

/// One op type of a model's graph.
struct OnnxOpUse {
  std::string op;     ///< "Add"; other domains as "com.microsoft.Attention"
  int64_t nodes = 0;  ///< nodes of this type in the main graph
  bool supported = false; ///< the importer has a handler for the type (a
                          ///< node can still be refused for its attributes
                          ///< or element types)
};

/// The op types of the model at `path`, in order of first use, without
/// checking or importing it. Errors (an unreadable or damaged file) are
/// reported through the context's diagnostic handler.
FailureOr<std::vector<OnnxOpUse>> listOnnxOps(MLIRContext &context,
                                              StringRef path);

} // namespace mlir::actsparse

#endif // ACTSPARSE_IMPORT_ONNXIMPORTER_H
