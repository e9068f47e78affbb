//===- BundleFfn.cpp - FFN weights as row-column bundles ------------------===//
//
// --actsparse-bundle-ffn: every actsparse.ffn becomes an
// actsparse.sparse_ffn on one neuron-major tensor (FfnBundle.h), written to
// a new weight pack.
//
//===----------------------------------------------------------------------===//

#include "PackPass.h"

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Calibration.h"
#include "actsparse/runtime/FfnBundle.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

#include <set>

namespace mlir::actsparse {
#define GEN_PASS_DEF_BUNDLEFFN
#include "actsparse/Transforms/Calibration.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;
using namespace mlir::actsparse::calibration;

namespace {

struct BundleFfnPass
    : WithFailures<mlir::actsparse::impl::BundleFfnBase<BundleFfnPass>> {
  using WithFailures::WithFailures;

  void runOnOperation() override;

private:
  /// Why `op` cannot be bundled, or "" when it can.
  std::string whyNot(FfnOp op);
  /// Builds the bundle of `op` and replaces it; the tensor goes to `added`.
  LogicalResult bundle(FfnOp op, ModuleWeights &weights,
                       std::set<std::string> &names,
                       std::vector<NewTensor> &added);
};

std::string BundleFfnPass::whyNot(FfnOp op) {
  if (!op.getType().getElementType().isF32())
    return "not f32";
  auto in = op.getInput().getType();
  if (in.isDynamicDim(in.getRank() - 1) ||
      op.getType().isDynamicDim(op.getType().getRank() - 1))
    return "dynamic feature size";
  for (Value v : op->getOperands().drop_front())
    if (!v.getDefiningOp<WeightOp>() && !v.getDefiningOp<ConstantOp>())
      return "a parameter is neither a weight nor a constant";
  return "";
}

LogicalResult BundleFfnPass::bundle(FfnOp op, ModuleWeights &weights,
                                    std::set<std::string> &names,
                                    std::vector<NewTensor> &added) {
  namespace rt = ::actsparse::runtime;
  int64_t d = op.getUp().getType().getDimSize(0);
  int64_t h = op.getNumNeurons();
  int64_t e = op.getDown().getType().getDimSize(1);
  // gates=apart: a gated block whose gate decides its zeros keeps the gate
  // projection as an ordinary MatMul before the block, and its rows hold
  // up, down and the up bias only.
  bool apart = gates == "apart" && op.getGate() && op.isGateDetermined();
  if (gates == "apart" && !apart)
    op.emitRemark("gate kept in the bundle rows: ")
        << (op.getGate() ? "the gate does not decide this block's zeros"
                         : "the block has no gate");
  uint32_t fields = rt::kBundleUp | rt::kBundleDown;
  if (op.getGate() && !apart)
    fields |= rt::kBundleGate;
  if (op.getGateBias() && !apart)
    fields |= rt::kBundleGateBias;
  if (op.getUpBias())
    fields |= rt::kBundleUpBias;
  if (op.getShift() && !apart)
    fields |= rt::kBundleShift;
  rt::FfnBundleLayout layout = rt::FfnBundleLayout::make(d, e, fields);

  FailFn onFail = failFn();
  auto read = [&](Value v, int64_t count) -> FailureOr<std::vector<float>> {
    if (!v)
      return std::vector<float>();
    return weights.values(v, count, onFail);
  };
  FailureOr<std::vector<float>> up = read(op.getUp(), d * h),
                                gate = read(op.getGate(), d * h),
                                down = read(op.getDown(), h * e),
                                upBias = read(op.getUpBias(), h),
                                gateBias = read(op.getGateBias(), h);
  int64_t shiftCount = 0;
  if (Value s = op.getShift())
    shiftCount = cast<RankedTensorType>(s.getType()).getNumElements();
  FailureOr<std::vector<float>> shift = read(op.getShift(), shiftCount);
  if (failed(up) || failed(gate) || failed(down) || failed(upBias) ||
      failed(gateBias) || failed(shift))
    return failure();

  NewTensor t;
  t.shape = {h, layout.stride};
  t.layout = rt::Layout::FfnBundle;
  t.values.assign(h * layout.stride, 0.0f);
  for (int64_t i = 0; i < h; ++i) {
    float *row = t.values.data() + i * layout.stride;
    for (int64_t k = 0; k < d; ++k) {
      row[layout.up + k] = (*up)[k * h + i];
      if (layout.gate >= 0)
        row[layout.gate + k] = (*gate)[k * h + i];
    }
    std::copy_n(down->data() + i * e, e, row + layout.down);
    if (layout.gateBias >= 0)
      row[layout.gateBias] = (*gateBias)[i];
    if (layout.upBias >= 0)
      row[layout.upBias] = (*upBias)[i];
    if (layout.shift >= 0)
      row[layout.shift] = (*shift)[shift->size() == 1 ? 0 : i];
  }
  std::string base = op.getLayer()
                         ? llvm::formatv("ffn.{0}.bundle", *op.getLayer()).str()
                         : std::string("ffn.bundle");
  t.name = base;
  for (int n = 1; names.count(t.name); ++n)
    t.name = base + "." + std::to_string(n);
  names.insert(t.name);

  OpBuilder b(op);
  Value gatePre;
  if (apart) {
    SmallVector<int64_t> shape(op.getInput().getType().getShape());
    shape.back() = h;
    auto preType = RankedTensorType::get(shape, b.getF32Type());
    gatePre = MatMulOp::create(b, op.getLoc(), preType, op.getInput(),
                               op.getGate());
    if (Value bias = op.getGateBias())
      gatePre = AddOp::create(b, op.getLoc(), preType, gatePre, bias);
    if (Value shift = op.getShift())
      gatePre = SubOp::create(b, op.getLoc(), preType, gatePre, shift);
  }
  auto bundleType = RankedTensorType::get({h, layout.stride}, b.getF32Type());
  Value w = WeightOp::create(b, op.getLoc(), bundleType, t.name);
  SmallVector<Attribute> fieldNames;
  for (StringRef f : getBundleFieldNames(fields))
    fieldNames.push_back(b.getStringAttr(f));
  auto sparse = SparseFfnOp::create(
      b, op.getLoc(), op.getType(), op.getInput(), w, gatePre,
      op.getDownBias(),
      /*score_a=*/Value(), /*score_b=*/Value(), /*score_bias=*/Value(),
      b.getArrayAttr(fieldNames), op.getActivationAttr(), op.getReluUpAttr(),
      op.getThresholdAttr(), op.getThresholdOnAttr(), PredictorAttr(),
      op.getOriginalAttr(), op.getLayerAttr(), /*quant=*/QuantKindAttr());
  if (predictor == "exact-gate" && sparse.isGateDetermined())
    sparse.setPredictor(Predictor::exact_gate);
  SmallVector<Operation *> params;
  for (Value v : op->getOperands().drop_front())
    if (Operation *def = v.getDefiningOp())
      params.push_back(def);
  op.replaceAllUsesWith(sparse.getResult());
  op.erase();
  for (Operation *def : params)
    if (def->use_empty())
      def->erase();
  added.push_back(std::move(t));
  return success();
}

void BundleFfnPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (gates != "bundled" && gates != "apart") {
    (void)fail("gates must be bundled or apart, not '" + gates + "'");
    return signalPassFailure();
  }
  if (predictor != "none" && predictor != "exact-gate") {
    (void)fail("predictor must be none or exact-gate, not '" + predictor +
               "' (learned predictors: --actsparse-insert-predictors)");
    return signalPassFailure();
  }
  SmallVector<FfnOp> blocks;
  module.walk([&](FfnOp op) {
    std::string why = whyNot(op);
    if (why.empty())
      blocks.push_back(op);
    else
      op.emitRemark("not bundled: ") << why;
  });
  if (blocks.empty())
    return;
  ModuleWeights weights;
  if (failed(weights.openForRewrite(module, this->weights, outputPack,
                                    "bundling", failFn())))
    return signalPassFailure();

  std::vector<std::string> before = referencedWeights(module);
  std::set<std::string> names = tensorNames(weights.pack());
  std::vector<NewTensor> added;
  for (auto [i, op] : llvm::enumerate(blocks)) {
    if (failed(bundle(op, weights, names, added)))
      return signalPassFailure();
    if (!quiet && (i + 1 == blocks.size() || (i + 1) % 8 == 0))
      llvm::errs() << llvm::formatv("bundle-ffn: {0}/{1} blocks\n", i + 1,
                                    blocks.size());
  }
  auto used = stillUsed(module, std::move(before));
  auto keep = [&](const rt::TensorInfo &t) {
    return keepUnbundled || used(t);
  };
  if (failed(writePack(module, weights.pack(), outputPack, keep, added,
                       failFn())))
    return signalPassFailure();
  if (!quiet) {
    uint64_t bytes = 0;
    for (const NewTensor &t : added)
      bytes += t.values.size() * sizeof(float);
    llvm::errs() << llvm::formatv("bundle-ffn: wrote {0} ({1} bundles, "
                                  "{2:F1} MiB)\n",
                                  outputPack, added.size(),
                                  bytes / 1048576.0);
  }
}

} // namespace
