//===- Calibrate.cpp - thresholds, shifts and repair from real tokens -----===//
//
// Runs the module through the compiled code sparse-run uses, records the
// input of every FFN block per token (runtime FFN probe), and fits each
// block's sparsity parameters and down projection with Eigen.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Transforms/Calibration.h"

#include "PackPass.h"
#include "Ridge.h"

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Execution/CompiledModel.h"
#include "actsparse/Transforms/Passes.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Generator.h"
#include "actsparse/runtime/WeightPack.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace mlir::actsparse {
#define GEN_PASS_DEF_CALIBRATE
#include "actsparse/Transforms/Calibration.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;
namespace rt = ::actsparse::runtime;

using calibration::InputRecorder;
using calibration::RowMatrix;

namespace {

float activate(Activation a, float x) {
  return ::actsparse::runtime::activate(
      ::actsparse::runtime::FfnActivation(uint32_t(a)), x);
}

/// The activation parameters of a block (actsparse.ffn semantics).
struct NeuronParams {
  Activation activation = Activation::relu;
  bool reluUp = false;
  float threshold = 0.0f;
  ThresholdOn thresholdOn = ThresholdOn::activation;
  std::vector<float> shift; // empty, one entry, or one per neuron
};

/// h = act(pre - shift) times up if gated, zeroed where |act| (or, with
/// ThresholdOn::neuron, |h|) < threshold.
RowMatrix neurons(const NeuronParams &p, const RowMatrix &pre,
                  const RowMatrix *up) {
  RowMatrix h(pre.rows(), pre.cols());
  bool onNeuron = p.thresholdOn == ThresholdOn::neuron;
  for (Eigen::Index r = 0; r < pre.rows(); ++r)
    for (Eigen::Index c = 0; c < pre.cols(); ++c) {
      float s = p.shift.empty() ? 0.0f
                                : p.shift[p.shift.size() == 1 ? 0 : c];
      float a = activate(p.activation, pre(r, c) - s);
      float v = a;
      if (up) {
        float u = (*up)(r, c);
        v = a * (p.reluUp && u < 0.0f ? 0.0f : u);
      }
      h(r, c) = std::abs(onNeuron ? v : a) < p.threshold ? 0.0f : v;
    }
  return h;
}

double zeroFraction(const RowMatrix &h) {
  if (h.size() == 0)
    return 0.0;
  return double((h.array() == 0.0f).count()) / double(h.size());
}

/// The value at fraction `p` of the sorted values (p in [0, 1)).
float quantile(std::vector<float> values, double p) {
  if (values.empty())
    return 0.0f;
  size_t k = std::min(values.size() - 1, size_t(p * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

/// |h w + offset - y| / |y|, where `offset` (one row, or empty for none)
/// is how far the block's down bias is from the one it was trained with.
double relativeError(const RowMatrix &h, const RowMatrix &w,
                     const RowMatrix &y, const RowMatrix &offset) {
  double norm = y.cast<double>().norm();
  if (norm == 0)
    return 0.0;
  RowMatrix out = h * w;
  if (offset.size())
    out.rowwise() += offset.row(0);
  return (out - y).cast<double>().norm() / norm;
}

struct LayerReport {
  int64_t layer = 0, neurons = 0, tokens = 0;
  std::string activation;
  double sparsityBefore = 0, sparsityAfter = 0;
  std::string parameter; // "threshold 0.0123", "shift 0.41", ...
  double errorBefore = 0, errorTuned = 0, errorRepaired = -1, ridge = -1;
  bool residualTarget = false; // the repair also cancelled residual drift
};

/// On a weight written by repair: the name of the tensor it replaces, as
/// trained ("" for a down bias the block did not have). A second
/// calibration of a repaired model targets and regularises towards that one.

/// When `v` is a weight written by repair: the name of the trained weight
/// it replaced ("" for none); else null.
StringAttr refitOf(Value v) {
  auto w = v ? v.getDefiningOp<WeightOp>() : WeightOp();
  return w ? w->getAttrOfType<StringAttr>(
                 ActSparseDialect::getRefitOfAttrName())
           : StringAttr();
}

/// The weight `v` stands for in the model as trained: `v`'s own weight, or
/// the one a repair replaced (std::nullopt: not a weight; "": none).
std::optional<std::string> trainedWeightName(Value v) {
  if (StringAttr of = refitOf(v))
    return of.str();
  if (auto w = v ? v.getDefiningOp<WeightOp>() : WeightOp())
    return w.getName().str();
  return std::nullopt;
}

/// Points `operand` at a new weight `name` of the same type (recording the
/// trained weight it replaces, when given) and erases the weight it used
/// if nothing else does.
void setWeight(OpOperand &operand, StringRef name,
               std::optional<std::string> replaces = std::nullopt) {
  Operation *old = operand.get().getDefiningOp();
  OpBuilder b(operand.getOwner());
  auto w = WeightOp::create(b, operand.getOwner()->getLoc(),
                            operand.get().getType(), name);
  if (replaces)
    w->setAttr(ActSparseDialect::getRefitOfAttrName(),
               b.getStringAttr(*replaces));
  operand.set(w);
  if (old && old->use_empty())
    old->erase();
}

/// Points the block's down projection or bias `operand` back at the
/// trained weight a repair replaced (a bias the block did not have: none).
void restoreTrainedWeight(FfnOp ffn, OpOperand &operand) {
  StringAttr of = refitOf(operand.get());
  if (!of)
    return;
  if (!of.getValue().empty()) {
    setWeight(operand, of.getValue());
    return;
  }
  Operation *old = operand.get().getDefiningOp();
  ffn.getDownBiasMutable().clear();
  if (old->use_empty())
    old->erase();
}

/// Undoes what relufication and calibration changed: the model as trained,
/// whose block inputs are the reference for sequential calibration.
void restoreOriginalModel(ModuleOp module) {
  module.walk([](Operation *op) {
    if (auto ffn = dyn_cast<FfnOp>(op)) {
      ffn.setActivation(ffn.getOriginalActivation());
      ffn.removeOriginalAttr();
      ffn.removeThresholdAttr();
      ffn.removeThresholdOnAttr();
      ffn.removeReluUpAttr();
      ffn.getShiftMutable().clear();
      restoreTrainedWeight(ffn, ffn.getDownMutable());
      if (!ffn.getDownBiasMutable().empty())
        restoreTrainedWeight(ffn, ffn.getDownBiasMutable()[0]);
    } else if (isa<ReluOp>(op) &&
               op->hasAttr(ActSparseDialect::getStage2AttrName())) {
      op->getResult(0).replaceAllUsesWith(op->getOperand(0));
      op->erase();
    }
  });
}

struct CalibratePass
    : mlir::actsparse::impl::CalibrateBase<CalibratePass> {
  using CalibrateBase::CalibrateBase;

  void runOnOperation() override;

private:
  LogicalResult fail(const Twine &message) {
    emitError(getOperation().getLoc()) << "--actsparse-calibrate: " << message;
    return failure();
  }
  void progress(const Twine &message) {
    if (!quiet)
      llvm::errs() << "calibrate: " << message << "\n";
  }
  LogicalResult checkOptions();
  /// The target sparsity of the block numbered `layer` (0: none).
  double targetFor(int64_t layer) const {
    if (targetSparsity.empty())
      return 0.0;
    if (targetSparsity.size() == 1)
      return targetSparsity[0];
    return layer < int64_t(targetSparsity.size()) ? targetSparsity[layer] : 0.0;
  }
  LogicalResult recordInputs(ModuleOp module, StringRef what,
                             const std::vector<std::vector<int>> &sequences,
                             InputRecorder &recorder);
  rt::Status loadWeightsWithRepaired(const std::vector<rt::TensorSpec> &specs,
                                     std::vector<rt::Tensor> &buffers);
  FailureOr<std::vector<float>> valuesOf(Value v, int64_t expected) {
    return weights_.values(v, expected, failFn());
  }
  FailureOr<std::vector<float>> packValues(StringRef name, int64_t expected) {
    return weights_.packValues(name, expected, failFn());
  }
  calibration::FailFn failFn() {
    return [this](const Twine &m) { return fail(m); };
  }
  /// Fits `op` to inputs `x`; the target is the original block on
  /// `reference` (the original model's inputs, row-aligned with `x`) when
  /// given, else on `x` itself.
  LogicalResult calibrateBlock(FfnOp op, InputRecorder &recorder,
                               InputRecorder *reference, LayerReport &report);
  LogicalResult writePack();
  void writeReport(const std::vector<LayerReport> &reports);

  calibration::ModuleWeights weights_;
  /// Refitted down projections and biases, written to the new pack.
  struct RepairedTensor {
    std::string name;
    std::vector<int64_t> shape;
    RowMatrix values;
  };
  std::vector<RepairedTensor> repaired_;
};

LogicalResult CalibratePass::checkOptions() {
  if (tokens.empty())
    return fail("needs tokens=FILE (calibration token ids)");
  for (double t : targetSparsity)
    if (t < 0.0 || t >= 1.0)
      return fail("target-sparsity must be in [0, 1)");
  if (tune != "threshold" && tune != "shift")
    return fail("tune must be threshold or shift, not '" + tune + "'");
  if (granularity != "layer" && granularity != "neuron")
    return fail("granularity must be layer or neuron, not '" + granularity +
                "'");
  if (granularity == "neuron" && tune != "shift")
    return fail("granularity=neuron applies to tune=shift only");
  if (!thresholdOn.empty() && !symbolizeThresholdOn(thresholdOn))
    return fail("threshold-on must be activation or neuron, not '" +
                thresholdOn + "'");
  if (!thresholdOn.empty() && tune != "threshold")
    return fail("threshold-on applies to tune=threshold only");
  if (!thresholdOn.empty() && targetSparsity.empty())
    return fail("threshold-on takes effect when thresholds are tuned: give "
                "target-sparsity=P");
  if (optLevel > 3)
    return fail("opt-level must be 0, 1, 2 or 3");
  if (target != "block" && target != "residual")
    return fail("target must be block or residual, not '" + target + "'");
  if (repair && outputPack.empty())
    return fail("repair=true writes refitted weights: give output-pack=FILE");
  if (!repair && !outputPack.empty())
    return fail("output-pack is only written with repair=true");
  return success();
}

rt::Status
CalibratePass::loadWeightsWithRepaired(const std::vector<rt::TensorSpec> &specs,
                                       std::vector<rt::Tensor> &buffers) {
  std::vector<rt::TensorSpec> fromPack;
  for (const rt::TensorSpec &spec : specs)
    if (llvm::none_of(repaired_, [&](auto &r) { return r.name == spec.name; }))
      fromPack.push_back(spec);
  std::vector<rt::Tensor> packed;
  if (rt::Status s = rt::loadWeights(fromPack, weights_.pack(), packed); !s)
    return s;
  size_t next = 0;
  for (const rt::TensorSpec &spec : specs) {
    auto it = llvm::find_if(repaired_,
                            [&](auto &r) { return r.name == spec.name; });
    if (it == repaired_.end()) {
      buffers.push_back(std::move(packed[next++]));
      continue;
    }
    buffers.push_back(rt::layOutWeight(spec, it->values.data()));
  }
  return {};
}

LogicalResult
CalibratePass::recordInputs(ModuleOp module, StringRef what,
                            const std::vector<std::vector<int>> &sequences,
                            InputRecorder &recorder) {
  return calibration::recordFfnInputs(
      module, what, sequences, optLevel, cache,
      [this](const std::vector<rt::TensorSpec> &specs,
             std::vector<rt::Tensor> &buffers) {
        return loadWeightsWithRepaired(specs, buffers);
      },
      [this](const Twine &m) { progress(m); }, failFn(), recorder);
}

/// The parameters of one block, read from the pack or the IR.
struct BlockWeights {
  RowMatrix up, gate, down, upBias, gateBias;
  bool gated = false;

  /// Pre-activation (gate, or up for a plain block) and up projection.
  void project(const Eigen::Ref<const RowMatrix> &x, RowMatrix &pre,
               RowMatrix &u) const {
    u = x * up;
    if (upBias.size())
      u.rowwise() += upBias.row(0);
    if (!gated) {
      pre = u;
      return;
    }
    pre = x * gate;
    if (gateBias.size())
      pre.rowwise() += gateBias.row(0);
  }
};

LogicalResult CalibratePass::calibrateBlock(FfnOp op, InputRecorder &recorder,
                                            InputRecorder *reference,
                                            LayerReport &report) {
  int64_t layer = *op.getLayer();
  auto &recorded = recorder.rows[layer];
  int64_t d = cast<RankedTensorType>(op.getUp().getType()).getDimSize(0);
  int64_t hidden = op.getNumNeurons();
  int64_t e = cast<RankedTensorType>(op.getDown().getType()).getDimSize(1);
  if (recorded.empty() || recorder.features[layer] != d)
    return op.emitError("calibration recorded no input for this FFN block "
                        "(layer ") << layer << ")";
  int64_t n = recorded.size() / d;
  Eigen::Map<const RowMatrix> x(recorded.data(), n, d);

  auto load = [&](Value v, int64_t rows, int64_t cols, RowMatrix &m) {
    if (!v)
      return success();
    FailureOr<std::vector<float>> values = valuesOf(v, rows * cols);
    if (failed(values))
      return failure();
    m = Eigen::Map<const RowMatrix>(values->data(), rows, cols);
    return success();
  };
  BlockWeights w;
  w.gated = op.getGate() != nullptr;
  if (failed(load(op.getUp(), d, hidden, w.up)) ||
      failed(load(op.getGate(), d, hidden, w.gate)) ||
      failed(load(op.getDown(), hidden, e, w.down)) ||
      failed(load(op.getUpBias(), 1, hidden, w.upBias)) ||
      failed(load(op.getGateBias(), 1, hidden, w.gateBias)))
    return failure();
  RowMatrix pre, up;
  w.project(x, pre, up);
  const RowMatrix *upIfGated = w.gated ? &up : nullptr;
  const RowMatrix &down = w.down;
  // A block repaired by an earlier calibration: the target, the ridge prior
  // and a fitted bias's base are the weights as trained, not the refits.
  // biasOffset: how far the current down bias is from the trained one.
  auto loadTrained = [&](Value v, int64_t rows, int64_t cols, RowMatrix &m) {
    StringAttr of = refitOf(v);
    if (!of)
      return load(v, rows, cols, m);
    if (of.getValue().empty())
      return success();
    FailureOr<std::vector<float>> values = packValues(of, rows * cols);
    if (failed(values))
      return failure();
    m = Eigen::Map<const RowMatrix>(values->data(), rows, cols);
    return success();
  };
  bool downRefit = bool(refitOf(op.getDown()));
  RowMatrix trainedDownIfRefit, trainedBias, biasOffset;
  if ((downRefit &&
       failed(loadTrained(op.getDown(), hidden, e, trainedDownIfRefit))) ||
      failed(loadTrained(op.getDownBias(), 1, e, trainedBias)))
    return failure();
  const RowMatrix &trainedDown = downRefit ? trainedDownIfRefit : down;
  if (refitOf(op.getDownBias())) {
    if (failed(load(op.getDownBias(), 1, e, biasOffset)))
      return failure();
    if (trainedBias.size())
      biasOffset -= trainedBias;
  }

  // The target: the block as trained, on the original model's inputs when
  // they were recorded (so the refit also absorbs the drift that earlier
  // layers' changes cause), else on the inputs it sees now.
  NeuronParams original;
  original.activation = op.getOriginalActivation();
  RowMatrix y;
  if (reference) {
    auto &refRows = reference->rows[layer];
    if (refRows.size() != recorded.size())
      return op.emitError("the original model saw another number of tokens");
    RowMatrix refPre, refUp;
    w.project(Eigen::Map<const RowMatrix>(refRows.data(), n, d), refPre, refUp);
    y = neurons(original, refPre, w.gated ? &refUp : nullptr) * trainedDown;
    // target=residual: the original residual stream after the block minus
    // what this model's stream holds before it, so the block also cancels
    // the drift that earlier changes left in the stream.
    auto &refRes = reference->residuals[layer];
    auto &res = recorder.residuals[layer];
    // Blocks whose output is not added to a residual stream keep the
    // block target.
    if (target == "residual" && res.size() == size_t(n * e) &&
        refRes.size() == res.size()) {
      y += Eigen::Map<const RowMatrix>(refRes.data(), n, e) -
           Eigen::Map<const RowMatrix>(res.data(), n, e);
      report.residualTarget = true;
    }
  } else {
    y = neurons(original, pre, upIfGated) * trainedDown;
  }
  NeuronParams current;
  current.activation = op.getActivation();
  current.reluUp = op.getReluUp();
  if (std::optional<APFloat> t = op.getThreshold())
    current.threshold = t->convertToFloat();
  current.thresholdOn = op.getThresholdOn().value_or(ThresholdOn::activation);
  if (Value shift = op.getShift()) {
    int64_t count = cast<RankedTensorType>(shift.getType()).getNumElements();
    FailureOr<std::vector<float>> s = valuesOf(shift, count);
    if (failed(s))
      return failure();
    current.shift = *s;
  }
  RowMatrix h = neurons(current, pre, upIfGated);
  report.layer = layer;
  report.neurons = hidden;
  report.tokens = n;
  report.activation = stringifyActivation(current.activation).str();
  report.sparsityBefore = zeroFraction(h);
  report.errorBefore = relativeError(h, down, y, biasOffset);

  // Tune the threshold or the shift to the target.
  OpBuilder b(op);
  Type f32 = b.getF32Type();
  double target = targetFor(layer);
  if (target > 0.0) {
    if (tune == "threshold") {
      if (!thresholdOn.empty())
        current.thresholdOn = *symbolizeThresholdOn(thresholdOn);
      bool onNeuron = current.thresholdOn == ThresholdOn::neuron;
      NeuronParams open = current;
      open.threshold = 0.0f;
      RowMatrix a = neurons(open, pre, onNeuron ? upIfGated : nullptr);
      std::vector<float> magnitudes(a.size());
      for (Eigen::Index i = 0; i < a.size(); ++i)
        magnitudes[i] = std::abs(a.data()[i]);
      current.threshold = quantile(std::move(magnitudes), target);
      op.setMagnitudeThreshold(current.threshold, current.thresholdOn);
      report.parameter = llvm::formatv(
          onNeuron ? "threshold {0:F4} on neuron" : "threshold {0:F4}",
          current.threshold);
    } else {
      if (current.activation != Activation::relu)
        return op.emitError("tune=shift needs a ReLU block; run "
                            "--actsparse-relufy first");
      if (granularity == "layer") {
        current.shift = {quantile(std::vector<float>(pre.data(),
                                                     pre.data() + pre.size()),
                                  target)};
        report.parameter = llvm::formatv("shift {0:F4}", current.shift[0]);
      } else {
        current.shift.resize(hidden);
        double sum = 0;
        for (int64_t c = 0; c < hidden; ++c) {
          std::vector<float> column(n);
          for (int64_t r = 0; r < n; ++r)
            column[r] = pre(r, c);
          current.shift[c] = quantile(std::move(column), target);
          sum += current.shift[c];
        }
        report.parameter =
            llvm::formatv("shift per neuron, mean {0:F4}", sum / hidden);
      }
      auto type = current.shift.size() == 1
                      ? RankedTensorType::get({}, f32)
                      : RankedTensorType::get({hidden}, f32);
      Value s = ConstantOp::create(
          b, op.getLoc(), type,
          DenseElementsAttr::get(type, ArrayRef<float>(current.shift)));
      op.getShiftMutable().assign(s);
    }
    h = neurons(current, pre, upIfGated);
  }
  report.sparsityAfter = zeroFraction(h);
  report.errorTuned = relativeError(h, down, y, biasOffset);

  if (repair) {
    // Ridge regression towards the trained projection (Ridge.h), with a
    // bias column, pulled towards 0, when repair-bias is set (it absorbs
    // the mean of what the zeroed neurons contributed): A = [H 1],
    // prior [W_down; 0]. In double.
    int64_t cols = hidden + (repairBias ? 1 : 0);
    Eigen::MatrixXd a(n, cols);
    a.leftCols(hidden) = h.cast<double>();
    if (repairBias)
      a.col(hidden).setOnes();
    Eigen::MatrixXd yd = y.cast<double>();
    Eigen::MatrixXd prior = Eigen::MatrixXd::Zero(cols, e);
    prior.topRows(hidden) = trainedDown.cast<double>();
    calibration::RidgeFit fit = calibration::fitRidge(a, yd, prior, ridge);
    report.ridge = fit.strength;
    const Eigen::MatrixXd &solution = fit.solution;
    RowMatrix refit = solution.topRows(hidden).cast<float>();
    double norm = yd.norm();
    report.errorRepaired = norm > 0 ? (a * solution - yd).norm() / norm : 0.0;

    // The refit is named after the trained weight and remembers it
    // (ActSparseDialect::getRefitOfAttrName()), so calibrating the result again
    // starts from the model as trained.
    std::optional<std::string> downName = trainedWeightName(op.getDown());
    std::string name = downName.value_or("ffn.down") + ".repaired";
    for (const RepairedTensor &r : repaired_)
      if (r.name == name)
        name += "." + std::to_string(layer);
    setWeight(op.getDownMutable(), name, downName);
    repaired_.push_back({name, {hidden, e}, std::move(refit)});
    if (!repairBias && op.getDownBias())
      restoreTrainedWeight(op, op.getDownBiasMutable()[0]);
    if (repairBias) {
      RowMatrix bias = solution.row(hidden).cast<float>();
      if (trainedBias.size())
        bias += trainedBias;
      if (Value old = op.getDownBias()) {
        setWeight(op.getDownBiasMutable()[0], name + ".bias",
                  trainedWeightName(old));
      } else {
        // A bias the block did not have: it replaces none ("").
        auto type = RankedTensorType::get({e}, f32);
        auto w = WeightOp::create(b, op.getLoc(), type, name + ".bias");
        w->setAttr(ActSparseDialect::getRefitOfAttrName(), b.getStringAttr(""));
        op.getDownBiasMutable().assign(w);
      }
      repaired_.push_back({name + ".bias", {e}, std::move(bias)});
    }
  }
  return success();
}

LogicalResult CalibratePass::writePack() {
  std::vector<calibration::NewTensor> added;
  for (const RepairedTensor &r : repaired_)
    added.push_back({r.name, r.shape,
                     std::vector<float>(r.values.data(),
                                        r.values.data() + r.values.size())});
  // Refits of an earlier calibration that this one replaces are dropped.
  auto keep = [&](const rt::TensorInfo &t) {
    return llvm::none_of(repaired_, [&](auto &r) { return r.name == t.name; });
  };
  if (failed(calibration::writePack(getOperation(), weights_.pack(),
                                    outputPack, keep, added, failFn())))
    return failure();
  progress("wrote " + outputPack + " (" + Twine(repaired_.size()) +
           " refitted tensors)");
  return success();
}

void CalibratePass::writeReport(const std::vector<LayerReport> &reports) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0,5} {1,7} {2,9} {3,9} {4,-32} {5,9} {6,9} {7,9} {8,9} {9,6}\n",
                      "layer", "neurons", "act", "sparsity", "parameter",
                      "sparsity", "err", "err", "err", "ridge");
  os << llvm::formatv("{0,5} {1,7} {2,9} {3,9} {4,-32} {5,9} {6,9} {7,9} {8,9} {9,6}\n",
                      "", "", "", "before", "", "after", "before", "tuned",
                      "repaired", "");
  for (const LayerReport &r : reports)
    os << llvm::formatv(
        "{0,5} {1,7} {2,9} {3,8:F1}% {4,-32} {5,8:F1}% {6,9:F4} {7,9:F4} {8,9} {9,6}\n",
        r.layer, r.neurons, r.activation, 100 * r.sparsityBefore,
        r.parameter.empty() ? std::string("-") : r.parameter,
        100 * r.sparsityAfter, r.errorBefore, r.errorTuned,
        r.errorRepaired < 0 ? std::string("-")
                            : llvm::formatv("{0:F4}", r.errorRepaired).str(),
        r.ridge < 0 ? std::string("-") : llvm::formatv("{0}", r.ridge).str());
  os << "(err: |block output - target| / |target| on the calibration "
        "tokens; target: the original block's output";
  if (llvm::any_of(reports, [](const LayerReport &r) { return r.residualTarget; }))
    os << ", plus the residual stream's drift from the original model";
  os << ")\n";
  if (failed(calibration::emitReport(text, report, quiet, failFn())))
    signalPassFailure();
}

void CalibratePass::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(checkOptions()))
    return signalPassFailure();
  SmallVector<FfnOp> blocks;
  module.walk([&](FfnOp op) { blocks.push_back(op); });
  if (blocks.empty()) {
    (void)fail("the module has no actsparse.ffn; run --actsparse-fuse-ffn "
               "first");
    return signalPassFailure();
  }
  if (llvm::any_of(blocks, [](FfnOp op) { return !op.getLayer(); }))
    numberFfnLayers(module);
  if (targetSparsity.size() > 1 && targetSparsity.size() != blocks.size()) {
    (void)fail("target-sparsity lists " + Twine(targetSparsity.size()) +
               " values for " + Twine(blocks.size()) +
               " FFN blocks (give one value, or one per block)");
    return signalPassFailure();
  }

  if (failed(weights_.open(module, weights, failFn())))
    return signalPassFailure();

  std::vector<std::vector<int>> sequences;
  if (failed(calibration::readTokenFile(tokens, sequences, failFn())))
    return signalPassFailure();

  // Sequential: the original model's block inputs are the repair targets'
  // inputs, and block i is fitted on what the model with blocks < i already
  // calibrated feeds it (one compile per block). Otherwise one recording of
  // the module as given serves every block.
  InputRecorder reference;
  if (sequential) {
    OwningOpRef<ModuleOp> original = module.clone();
    restoreOriginalModel(*original);
    if (failed(recordInputs(*original, "the original model", sequences,
                            reference)))
      return signalPassFailure();
  }
  InputRecorder recorder;
  std::vector<LayerReport> reports;
  for (auto [i, op] : llvm::enumerate(blocks)) {
    if (i == 0 || sequential) {
      recorder = InputRecorder();
      std::string what =
          sequential ? llvm::formatv("the model for block {0}/{1}", i + 1,
                                     blocks.size())
                           .str()
                     : std::string("the model");
      if (failed(recordInputs(module, what, sequences, recorder)))
        return signalPassFailure();
    }
    LayerReport r;
    if (failed(calibrateBlock(op, recorder, sequential ? &reference : nullptr,
                              r)))
      return signalPassFailure();
    progress(llvm::formatv("block {0}/{1}: sparsity {2:F1}% -> {3:F1}%",
                           i + 1, blocks.size(), 100 * r.sparsityBefore,
                           100 * r.sparsityAfter));
    reports.push_back(r);
  }
  if (repair && failed(writePack()))
    return signalPassFailure();
  writeReport(reports);
}

} // namespace

void mlir::actsparse::registerCalibrationPasses() {
  PassRegistration<CalibratePass>();
  registerPass([] { return createBundleFfn(); });
  registerPass([] { return createInsertPredictors(); });
  registerPass([] { return createQuantize(); });
}
