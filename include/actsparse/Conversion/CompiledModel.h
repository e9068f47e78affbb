//===- CompiledModel.h - JIT-compiled actsparse models ----------*- C++ -*-===//
//
// Lowers an imported actsparse module to native code for the host CPU with
// MLIR's ExecutionEngine (ORC JIT) and calls it through the entry ABI of
// runtime/include/actsparse/runtime/Abi.h.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_CONVERSION_COMPILEDMODEL_H
#define ACTSPARSE_CONVERSION_COMPILEDMODEL_H

#include "actsparse/runtime/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir {
class ExecutionEngine;
namespace actsparse {

/// The entry point's parameters, read from @main after lowering to tensors.
struct ModelSignature {
  using Param = ::actsparse::runtime::TensorSpec;
  std::vector<Param> inputs, weights, results;
};

/// A JIT-compiled model. Weights are bound once (bindWeights); run() then
/// takes only the graph inputs, as the runtime's Executable interface says.
class CompiledModel : public ::actsparse::runtime::Executable {
public:
  ~CompiledModel() override;

  /// Lowers `module` (in place) and JIT-compiles it. On failure returns
  /// null and sets `error`; MLIR diagnostics go to the context's handler.
  static std::unique_ptr<CompiledModel> compile(ModuleOp module,
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
    return signature_.results;
  }

  /// Calls the model: shapes are checked against the signature; `outputs`
  /// receives copies of the results (generated code's buffers are freed).
  ::actsparse::runtime::Status
  run(const std::vector<const ::actsparse::runtime::Tensor *> &inputs,
      std::vector<::actsparse::runtime::Tensor> &outputs) override;

private:
  CompiledModel() = default;
  ModelSignature signature_;
  std::vector<const void *> weights_;
  std::unique_ptr<ExecutionEngine> engine_;
  void (*entry_)(void **) = nullptr;
};

} // namespace actsparse
} // namespace mlir

#endif // ACTSPARSE_CONVERSION_COMPILEDMODEL_H
