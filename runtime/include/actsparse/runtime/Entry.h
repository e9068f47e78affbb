//===- Entry.h - calling a lowered model through the entry ABI --*- C++ -*-===//
//
// What JIT-compiled and ahead-of-time compiled models share: the signature
// (names, types and shapes of inputs, weights and results, also embedded as
// text in shared libraries) and the call through `actsparse_entry` (see
// Abi.h), including result copy-out and freeing.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_ENTRY_H
#define ACTSPARSE_RUNTIME_ENTRY_H

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace actsparse::runtime {

struct EntrySignature {
  std::vector<TensorSpec> inputs, weights, results;
  /// In-place KV caches: parameters after the inputs, before the weights.
  std::vector<CacheSpec> caches;
  /// What the graph outputs: the results, then the caches' tensors.
  std::vector<TensorSpec> outputs;
  std::string weightPack, weightPackId; ///< as the IR named them
  /// Positions the model supports, read from the graph (the rows of the
  /// table `position_ids` index: learned positions or a RoPE cache); 0
  /// when the graph does not say.
  int64_t context = 0;
  /// The runtime interface (Abi.h) the code was generated for; 0 when the
  /// signature predates versioning.
  int abiVersion = kAbiVersion;

  /// One line per parameter: `input|weight|result NAME DTYPE RANK DIMS...`,
  /// `cache NAME DTYPE RANK DIMS... past INPUT axis N`, plus
  /// `abi VERSION`, `pack NAME`, `pack_id ID` and `context N`.
  std::string serialize() const;
  /// Also derives `outputs`; errors name a bad line.
  static Status parse(const std::string &text, EntrySignature &sig);
  /// Sets `outputs` from `results` and `caches`.
  void deriveOutputs();
};

class WeightPack;

/// Reads the tensors `weights` names from `pack` (checksums checked), in
/// order; errors name a missing tensor or a dtype / shape the IR does not
/// expect.
Status loadWeights(const std::vector<TensorSpec> &weights,
                   const WeightPack &pack, std::vector<Tensor> &buffers);

/// The shape a weight has in the pack: `spec.shape`, [K, N] for one laid
/// out as GEMM strips (TensorSpec::panelColumns; [N, K] when
/// panelsTransposed), or [N, B] for quantized
/// rows laid out in groups (TensorSpec::groupRows).
std::vector<int64_t> storedShape(const TensorSpec &spec);

/// The buffer of weight `spec` from its values as the pack stores them
/// (row-major, storedShape(spec)): a copy, its GEMM strips or its groups
/// of quantized rows.
Tensor layOutWeight(const TensorSpec &spec, const void *stored);

/// The entry point: params[0] points to the results struct, params[1..] to
/// the input then weight descriptors.
using EntryFn = void (*)(void **params);

/// Calls `entry` with `inputs` (checked against the signature) and bound
/// `weights`; copies the results into `outputs` (in `sig.outputs` order)
/// and frees their buffers. Fails (discarding results) if generated code
/// reported an error.
///
/// In-place caches are lent in `caches` (one view per `sig.caches`, whose
/// past inputs are then not read; their outputs stay empty). Without
/// `caches`, each is computed into a new tensor holding a copy of its past
/// input and the rows the call appends, one per token of `input_ids`.
Status invokeEntry(EntryFn entry, const EntrySignature &sig,
                   const std::vector<const Tensor *> &inputs,
                   const std::vector<CacheView> *caches,
                   const std::vector<const void *> &weights,
                   std::vector<Tensor> &outputs);

/// A model compiled ahead of time into a shared library by
/// `sparse-opt --emit=shared-lib`, loaded with dlopen: no MLIR, no JIT.
class SharedLibraryModel : public Executable {
public:
  ~SharedLibraryModel() override;
  static std::unique_ptr<SharedLibraryModel> load(const std::string &path,
                                                  Status &status);

  const EntrySignature &signature() const { return sig_; }
  void bindWeights(std::vector<const void *> weights) {
    weights_ = std::move(weights);
  }
  const std::vector<TensorSpec> &inputSpecs() const override {
    return sig_.inputs;
  }
  const std::vector<TensorSpec> &outputSpecs() const override {
    return sig_.outputs;
  }
  const std::vector<CacheSpec> &cacheSpecs() const override {
    return sig_.caches;
  }
  Status run(const std::vector<const Tensor *> &inputs,
             std::vector<Tensor> &outputs) override {
    return invokeEntry(entry_, sig_, inputs, nullptr, weights_, outputs);
  }
  Status runWithCaches(const std::vector<const Tensor *> &inputs,
                       const std::vector<CacheView> &caches,
                       std::vector<Tensor> &outputs) override {
    return invokeEntry(entry_, sig_, inputs, &caches, weights_, outputs);
  }

private:
  SharedLibraryModel() = default;
  void *handle_ = nullptr;
  EntryFn entry_ = nullptr;
  EntrySignature sig_;
  std::vector<const void *> weights_;
};

/// Symbols every compiled model defines.
inline const char *kEntrySymbol = "actsparse_entry";
inline const char *kSignatureSymbol = "actsparse_signature";

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_ENTRY_H
