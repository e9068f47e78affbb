//===- Quantize.cpp - projection weights as block-quantized rows ----------===//
//
// --actsparse-quantize: every f32 weight matrix read as a MatMul's right
// operand (or an actsparse.ffn parameter) is stored as rows of quantized
// blocks (Quant.h) in a new weight pack and read through
// actsparse.dequantize, in the form the lowering fuses into the runtime's
// quantized kernel. Bundled FFN blocks (actsparse.sparse_ffn) get their
// bundle rows rewritten field by field in the same format (FfnBundle.h).
//
//===----------------------------------------------------------------------===//

#include "PackPass.h"

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Calibration.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/Quant.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>
#include <optional>
#include <set>

namespace mlir::actsparse {
#define GEN_PASS_DEF_QUANTIZE
#include "actsparse/Transforms/Calibration.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;
using namespace mlir::actsparse::calibration;

namespace {

/// Whether `v` flows to the function's results through shape and
/// elementwise ops only (a classifier's logits).
bool reachesReturn(Value v, int depth = 4) {
  for (Operation *user : v.getUsers()) {
    if (isa<func::ReturnOp>(user))
      return true;
    if (depth > 0 && isa<ReshapeOp, AddOp, TransposeOp>(user) &&
        reachesReturn(user->getResult(0), depth - 1))
      return true;
  }
  return false;
}

/// Whether `use` reads its value as a projection weight W [K, N]: a
/// MatMul's right operand or an FFN block's up, gate or down matrix.
bool isProjectionWeight(OpOperand &use) {
  Operation *owner = use.getOwner();
  if (isa<MatMulOp>(owner))
    return use.getOperandNumber() == 1;
  if (auto ffn = dyn_cast<FfnOp>(owner))
    return use.get() == ffn.getUp() || use.get() == ffn.getGate() ||
           use.get() == ffn.getDown();
  return false;
}

/// A 2-D Transpose whose every user reads it as a MatMul's right operand.
bool isTransposedProjection(Operation *op) {
  auto t = dyn_cast<TransposeOp>(op);
  if (!t || t.getPerm() != ArrayRef<int64_t>{1, 0} || t->use_empty())
    return false;
  return llvm::all_of(t->getUses(), [](OpOperand &u) {
    return isa<MatMulOp>(u.getOwner()) && u.getOperandNumber() == 1;
  });
}

bool feedsClassifier(Operation *op) {
  return llvm::any_of(op->getUsers(), [](Operation *u) {
    return isa<MatMulOp>(u) && reachesReturn(u->getResult(0));
  });
}

struct QuantizePass
    : WithFailures<mlir::actsparse::impl::QuantizeBase<QuantizePass>> {
  using WithFailures::WithFailures;

  void runOnOperation() override;

private:
  /// A format option's kind; nullopt for "f32" when `allowF32`.
  FailureOr<std::optional<rt::QuantKind>> parseKind(StringRef option,
                                                     StringRef value,
                                                     bool allowF32);

  /// Quantizes the rows of `values` (`rows` x `k`, or its transpose when
  /// `columns`) into a new tensor `name`, and returns the dequantized
  /// N x K value that stands for it in the IR.
  Value addQuantized(OpBuilder &b, Location loc, StringRef name,
                     rt::QuantKind kind, const std::vector<float> &values,
                     int64_t n, int64_t k, bool columns,
                     std::vector<NewTensor> &added);

  /// Quantizes one row of `k` weights into `out`, adding to the error
  /// totals.
  void quantizeCounted(rt::QuantKind kind, const float *row, int64_t k,
                       uint8_t *out);

  /// Rewrites the f32 bundle `w` of the sparse FFN blocks `users` into a
  /// quantized bundle `name`; false (with a remark) when the users do not
  /// share one layout.
  FailureOr<bool> quantizeBundle(WeightOp w, ArrayRef<SparseFfnOp> users,
                                 rt::QuantKind kind, StringRef name,
                                 ModuleWeights &weights,
                                 std::vector<NewTensor> &added);

  double squaredError = 0, squaredNorm = 0;
  /// quantizeCounted's dequantized row, reused.
  std::vector<float> back;
};

void QuantizePass::quantizeCounted(rt::QuantKind kind, const float *row,
                                   int64_t k, uint8_t *out) {
  back.resize(k);
  rt::quantizeRow(kind, row, k, out);
  rt::dequantizeRow(kind, out, k, back.data());
  for (int64_t j = 0; j < k; ++j) {
    squaredError += double(back[j] - row[j]) * (back[j] - row[j]);
    squaredNorm += double(row[j]) * row[j];
  }
}

FailureOr<bool> QuantizePass::quantizeBundle(WeightOp w,
                                             ArrayRef<SparseFfnOp> users,
                                             rt::QuantKind kind,
                                             StringRef name,
                                             ModuleWeights &weights,
                                             std::vector<NewTensor> &added) {
  auto layoutOf = [](SparseFfnOp op, std::optional<rt::QuantKind> quant) {
    return rt::FfnBundleLayout::make(op.getInput().getType().getShape().back(),
                                     op.getType().getShape().back(),
                                     op.getFieldMask(), quant);
  };
  SparseFfnOp first = users.front();
  uint32_t fields = first.getFieldMask();
  int64_t d = first.getInput().getType().getShape().back();
  int64_t e = first.getType().getShape().back();
  for (SparseFfnOp op : users)
    if (op.getFieldMask() != fields ||
        op.getInput().getType().getShape().back() != d ||
        op.getType().getShape().back() != e) {
      op.emitRemark("bundle not quantized: the blocks reading it differ");
      return false;
    }
  rt::FfnBundleLayout from = layoutOf(first, std::nullopt),
                      to = layoutOf(first, kind);
  int64_t h = w.getType().getDimSize(0);
  FailureOr<std::vector<float>> values =
      weights.packValues(w.getName(), h * from.stride, failFn());
  if (failed(values))
    return failure();
  NewTensor t;
  t.name = name.str();
  t.shape = {h, to.stride};
  t.dtype = rt::DType::I8;
  t.layout = rt::quantizedLayout(int(kind), /*bundles=*/true);
  t.bytes.assign(h * to.stride, 0);
  for (int64_t i = 0; i < h; ++i) {
    const float *row = values->data() + i * from.stride;
    uint8_t *out = t.bytes.data() + i * to.stride;
    if (from.gate >= 0)
      quantizeCounted(kind, row + from.gate, d, out + to.gate);
    quantizeCounted(kind, row + from.up, d, out + to.up);
    quantizeCounted(kind, row + from.down, e, out + to.down);
    for (auto [at, into] : {std::pair{from.gateBias, to.gateBias},
                            {from.upBias, to.upBias},
                            {from.shift, to.shift}})
      if (at >= 0)
        std::memcpy(out + into, row + at, sizeof(float));
  }
  added.push_back(std::move(t));
  OpBuilder b(w);
  Value q = WeightOp::create(
      b, w.getLoc(), RankedTensorType::get({h, to.stride}, b.getI8Type()),
      name);
  for (SparseFfnOp op : users) {
    op.getBundleMutable().assign(q);
    op.setQuant(QuantKind(int(kind)));
  }
  return true;
}

FailureOr<std::optional<rt::QuantKind>>
QuantizePass::parseKind(StringRef option, StringRef value, bool allowF32) {
  if (allowF32 && value == "f32")
    return std::optional<rt::QuantKind>();
  std::string name = value == "int8"   ? "q8_0"
                     : value == "int4" ? "q4_0"
                                       : value.str();
  if (std::optional<rt::QuantKind> k = rt::parseQuantKind(name))
    return std::optional<rt::QuantKind>(*k);
  (void)fail(option + " must be q8_0, q4_0, q4_1, f16, bf16, int8 or int4" +
             (allowF32 ? ", or f32" : "") + ", not '" + value + "'");
  return failure();
}

Value QuantizePass::addQuantized(OpBuilder &b, Location loc, StringRef name,
                                 rt::QuantKind kind,
                                 const std::vector<float> &values, int64_t n,
                                 int64_t k, bool columns,
                                 std::vector<NewTensor> &added) {
  int64_t rowBytes = rt::quantRowBytes(kind, k);
  NewTensor t;
  t.name = name.str();
  t.shape = {n, rowBytes};
  t.dtype = rt::DType::I8;
  t.layout = rt::quantizedLayout(int(kind), /*bundles=*/false);
  t.bytes.resize(n * rowBytes);
  std::vector<float> row(k);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j)
      row[j] = columns ? values[j * n + i] : values[i * k + j];
    quantizeCounted(kind, row.data(), k, t.bytes.data() + i * rowBytes);
  }
  added.push_back(std::move(t));
  Value q = WeightOp::create(
      b, loc, RankedTensorType::get({n, rowBytes}, b.getI8Type()), name);
  return DequantizeOp::create(b, loc,
                              RankedTensorType::get({n, k}, b.getF32Type()),
                              q, QuantKind(int(kind)));
}

