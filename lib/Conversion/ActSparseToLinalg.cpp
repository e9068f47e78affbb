//===- ActSparseToLinalg.cpp - actsparse ops to linalg/tensor/arith -------===//
//
// Lowers the ONNX-semantics graph ops to upstream tensor-level IR (linalg,
// tensor, arith, math) that one-shot bufferization and the LLVM pipeline take
// from there. Broadcasting follows ONNX: a dimension that is statically 1 is
// broadcast; dynamic dimensions are assumed to agree at run time, as ONNX
// shape inference assumes. Weight references become trailing arguments of
// the function, tagged with their weight-pack names: that is the entry ABI
// the runtime calls (runtime/include/actsparse/runtime/Abi.h).
//
// The patterns live in ToLinalg/, one file per op family (elementwise,
// reductions, FFN blocks, data movement, shapes) with shared helpers in
// ToLinalg/LoweringUtils.h; this file is the pass and the one place that
// registers them all.
//
//===----------------------------------------------------------------------===//

#include "ToLinalg/LoweringUtils.h"
#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Quant.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// Weight references become trailing function arguments tagged with their
/// pack names, one per distinct name, in order of first use.
LogicalResult weightsToArguments(func::FuncOp func) {
  if (func.isExternal())
    return success();
  llvm::StringMap<BlockArgument> args;
  SmallVector<WeightOp> weights;
  func.walk([&](WeightOp w) { weights.push_back(w); });
  Block &entry = func.getBody().front();
  for (WeightOp w : weights) {
    auto it = args.find(w.getName());
    if (it == args.end()) {
      unsigned idx = func.getNumArguments();
      if (failed(func.insertArgument(
              idx, w.getType(),
              DictionaryAttr::get(
                  func.getContext(),
                  {NamedAttribute(
                      StringAttr::get(func.getContext(),
                                      ActSparseDialect::getWeightArgAttrName()),
                      w.getNameAttr())}),
              w.getLoc())))
        return failure();
      it = args.try_emplace(w.getName(), entry.getArgument(idx)).first;
    } else if (it->second.getType() != w.getType()) {
      return w.emitOpError("weight '")
             << w.getName() << "' is used with two different types";
    }
    w.getResult().replaceAllUsesWith(it->second);
    w.erase();
  }
  return success();
}

/// The type of `arg` when it is a used weight argument, a static matrix
/// of `element`s; null otherwise.
RankedTensorType matrixWeight(func::FuncOp func, BlockArgument arg,
                              Type element) {
  auto type = dyn_cast<RankedTensorType>(arg.getType());
  if (!func.getArgAttr(arg.getArgNumber(),
                       ActSparseDialect::getWeightArgAttrName()) ||
      !type || type.getRank() != 2 || !type.hasStaticShape() ||
      type.getElementType() != element || arg.use_empty())
    return nullptr;
  return type;
}

