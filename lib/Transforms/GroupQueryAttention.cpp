//===- GroupQueryAttention.cpp - attention without repeated KV heads ------===//
//
// MatMul(A, Reshape(Expand(Unsqueeze(kv, 2)))) -> grouped rows of A against
// kv itself (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_GROUPQUERYATTENTION
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

bool sameOrDynamic(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// What `repeated` [B, Hkv * G, S, D] repeats G >= 1 times per head:
/// Reshape(Expand(Unsqueeze(kv, 2))) of the key/value tensor kv
/// [B, Hkv, S, D].
struct RepeatedHeads {
  Value kv; ///< null when `repeated` is not such a repeat
  int64_t groups = 0;
  UnsqueezeOp unsqueeze;
  ExpandOp expand;
  ReshapeOp reshape;
};

RepeatedHeads repeatedHeads(Value repeated) {
  auto reshape = repeated.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return {};
  auto expand = reshape.getInput().getDefiningOp<ExpandOp>();
  if (!expand)
    return {};
  auto unsqueeze = expand.getInput().getDefiningOp<UnsqueezeOp>();
  if (!unsqueeze || unsqueeze.getAxes() != ArrayRef<int64_t>{2})
    return {};
  Value kv = unsqueeze.getInput();
  ArrayRef<int64_t> r = reshape.getType().getShape();
  ArrayRef<int64_t> e = expand.getType().getShape();
  auto kvType = cast<RankedTensorType>(kv.getType());
  ArrayRef<int64_t> k = kvType.getShape();
  if (r.size() != 4 || e.size() != 5 || k.size() != 4)
    return {};
  int64_t heads = r[1], kvHeads = k[1], groups = e[2];
  if (ShapedType::isDynamic(heads) || ShapedType::isDynamic(kvHeads) ||
      ShapedType::isDynamic(groups) || groups < 1 || e[1] != kvHeads ||
      heads != kvHeads * groups)
    return {};
  // The Expand broadcasts the inserted unit dimension only; the Reshape
  // keeps the head size and merges heads and groups.
  if (!sameOrDynamic(e[0], k[0]) || !sameOrDynamic(e[3], k[2]) ||
      ShapedType::isDynamic(e[4]) || e[4] != k[3] || r[3] != k[3] ||
      !sameOrDynamic(r[0], k[0]) || !sameOrDynamic(r[2], k[2]))
    return {};
  return {kv, groups, unsqueeze, expand, reshape};
}

/// The keys' transpose in attention: the last two dimensions swapped.
bool swapsLastTwo(TransposeOp transpose) {
  return transpose.getPerm() == ArrayRef<int64_t>{0, 1, 3, 2};
}

Value reshapeTo(PatternRewriter &b, Location loc, Value v,
                ArrayRef<int64_t> shape, RankedTensorType type) {
  auto shapeType =
      RankedTensorType::get({int64_t(shape.size())}, b.getI64Type());
  Value s = ConstantOp::create(b, loc, shapeType,
                               DenseElementsAttr::get(shapeType, shape));
  return ReshapeOp::create(b, loc, type, v, s);
}

struct GroupHeads : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &b) const override {
    Value rhs = op.getRhs();
    auto transpose = rhs.getDefiningOp<TransposeOp>();
    if (transpose) {
      if (!swapsLastTwo(transpose))
        return failure();
      rhs = transpose.getInput();
    }
    RepeatedHeads heads = repeatedHeads(rhs);
    Value kv = heads.kv;
    int64_t groups = heads.groups;
    if (!kv || groups < 2)
      return failure();
    auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
    auto type = op.getType();
    int64_t kvHeads = cast<RankedTensorType>(kv.getType()).getDimSize(1);
    if (lhsType.getRank() != 4 || type.getRank() != 4 ||
        lhsType.getDimSize(1) != kvHeads * groups)
      return failure();
    Location loc = op.getLoc();
    int64_t rows = lhsType.isDynamicDim(2) ? ShapedType::kDynamic
                                           : lhsType.getDimSize(2) * groups;
    Value lhs = reshapeTo(b, loc, op.getLhs(), {0, kvHeads, -1, 0},
                          RankedTensorType::get({lhsType.getDimSize(0), kvHeads,
                                                 rows, lhsType.getDimSize(3)},
                                                lhsType.getElementType()));
    Value right = kv;
    if (transpose) {
      auto kvType = cast<RankedTensorType>(kv.getType());
      right = TransposeOp::create(
          b, loc,
          RankedTensorType::get({kvType.getDimSize(0), kvHeads,
                                 kvType.getDimSize(3), kvType.getDimSize(2)},
                                kvType.getElementType()),
          kv, transpose.getPermAttr());
    }
    auto rightType = cast<RankedTensorType>(right.getType());
    Value grouped =
        MatMulOp::create(b, loc,
                         RankedTensorType::get({type.getDimSize(0), kvHeads,
                                                rows, rightType.getDimSize(3)},
                                               type.getElementType()),
                         lhs, right);
    b.replaceOp(op,
                reshapeTo(b, loc, grouped, {0, kvHeads * groups, -1, 0}, type));
    return success();
  }
};

