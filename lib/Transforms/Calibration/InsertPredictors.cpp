//===- InsertPredictors.cpp - low-rank predictors of active neurons -------===//
//
// --actsparse-insert-predictors: records the inputs of every sparse FFN
// block on calibration tokens, fits a rank-r predictor of its gate by
// reduced-rank regression (Eigen) and sets each layer's margin on held-out
// tokens for the target recall.
//
//===----------------------------------------------------------------------===//

#include "PackPass.h"

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Calibration.h"
#include "actsparse/runtime/Entry.h"
#include "actsparse/runtime/FfnBundle.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <set>

namespace mlir::actsparse {
#define GEN_PASS_DEF_INSERTPREDICTORS
#include "actsparse/Transforms/Calibration.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;
using namespace mlir::actsparse::calibration;

namespace {

struct PredictorReport {
  int64_t layer = 0, neurons = 0, rank = 0, heldOut = 0;
  double bytes = 0, blockBytes = 0;
  double recall = 0, precision = 0, predicted = 0, exact = 0;
};

/// The top `rank` right singular vectors (H x r, by column) of X W for
/// X^T X = `gram` (D x D) and W (D x H): with S = gram^(1/2), they are the
/// right singular vectors of S W, found from the D x D matrix
/// (S W)(S W)^T so that nothing H x H is formed.
Eigen::MatrixXd topRightSingularVectors(const Eigen::MatrixXd &gram,
                                        const Eigen::MatrixXd &w,
                                        int64_t rank) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> g(gram);
  Eigen::VectorXd roots = g.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  Eigen::MatrixXd s = g.eigenvectors() * roots.asDiagonal() *
                      g.eigenvectors().transpose();
  Eigen::MatrixXd n = s * w; // D x H
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> left(n * n.transpose());
  // Eigenvalues ascend: the last columns are the largest.
  int64_t d = n.rows();
  Eigen::MatrixXd v(w.cols(), rank);
  int64_t kept = 0;
  double top = std::max(left.eigenvalues()(d - 1), 0.0);
  for (int64_t j = 0; j < rank; ++j) {
    double sigma2 = left.eigenvalues()(d - 1 - j);
    if (!(sigma2 > 1e-12 * top))
      break;
    v.col(j) = n.transpose() * left.eigenvectors().col(d - 1 - j) /
               std::sqrt(sigma2);
    ++kept;
  }
  return v.leftCols(kept);
}

struct InsertPredictorsPass
    : WithFailures<
          mlir::actsparse::impl::InsertPredictorsBase<InsertPredictorsPass>> {
  using WithFailures::WithFailures;

  void runOnOperation() override;

private:
  void progress(const Twine &message) {
    if (!quiet)
      llvm::errs() << "insert-predictors: " << message << "\n";
  }
  LogicalResult fit(SparseFfnOp op, ModuleWeights &weights,
                    InputRecorder &recorder, std::vector<NewTensor> &added,
                    PredictorReport &report);
  void writeReport(const std::vector<PredictorReport> &reports);
};

LogicalResult InsertPredictorsPass::fit(SparseFfnOp op, ModuleWeights &weights,
                                        InputRecorder &recorder,
                                        std::vector<NewTensor> &added,
                                        PredictorReport &report) {
  namespace rt = ::actsparse::runtime;
  int64_t layer = op.getLayer().value_or(-1);
  int64_t d = op.getInput().getType().getShape().back();
  int64_t e = op.getType().getShape().back();
  int64_t h = op.getNumNeurons();
  rt::FfnBundleLayout l = rt::FfnBundleLayout::make(d, e, op.getFieldMask());
  const std::vector<float> &recorded = recorder.rows[layer];
  if (recorder.features[layer] != d || recorded.empty())
    return op.emitError("no inputs were recorded for this block (layer ")
           << layer << ")";
  int64_t n = recorded.size() / d;
  if (n < 20)
    return op.emitError("only ") << n << " tokens recorded; a predictor "
                                        "needs at least 20";
  int64_t train = n * 4 / 5, held = n - train;
  auto bundleName = op.getBundle().getDefiningOp<WeightOp>();
  if (!bundleName)
    return op.emitError("the bundle must be a weight-pack tensor");
  if (op.getQuant())
    return op.emitError("the bundle is quantized: insert predictors before "
                        "--actsparse-quantize, on the f32 bundles");
  if (op.getGatePre())
    return op.emitError("the gate is apart (gates=apart), so its exact "
                        "pre-activations are known: a predictor is for "
                        "bundles that hold their gate");
  FailureOr<std::vector<float>> bundle =
      weights.packValues(bundleName.getName(), h * l.stride, failFn());
  if (failed(bundle))
    return failure();

  // The gate projection W (D x H; the up projection of a plain block) and
  // the per-neuron offset of the margin g - shift - threshold.
  int64_t preAt = l.gate >= 0 ? l.gate : l.up;
  int64_t biasAt = l.gate >= 0 ? l.gateBias : l.upBias;
  float threshold = op.getThreshold() ? op.getThreshold()->convertToFloat() : 0;
  Eigen::MatrixXd w(d, h);
  Eigen::VectorXd offset(h);
  for (int64_t i = 0; i < h; ++i) {
    const float *row = bundle->data() + i * l.stride;
    for (int64_t k = 0; k < d; ++k)
      w(k, i) = row[preAt + k];
    offset(i) = (biasAt >= 0 ? row[biasAt] : 0.0) -
                (l.shift >= 0 ? row[l.shift] : 0.0) - threshold;
  }
  Eigen::Map<const RowMatrix> x(recorded.data(), n, d);
  Eigen::MatrixXd xTrain = x.topRows(train).cast<double>();
  Eigen::MatrixXd xHeld = x.bottomRows(held).cast<double>();

  int64_t r = std::min<int64_t>({int64_t(rank), d, h});
  Eigen::MatrixXd v =
      topRightSingularVectors(xTrain.transpose() * xTrain, w, r);
  r = v.cols();
  Eigen::MatrixXd a = w * v; // D x r
  // Held-out margins: exact and predicted.
  Eigen::MatrixXd exact = (xHeld * w).rowwise() + offset.transpose();
  Eigen::MatrixXd predicted =
      ((xHeld * a) * v.transpose()).rowwise() + offset.transpose();
  std::vector<double> activeScores;
  for (int64_t t = 0; t < held; ++t)
    for (int64_t i = 0; i < h; ++i)
      if (exact(t, i) > 0)
        activeScores.push_back(predicted(t, i));
  // The margin: the largest value below which only 1 - target-recall of
  // the active neurons' predicted scores fall.
  double margin = 0;
  if (!activeScores.empty()) {
    size_t k = std::min(activeScores.size() - 1,
                        size_t((1.0 - targetRecall) * activeScores.size()));
    std::nth_element(activeScores.begin(), activeScores.begin() + k,
                     activeScores.end());
    margin = std::nextafter(activeScores[k], -INFINITY);
  }
  int64_t active = activeScores.size(), hit = 0, chosen = 0;
  for (int64_t t = 0; t < held; ++t)
    for (int64_t i = 0; i < h; ++i) {
      bool p = predicted(t, i) - margin > 0;
      chosen += p;
      hit += p && exact(t, i) > 0;
    }

  std::string base = bundleName.getName().str() + ".predictor";
  NewTensor ta{base + ".a", {d, r}, {}}, tb{base + ".b", {r, h}, {}},
      tc{base + ".c", {h}, {}};
  for (int64_t k = 0; k < d; ++k)
    for (int64_t j = 0; j < r; ++j)
      ta.values.push_back(float(a(k, j)));
  for (int64_t j = 0; j < r; ++j)
    for (int64_t i = 0; i < h; ++i)
      tb.values.push_back(float(v(i, j)));
  for (int64_t i = 0; i < h; ++i)
    tc.values.push_back(float(offset(i) - margin));

  OpBuilder b(op);
  auto weightOf = [&](const NewTensor &t) -> Value {
    return WeightOp::create(b, op.getLoc(),
                            RankedTensorType::get(t.shape, b.getF32Type()),
                            t.name);
  };
  SmallVector<Operation *> old;
  for (Value s : {op.getScoreA(), op.getScoreB(), op.getScoreBias()})
    if (s && s.getDefiningOp())
      old.push_back(s.getDefiningOp());
  op.getScoreAMutable().assign(weightOf(ta));
  op.getScoreBMutable().assign(weightOf(tb));
  op.getScoreBiasMutable().assign(weightOf(tc));
  op.setPredictor(Predictor::lowrank);
  for (Operation *o : old)
    if (o->use_empty())
      o->erase();

  report.layer = layer;
  report.neurons = h;
  report.rank = r;
  report.heldOut = held;
  report.bytes = double(d * r + r * h + h) * sizeof(float);
  report.blockBytes = double(h * l.stride) * sizeof(float);
  report.recall = active ? double(hit) / active : 1.0;
  report.precision = chosen ? double(hit) / chosen : 1.0;
  report.predicted = double(chosen) / (double(held) * h);
  report.exact = double(active) / (double(held) * h);
  added.push_back(std::move(ta));
  added.push_back(std::move(tb));
  added.push_back(std::move(tc));
  return success();
}

void InsertPredictorsPass::writeReport(
    const std::vector<PredictorReport> &reports) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0,5} {1,7} {2,4} {3,10} {4,7} {5,7} {6,9} {7,9} {8,7}\n",
                      "layer", "neurons", "rank", "bytes", "of ffn", "recall",
                      "precision", "predicted", "exact");
  for (const PredictorReport &r : reports)
    os << llvm::formatv("{0,5} {1,7} {2,4} {3,10} {4,6:F1}% {5,6:F1}% "
                        "{6,8:F1}% {7,8:F1}% {8,6:F1}%\n",
                        r.layer, r.neurons, r.rank, int64_t(r.bytes),
                        100 * r.bytes / r.blockBytes, 100 * r.recall,
                        100 * r.precision, 100 * r.predicted, 100 * r.exact);
  os << "(recall, precision and densities on the held-out " 
     << (reports.empty() ? 0 : reports.front().heldOut)
     << " tokens: the last 20 % of the calibration tokens)\n";
  if (failed(calibration::emitReport(text, report, quiet, failFn())))
    signalPassFailure();
}