/// Weight arguments whose every use is the right operand of the runtime's
/// matmul kernel become its GEMM strips (see the pass's `panels` option):
/// the loader lays them out once, so prefill packs nothing per call.
void weightsAsPanels(func::FuncOp func) {
  namespace rt = ::actsparse::runtime;
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  AffineExpr k = getAffineDimExpr(1, ctx), n = getAffineDimExpr(2, ctx);
  constexpr int64_t width = rt::kStripWidth;
  AffineMap strips = AffineMap::get(
      3, 0, {n.floorDiv(width), k, n % width}, ctx);
  auto matmulUse = [](OpOperand &use, const char *call) {
    auto g = dyn_cast<linalg::GenericOp>(use.getOwner());
    return g && g.getLibraryCallAttr() &&
           g.getLibraryCallAttr().getValue() == call &&
           use.getOperandNumber() == 1;
  };
  bool changed = false;
  for (BlockArgument arg : entry.getArguments()) {
    auto type = matrixWeight(func, arg, Float32Type::get(ctx));
    if (!type)
      continue;
    // W [K, N] read only by projections; or Wt [N, K] read transposed by
    // projections (a tied classifier) and element by element otherwise
    // (the embedding's Gather), which then reads the strips.
    bool onlyMatMul = llvm::all_of(arg.getUses(), [&](OpOperand &use) {
      return matmulUse(use, rt::kMatMulLibraryCall);
    });
    bool transposed =
        !onlyMatMul &&
        llvm::any_of(arg.getUses(),
                     [&](OpOperand &use) {
                       return matmulUse(use, rt::kMatMulNtLibraryCall);
                     }) &&
        llvm::all_of(arg.getUses(), [&](OpOperand &use) {
          return matmulUse(use, rt::kMatMulNtLibraryCall) ||
                 isa<tensor::ExtractOp>(use.getOwner());
        });
    if (!onlyMatMul && !transposed)
      continue;
    int64_t kDim = type.getDimSize(transposed ? 1 : 0),
            nDim = type.getDimSize(transposed ? 0 : 1);
    arg.setType(RankedTensorType::get(
        {(nDim + width - 1) / width, kDim, width}, type.getElementType()));
    func.setArgAttr(arg.getArgNumber(),
                    ActSparseDialect::getWeightPanelsArgAttrName(),
                    IntegerAttr::get(IntegerType::get(ctx, 64), nDim));
    if (transposed)
      func.setArgAttr(arg.getArgNumber(),
                      ActSparseDialect::getWeightPanelsTransposedArgAttrName(),
                      UnitAttr::get(ctx));
    for (Operation *user : llvm::to_vector(arg.getUsers())) {
      if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
        // Wt[i, j] is W[j, i]: strip i / 16, row j, column i mod 16.
        OpBuilder b(extract);
        Location loc = extract.getLoc();
        Value i = extract.getIndices()[0], j = extract.getIndices()[1];
        Value w = arith::ConstantIndexOp::create(b, loc, width);
        extract.getIndicesMutable().assign(
            {arith::DivUIOp::create(b, loc, i, w), j,
             arith::RemUIOp::create(b, loc, i, w)});
        continue;
      }
      auto g = cast<linalg::GenericOp>(user);
      SmallVector<Attribute> maps(g.getIndexingMaps().getValue());
      maps[1] = AffineMapAttr::get(strips);
      g.setIndexingMapsAttr(ArrayAttr::get(ctx, maps));
      g.setLibraryCallAttr(StringAttr::get(ctx, rt::kMatMulPanelsLibraryCall));
    }
    changed = true;
  }
  if (changed)
    func.setType(FunctionType::get(ctx, entry.getArgumentTypes(),
                                   func.getResultTypes()));
}

/// Quantized weight arguments whose every use is (a cast for) the
/// quantized matmul kernel become groups of eight rows (see the pass's
/// `row-groups` option): the loader lays them out once, and the calls go
/// to the kernel for groups.
void weightsAsRowGroups(func::FuncOp func) {
  namespace rt = ::actsparse::runtime;
  MLIRContext *ctx = func.getContext();
  Block &entry = func.getBody().front();
  constexpr int64_t group = rt::kQuantGroupRows;
  Type i8 = IntegerType::get(ctx, 8);
  bool changed = false;
  for (BlockArgument arg : entry.getArguments()) {
    auto type = matrixWeight(func, arg, i8);
    if (!type)
      continue;
    // Every use a cast whose every use is the kernel's weight operand, all
    // with one constant kind.
    SmallVector<func::CallOp> calls;
    std::optional<int64_t> kind;
    bool onlyKernel = llvm::all_of(arg.getUsers(), [&](Operation *user) {
      auto cast = dyn_cast<tensor::CastOp>(user);
      return cast && !cast->use_empty() &&
             llvm::all_of(cast->getUses(), [&](OpOperand &use) {
               auto call = dyn_cast<func::CallOp>(use.getOwner());
               if (!call || call.getCallee() != rt::kQuantMatMulFunction ||
                   use.getOperandNumber() != 2)
                 return false;
               std::optional<int64_t> k =
                   getConstantIntValue(call.getOperand(0));
               if (!k || (kind && *kind != *k))
                 return false;
               kind = k;
               calls.push_back(call);
               return true;
             });
    });
    if (!onlyKernel || !kind || *kind < 0 ||
        *kind > int64_t(rt::QuantKind::Q4_1))
      continue;
    auto quant = rt::QuantKind(*kind);
    int64_t rows = type.getDimSize(0), bytes = type.getDimSize(1);
    if (bytes % rt::quantBlockBytes(quant) != 0)
      continue;
    arg.setType(RankedTensorType::get(
        {(rows + group - 1) / group, group * bytes}, type.getElementType()));
    Builder b(ctx);
    func.setArgAttr(
        arg.getArgNumber(), ActSparseDialect::getWeightRowGroupsArgAttrName(),
        b.getDictionaryAttr(
            {b.getNamedAttr("rows", b.getI64IntegerAttr(rows)),
             b.getNamedAttr("kind",
                            b.getStringAttr(rt::quantKindName(quant)))}));
    func::FuncOp kernel =
        lowering::getRuntimeKernel(func, rt::kQuantMatMulGroupsFunction,
                         calls.front().getCalleeType(), {1, 2});
    for (func::CallOp call : calls)
      call.setCallee(kernel.getSymName());
    changed = true;
  }
  if (changed)
    func.setType(FunctionType::get(ctx, entry.getArgumentTypes(),
                                   func.getResultTypes()));
}

