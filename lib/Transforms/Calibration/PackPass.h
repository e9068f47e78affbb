//===- PackPass.h - what passes that read weights share ---------*- C++ -*-===//
//
// --actsparse-calibrate, --actsparse-bundle-ffn and
// --actsparse-insert-predictors read the module's weight pack, may run the
// module on calibration tokens to record what its FFN blocks see, and write
// a new pack with the tensors they made. The pieces they share live here.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_PACKPASS_H
#define ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_PACKPASS_H

#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Tensor.h"
#include "actsparse/runtime/WeightPack.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <Eigen/Dense>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace mlir::actsparse::calibration {

namespace rt = ::actsparse::runtime;

using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Reports a pass's error (prefixed with the pass name) and returns failure.
using FailFn = std::function<LogicalResult(const Twine &)>;
using ProgressFn = std::function<void(const Twine &)>;

/// What the passes that write packs share for errors: `fail` reports
/// "--<pass argument>: message" at the module, `failFn` hands it to the
/// helpers below. Sits between a pass and its generated base:
/// `struct P : WithFailures<impl::PBase<P>>`.
template <typename Base> struct WithFailures : Base {
  using Base::Base;

protected:
  LogicalResult fail(const Twine &message) {
    emitError(this->getOperation().getLoc())
        << "--" << this->getArgument() << ": " << message;
    return failure();
  }
  FailFn failFn() {
    return [this](const Twine &m) { return fail(m); };
  }
};

/// Records the input rows of every FFN block, and the residual stream its
/// output is added to, per layer, in token order.
struct InputRecorder : rt::FfnObserver {
  std::map<int64_t, std::vector<float>> rows, residuals;
  std::map<int64_t, int64_t> features;
  void observe(const rt::FfnProbe &p) override;
};

/// Reads calibration token ids: one sequence per line (at least two ids),
/// ids separated by spaces or commas.
LogicalResult readTokenFile(StringRef path,
                            std::vector<std::vector<int>> &sequences,
                            const FailFn &fail);

/// Loads the tensors a compiled model binds (in signature order).
using WeightLoader = std::function<rt::Status(
    const std::vector<rt::TensorSpec> &, std::vector<rt::Tensor> &)>;

/// Compiles a copy of `module` exactly as sparse-run would (JIT at
/// `optLevel`; through the object cache in its default place when
/// `cache`), scores every sequence and records every FFN block's inputs
/// into `recorder`. `what` names the model in progress messages.
LogicalResult recordFfnInputs(ModuleOp module, StringRef what,
                              const std::vector<std::vector<int>> &sequences,
                              unsigned optLevel, bool cache,
                              const WeightLoader &load,
                              const ProgressFn &progress, const FailFn &fail,
                              InputRecorder &recorder);

/// The module's weight pack and the IR constants: where the values of FFN
/// parameters come from.
class ModuleWeights {
public:
  /// Opens `explicitPath`, or else the pack the module names (looked up in
  /// setWeightPackLocation's table first).
  LogicalResult open(ModuleOp module, StringRef explicitPath,
                     const FailFn &fail);

  /// For a pass that writes a new pack: fails, naming what it does
  /// (`doing`, e.g. "bundling"), when `outputPack` is empty, then opens the
  /// input pack as `open` does.
  LogicalResult openForRewrite(ModuleOp module, StringRef explicitPath,
                               StringRef outputPack, StringRef doing,
                               const FailFn &fail);

  rt::WeightPack &pack() { return *pack_; }
  const std::string &path() const { return path_; }

  /// The f32 values of pack tensor `name`, which must hold `expected`.
  FailureOr<std::vector<float>> packValues(StringRef name, int64_t expected,
                                           const FailFn &fail);
  /// The f32 values of `v`: an actsparse.weight or an f32 constant (a
  /// splat is expanded to `expected`).
  FailureOr<std::vector<float>> values(Value v, int64_t expected,
                                       const FailFn &fail);

private:
  std::shared_ptr<rt::WeightPack> pack_; // shared: passes are copyable
  std::string path_;
};

/// A tensor a pass made, for the pack it writes: f32 `values`, or the raw
/// `bytes` of another dtype.
struct NewTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
  rt::Layout layout = rt::Layout::Dense;
  rt::DType dtype = rt::DType::F32;
  std::vector<uint8_t> bytes = {};
};

/// Writes `outputPath`: the tensors of `input` that `keep` accepts, then
/// `added`; points `module` at it (actsparse.weight_pack and its id).
LogicalResult writePack(ModuleOp module, const rt::WeightPack &input,
                        StringRef outputPath,
                        const std::function<bool(const rt::TensorInfo &)> &keep,
                        const std::vector<NewTensor> &added,
                        const FailFn &fail);

/// Prints a pass's per-layer table to stderr (unless `quiet`) and writes it
/// to `path` when one is given.
LogicalResult emitReport(StringRef text, StringRef path, bool quiet,
                         const FailFn &fail);

/// The names of every tensor in `pack`: those a new tensor must not take.
std::set<std::string> tensorNames(const rt::WeightPack &pack);

/// The names of every pack tensor the module refers to, sorted.
std::vector<std::string> referencedWeights(ModuleOp module);

/// For writePack: keeps the input tensors `module` still refers to and
/// those it did not refer to before the pass (`before`, from
/// referencedWeights); drops what the pass stopped using.
std::function<bool(const rt::TensorInfo &)>
stillUsed(ModuleOp module, std::vector<std::string> before);

} // namespace mlir::actsparse::calibration

#endif // ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_PACKPASS_H