void InsertPredictorsPass::runOnOperation() {
  namespace rt = ::actsparse::runtime;
  ModuleOp module = getOperation();
  if (tokens.empty()) {
    (void)fail("needs tokens=FILE (calibration token ids)");
    return signalPassFailure();
  }
  if (!(targetRecall > 0.0 && targetRecall <= 1.0)) {
    (void)fail("target-recall must be in (0, 1]");
    return signalPassFailure();
  }
  if (rank == 0) {
    (void)fail("rank must be at least 1");
    return signalPassFailure();
  }
  if (optLevel > 3) {
    (void)fail("opt-level must be 0, 1, 2 or 3");
    return signalPassFailure();
  }
  SmallVector<SparseFfnOp> blocks;
  bool anyFfn = false;
  module.walk([&](Operation *op) {
    if (isa<FfnOp>(op))
      anyFfn = true;
    auto s = dyn_cast<SparseFfnOp>(op);
    if (!s)
      return;
    if (s.isGateDetermined() && s.getLayer())
      blocks.push_back(s);
    else
      s.emitRemark("no predictor: ")
          << (s.getLayer() ? "the gate does not decide this block's zeros "
                             "(activation is not relu, or the threshold is "
                             "on the neuron)"
                           : "the block has no layer number");
  });
  if (blocks.empty()) {
    (void)fail(anyFfn ? "no actsparse.sparse_ffn to predict; run "
                        "--actsparse-bundle-ffn first"
                      : "no sparse FFN block whose gate decides its zeros");
    return signalPassFailure();
  }
  if (outputPack.empty()) {
    (void)fail("predictors go to a new weight pack: give output-pack=FILE");
    return signalPassFailure();
  }
  ModuleWeights packs;
  if (failed(packs.open(module, weights, failFn())))
    return signalPassFailure();
  std::vector<std::vector<int>> sequences;
  if (failed(readTokenFile(tokens, sequences, failFn())))
    return signalPassFailure();

  // The blocks' inputs on the model as it is (predictors already in it
  // are part of the model that produced them).
  InputRecorder recorder;
  auto load = [&](const std::vector<rt::TensorSpec> &specs,
                  std::vector<rt::Tensor> &buffers) {
    return rt::loadWeights(specs, packs.pack(), buffers);
  };
  if (failed(recordFfnInputs(
          module, "the model", sequences, optLevel, cache, load,
          [this](const Twine &m) { progress(m); }, failFn(), recorder)))
    return signalPassFailure();

  std::vector<std::string> before = referencedWeights(module);
  std::vector<NewTensor> added;
  std::vector<PredictorReport> reports;
  for (auto [i, op] : llvm::enumerate(blocks)) {
    PredictorReport r;
    if (failed(fit(op, packs, recorder, added, r)))
      return signalPassFailure();
    progress(llvm::formatv("block {0}/{1}: rank {2}, recall {3:F1}%, "
                           "predicted {4:F1}% (exact {5:F1}%)",
                           i + 1, blocks.size(), r.rank, 100 * r.recall,
                           100 * r.predicted, 100 * r.exact));
    reports.push_back(r);
  }
  // Predictors this run replaced are dropped from the pack.
  std::set<std::string> made;
  for (const NewTensor &t : added)
    made.insert(t.name);
  auto used = stillUsed(module, std::move(before));
  auto keep = [&](const rt::TensorInfo &t) {
    return !made.count(t.name) && used(t);
  };
  if (failed(writePack(module, packs.pack(), outputPack, keep, added,
                       failFn())))
    return signalPassFailure();
  progress("wrote " + outputPack);
  writeReport(reports);
}

} // namespace