/// In-place KV caches (--actsparse-kv-cache-in-place) and their past inputs
/// are views of runtime buffers sized to the context, not dense tensors:
/// dimensions before the cache's axis have the buffer's strides (dynamic);
/// the axis and the dimensions after it are dense, which their static
/// strides tell LLVM (attention's loops over a row vectorize).
void stridedCacheArguments(func::FuncOp func) {
  MLIRContext *ctx = func.getContext();
  StringAttr layoutKey =
      StringAttr::get(ctx, bufferization::BufferizationDialect::kBufferLayoutAttrName);
  llvm::StringMap<unsigned> argByName;
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (auto name = func.getArgAttrOfType<StringAttr>(
            i, ActSparseDialect::getOnnxNameAttrName()))
      argByName[name.getValue()] = i;
  auto makeStrided = [&](unsigned i, int64_t axis) {
    auto type = dyn_cast<RankedTensorType>(func.getArgumentTypes()[i]);
    if (!type)
      return;
    SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
    int64_t dense = 1;
    for (int64_t k = type.getRank() - 1; k >= axis && k >= 0; --k) {
      strides[k] = dense;
      if (type.isDynamicDim(k) || ShapedType::isDynamic(dense))
        dense = ShapedType::kDynamic;
      else
        dense *= type.getDimSize(k);
    }
    func.setArgAttr(i, layoutKey,
                    StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
  };
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto cache = func.getArgAttrOfType<DictionaryAttr>(
        i, ActSparseDialect::getKvCacheArgAttrName());
    auto axisAttr = cache ? cache.getAs<IntegerAttr>("axis") : nullptr;
    if (!axisAttr)
      continue;
    int64_t axis = axisAttr.getInt();
    makeStrided(i, axis);
    if (auto past = cache.getAs<StringAttr>("past"))
      if (auto it = argByName.find(past.getValue()); it != argByName.end())
        makeStrided(it->second, axis);
  }
}

struct LowerToLinalgPass
    : mlir::actsparse::impl::LowerToLinalgBase<LowerToLinalgPass> {
  using LowerToLinalgBase::LowerToLinalgBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (failed(weightsToArguments(func)))
        return signalPassFailure();
      stridedCacheArguments(func);
      // The runtime calls the entry point through its C interface.
      func->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
    }
    ConversionTarget target(getContext());
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect, func::FuncDialect,
                           memref::MemRefDialect,
                           bufferization::BufferizationDialect>();
    target.addIllegalDialect<ActSparseDialect>();
    RewritePatternSet patterns(&getContext());
    populateActSparseToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      // Ops the kernels' calls left dead (the Transpose of a tied
      // classifier, the generic dequantizing a weight for
      // Transpose(Dequantize(Q))) would still read the weights in their
      // stored layout: erased first, users before definitions.
      if (panels || rowGroups)
        for (Operation &op : llvm::make_early_inc_range(
                 llvm::reverse(func.getBody().front())))
          if (isOpTriviallyDead(&op))
            op.erase();
      if (panels)
        weightsAsPanels(func);
      if (rowGroups)
        weightsAsRowGroups(func);
    }
  }
};

} // namespace

void mlir::actsparse::populateActSparseToLinalgPatterns(
    RewritePatternSet &patterns) {
  lowering::populateElementwisePatterns(patterns);
  lowering::populateReductionPatterns(patterns);
  lowering::populateFfnPatterns(patterns);
  lowering::populateDataMovementPatterns(patterns);
  lowering::populateShapePatterns(patterns);
}