void QuantizePass::runOnOperation() {
  ModuleOp module = getOperation();
  auto kind = parseKind("type", type, /*allowF32=*/false);
  if (failed(kind))
    return signalPassFailure();
  // The classifier keeps 8 bits under the integer kinds, and takes a float
  // kind as the rest of the model does.
  std::string classifierName =
      !classifierType.empty()     ? classifierType
      : rt::isFloatKind(**kind) ? std::string(rt::quantKindName(**kind))
                                  : std::string("q8_0");
  auto classifierKind = parseKind("classifier-type", classifierName, true);
  if (failed(classifierKind))
    return signalPassFailure();

  // Each f32 matrix with projection uses: those it feeds directly (W [K, N])
  // and the transposes that feed MatMuls (W [N, K]).
  // And each f32 bundle with the sparse FFN blocks that read it.
  struct Target {
    WeightOp weight;
    SmallVector<OpOperand *> direct;
    SmallVector<TransposeOp> transposed;
    SmallVector<SparseFfnOp> bundled;
  };
  SmallVector<Target> targets;
  module.walk([&](WeightOp w) {
    RankedTensorType type = w.getType();
    if (!type.getElementType().isF32() || type.getRank() != 2)
      return;
    Target t{w, {}, {}, {}};
    for (OpOperand &use : w->getUses()) {
      auto sparse = dyn_cast<SparseFfnOp>(use.getOwner());
      if (isProjectionWeight(use))
        t.direct.push_back(&use);
      else if (isTransposedProjection(use.getOwner()))
        t.transposed.push_back(cast<TransposeOp>(use.getOwner()));
      else if (sparse && use.get() == sparse.getBundle())
        t.bundled.push_back(sparse);
    }
    if (!t.direct.empty() || !t.transposed.empty() || !t.bundled.empty())
      targets.push_back(std::move(t));
  });
  if (targets.empty())
    return;
  ModuleWeights weights;
  if (failed(weights.openForRewrite(module, this->weights, outputPack,
                                    "quantizing", failFn())))
    return signalPassFailure();

  std::vector<std::string> before = referencedWeights(module);
  std::set<std::string> names = tensorNames(weights.pack());
  auto freshName = [&](std::string name) {
    std::string base = name;
    for (int i = 2; names.count(name); ++i)
      name = base + "." + std::to_string(i);
    names.insert(name);
    return name;
  };
  std::vector<NewTensor> added;
  uint64_t f32Bytes = 0;
  int classifiers = 0;
  for (auto [i, t] : llvm::enumerate(targets)) {
    WeightOp w = t.weight;
    int64_t rows = w.getType().getDimSize(0), cols = w.getType().getDimSize(1);
    bool quantized = false;
    if (!t.bundled.empty()) {
      FailureOr<bool> done = quantizeBundle(
          w, t.bundled, **kind,
          freshName((w.getName() + "." + rt::quantKindName(**kind)).str()),
          weights, added);
      if (failed(done))
        return signalPassFailure();
      quantized = *done;
    }
    FailureOr<std::vector<float>> values = std::vector<float>();
    if (!t.direct.empty() || !t.transposed.empty())
      values = weights.packValues(w.getName(), rows * cols, failFn());
    if (failed(values))
      return signalPassFailure();
    OpBuilder b(w);
    // The classifier keeps its own format (or f32).
    auto kindFor = [&](bool classifier) {
      if (classifier)
        ++classifiers;
      return classifier ? *classifierKind : *kind;
    };
    if (!t.direct.empty()) {
      bool classifier = llvm::any_of(t.direct, [](OpOperand *u) {
        return isa<MatMulOp>(u->getOwner()) &&
               reachesReturn(u->getOwner()->getResult(0));
      });
      if (std::optional<rt::QuantKind> k = kindFor(classifier)) {
        // W [K, N]: row n of the quantized tensor is column n of W.
        Value dq = addQuantized(
            b, w.getLoc(),
            freshName((w.getName() + "." + rt::quantKindName(*k)).str()), *k,
            *values, cols, rows, /*columns=*/true, added);
        Value wt = TransposeOp::create(b, w.getLoc(), w.getType(), dq,
                                       ArrayRef<int64_t>{1, 0});
        for (OpOperand *u : t.direct)
          u->set(wt);
        quantized = true;
      }
    }
    if (!t.transposed.empty()) {
      bool classifier = llvm::any_of(t.transposed, [](TransposeOp tr) {
        return feedsClassifier(tr);
      });
      if (std::optional<rt::QuantKind> k = kindFor(classifier)) {
        // W [N, K] already: its rows are the quantized rows.
        Value dq = addQuantized(
            b, w.getLoc(),
            freshName((w.getName() + "." + rt::quantKindName(*k)).str()), *k,
            *values, rows, cols, /*columns=*/false, added);
        for (TransposeOp tr : t.transposed)
          tr.getInputMutable().assign(dq);
        quantized = true;
      }
    }
    if (quantized)
      f32Bytes += uint64_t(rows) * cols * 4;
    if (w->use_empty())
      w->erase();
    if (!quiet && (i + 1 == targets.size() || (i + 1) % 16 == 0))
      llvm::errs() << llvm::formatv("quantize: {0}/{1} weights\n", i + 1,
                                    targets.size());
  }
  if (failed(writePack(module, weights.pack(), outputPack,
                       stillUsed(module, std::move(before)), added, failFn())))
    return signalPassFailure();
  if (!quiet) {
    uint64_t bytes = 0;
    for (const NewTensor &t : added)
      bytes += t.bytes.size();
    llvm::errs() << llvm::formatv(
        "quantize: {0} matrices, {1:F1} MiB of f32 as {2:F1} MiB ({3}; "
        "classifier {4}), relative RMS error {5:E2}; wrote {6}\n",
        added.size(), f32Bytes / 1048576.0, bytes / 1048576.0, type,
        classifiers ? classifierName : std::string("none found"),
        squaredNorm ? std::sqrt(squaredError / squaredNorm) : 0.0,
        outputPack);
  }
}

} // namespace
