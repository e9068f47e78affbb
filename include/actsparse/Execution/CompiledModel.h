//===- CompiledModel.h - JIT and ahead-of-time compiled models --*- C++ -*-===//
//
// Lowers an imported actsparse module to native code for the host CPU and
// either loads it into an ORC JIT (CompiledModel) or links it into a shared
// library (compileToSharedLibrary). Both use the same object code. Calls go
// through the entry ABI of runtime/include/actsparse/runtime/Abi.h.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_EXECUTION_COMPILEDMODEL_H
#define ACTSPARSE_EXECUTION_COMPILEDMODEL_H

#include "actsparse/runtime/Entry.h"
#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class MemoryBuffer;
namespace orc {
class LLJIT;
}
} // namespace llvm

namespace mlir {
class MLIRContext;
namespace actsparse {

using ModelSignature = ::actsparse::runtime::EntrySignature;

/// Lowers an imported module (in place) to the LLVM dialect, adding the
/// entry wrapper `actsparse_entry` and the embedded signature
/// `actsparse_signature` (runtime/include/actsparse/runtime/Entry.h).
LogicalResult lowerForExecution(ModuleOp module, ModelSignature &signature,
                                std::string &error);

/// Compiles an imported module ahead of time into a shared library for this
/// CPU, which sparse-run loads without MLIR (SharedLibraryModel). Uses the
/// same lowering and LLVM optimization as the JIT; `optLevel` is LLVM's
/// (0-3), as for CompiledModel::compile.
LogicalResult compileToSharedLibrary(ModuleOp module, StringRef path,
                                     std::string &error,
                                     unsigned optLevel = 3);

/// How CompiledModel::compileFile compiles.
struct CompileOptions {
  /// LLVM's optimisation level (0-3).
  unsigned optLevel = 3;
  /// The object cache (ObjectCache.h) to look in and fill; empty: none.
  std::string cacheDirectory;
  /// Run --actsparse-last-position-logits first: `logits` of the last
  /// position only, all that generation reads.
  bool lastPositionLogits = false;
};

/// What CompiledModel::compileFile did, for the user.
struct CompileReport {
  bool cacheHit = false;
  /// Wall time from reading the IR to a callable model.
  double seconds = 0;
  /// Of which, when compiled: the MLIR lowering, LLVM's optimization and
  /// its code generation.
  double loweringSeconds = 0, optimizationSeconds = 0, codegenSeconds = 0;
  /// The cache entry loaded or written; empty without a cache.
  std::string cacheEntry;
  /// A cache problem (unreadable, damaged or unwritable entry). The model
  /// was still compiled; the cache was just not used.
  std::string warning;
};

/// A JIT-compiled model. Weights are bound once (bindWeights); run() then
/// takes only the graph inputs, as the runtime's Executable interface says.
class CompiledModel : public ::actsparse::runtime::Executable {
public:
  ~CompiledModel() override;

  /// Lowers `module` (in place) and JIT-compiles it. On failure returns
  /// null and sets `error`; MLIR diagnostics go to the context's handler.
  /// `optLevel` is LLVM's (0-3): 3 for serving, lower when the code runs
  /// only briefly (calibration) and compile time dominates.
  static std::unique_ptr<CompiledModel> compile(ModuleOp module,
                                                std::string &error,
                                                unsigned optLevel = 3);

  /// Reads IR from `path` and compiles it, or, when `options` names an
  /// object cache holding code for this IR, these options, this CPU and
  /// this compiler, loads that code instead (without parsing the IR).
  /// Parse errors go to `context`'s diagnostics, located in the file.
  static std::unique_ptr<CompiledModel>
  compileFile(StringRef path, MLIRContext &context,
              const CompileOptions &options, CompileReport &report,
              std::string &error);
  /// The same for IR text already in memory (its buffer identifier names
  /// it in messages): calibration compiles the models it records through
  /// the object cache this way.
  static std::unique_ptr<CompiledModel>
  compileBuffer(std::unique_ptr<llvm::MemoryBuffer> ir, MLIRContext &context,
                const CompileOptions &options, CompileReport &report,
                std::string &error);

  const ModelSignature &signature() const { return signature_; }

  /// Binds the weight buffers, in signature().weights order; they must stay
  /// alive while the model runs.
  void bindWeights(std::vector<const void *> weights) {
    weights_ = std::move(weights);
  }

  const std::vector<::actsparse::runtime::TensorSpec> &
  inputSpecs() const override {
    return signature_.inputs;
  }
  const std::vector<::actsparse::runtime::TensorSpec> &
  outputSpecs() const override {
    return signature_.outputs;
  }
  const std::vector<::actsparse::runtime::CacheSpec> &
  cacheSpecs() const override {
    return signature_.caches;
  }

  /// Calls the model: shapes are checked against the signature; `outputs`
  /// receives copies of the results (generated code's buffers are freed).
  ::actsparse::runtime::Status
  run(const std::vector<const ::actsparse::runtime::Tensor *> &inputs,
      std::vector<::actsparse::runtime::Tensor> &outputs) override {
    return ::actsparse::runtime::invokeEntry(entry_, signature_, inputs,
                                             nullptr, weights_, outputs);
  }
  ::actsparse::runtime::Status
  runWithCaches(const std::vector<const ::actsparse::runtime::Tensor *> &inputs,
                const std::vector<::actsparse::runtime::CacheView> &caches,
                std::vector<::actsparse::runtime::Tensor> &outputs) override {
    return ::actsparse::runtime::invokeEntry(entry_, signature_, inputs,
                                             &caches, weights_, outputs);
  }

private:
  CompiledModel() = default;
  /// Loads object code made by compileToObject into a new JIT; the
  /// signature is the one embedded in the object.
  static std::unique_ptr<CompiledModel>
  fromObject(std::unique_ptr<llvm::MemoryBuffer> object, std::string &error);

  ModelSignature signature_;
  std::vector<const void *> weights_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  ::actsparse::runtime::EntryFn entry_ = nullptr;
};

} // namespace actsparse
} // namespace mlir

#endif // ACTSPARSE_EXECUTION_COMPILEDMODEL_H