/// MatMul(A, Mul(Transpose(repeated, [0, 1, 3, 2]), s)), s one element
/// (PyTorch's export of scaled_dot_product_attention scales the transposed
/// keys) -> MatMul(A, Transpose(repeat of Mul(kv, s))). Scaling commutes
/// exactly with the copy and the transpose, so every product is the same;
/// GroupHeads then reads the scaled kv heads without repeating them.
struct ScaleKeysBeforeRepeat : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &b) const override {
    auto mul = op.getRhs().getDefiningOp<MulOp>();
    if (!mul || !mul->hasOneUse())
      return failure();
    Value keys = mul.getLhs(), scale = mul.getRhs();
    if (!keys.getDefiningOp<TransposeOp>())
      std::swap(keys, scale);
    auto transpose = keys.getDefiningOp<TransposeOp>();
    auto scaleType = dyn_cast<RankedTensorType>(scale.getType());
    if (!transpose || !swapsLastTwo(transpose) || !scaleType ||
        !scaleType.hasStaticShape() || scaleType.getNumElements() != 1 ||
        scaleType.getRank() > 4 || keys.getType() != mul.getType())
      return failure();
    RepeatedHeads heads = repeatedHeads(transpose.getInput());
    Value kv = heads.kv;
    if (!kv || heads.groups < 2 ||
        getElementTypeOrSelf(kv) != scaleType.getElementType())
      return failure();
    // The repeat, rebuilt on the scaled heads.
    IRMapping map;
    map.map(kv, MulOp::create(b, mul.getLoc(), kv.getType(), kv, scale));
    for (Operation *step :
         {heads.unsqueeze.getOperation(), heads.expand.getOperation(),
          heads.reshape.getOperation(), transpose.getOperation()})
      b.clone(*step, map);
    b.modifyOpInPlace(op, [&] {
      op.getRhsMutable().assign(map.lookup(transpose.getResult()));
    });
    return success();
  }
};

/// A repeat of every head once (G = 1: exports write `repeat_kv` for plain
/// multi-head attention too) is kv itself. Left in place, the Reshape of a
/// KV-cache view that is not dense copies the whole cache, per layer and
/// step, before attention reads it.
struct DropSingleRepeat : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &b) const override {
    RepeatedHeads heads = repeatedHeads(op.getResult());
    if (!heads.kv || heads.groups != 1 || heads.kv.getType() != op.getType())
      return failure();
    b.replaceOp(op, heads.kv);
    return success();
  }
};

struct GroupQueryAttentionPass
    : mlir::actsparse::impl::GroupQueryAttentionBase<GroupQueryAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GroupHeads, ScaleKeysBeforeRepeat, DropSingleRepeat>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
