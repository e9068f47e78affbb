//===- KvCacheInPlace.cpp - KV caches appended in place -------------------===//
//
// `present = Concat(past, new)` results of @main become actsparse.kv_append
// into cache arguments the runtime owns (see Passes.td for the contract).
//
//===----------------------------------------------------------------------===//

#include "MainGraph.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_KVCACHEINPLACE
#include "actsparse/Transforms/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// The Concat of a past argument and new rows that result `index` of
/// `func` returns, if the graph uses it otherwise too.
ConcatOp appendedResult(func::FuncOp func, func::ReturnOp ret,
                        unsigned index) {
  Value v = ret.getOperand(index);
  auto concat = v.getDefiningOp<ConcatOp>();
  if (!concat || concat.getInputs().size() != 2)
    return nullptr;
  auto past = dyn_cast<BlockArgument>(concat.getInputs()[0]);
  if (!past || past.getOwner() != &func.getBody().front() ||
      !func.getArgAttr(past.getArgNumber(),
                       ActSparseDialect::getOnnxNameAttrName()))
    return nullptr;
  // Returned once, and read by the graph: otherwise the Concat is only the
  // hand-back, and an append nobody reads would be the whole op.
  bool usedInside = false;
  unsigned returned = 0;
  for (OpOperand &use : v.getUses()) {
    if (use.getOwner() == ret.getOperation())
      ++returned;
    else
      usedInside = true;
  }
  if (returned != 1 || !usedInside)
    return nullptr;
  // The past must not be handed back as it is, nor appended to twice.
  for (OpOperand &use : past.getUses())
    if (use.getOwner() == ret.getOperation() ||
        (isa<ConcatOp>(use.getOwner()) && use.getOwner() != concat))
      return nullptr;
  return concat;
}

struct KvCacheInPlacePass
    : mlir::actsparse::impl::KvCacheInPlaceBase<KvCacheInPlacePass> {
  void runOnOperation() override {
    auto [func, ret, nameKey] = MainGraph::of(getOperation());
    if (!func)
      return;
    MLIRContext *ctx = &getContext();
    BitVector dropped(func.getNumResults());
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      ConcatOp concat = appendedResult(func, ret, i);
      auto name = func.getResultAttrOfType<StringAttr>(i, nameKey);
      if (!concat || !name)
        continue;
      auto past = cast<BlockArgument>(concat.getInputs()[0]);
      auto pastName = func.getArgAttrOfType<StringAttr>(past.getArgNumber(),
                                                        nameKey);
      Builder b(ctx);
      NamedAttribute attrs[] = {
          NamedAttribute(nameKey, name),
          NamedAttribute(
              b.getStringAttr(ActSparseDialect::getKvCacheArgAttrName()),
              b.getDictionaryAttr(
                  {b.getNamedAttr("past", pastName),
                   b.getNamedAttr("axis",
                                  b.getI64IntegerAttr(concat.getAxis()))}))};
      unsigned at = func.getNumArguments();
      if (failed(func.insertArgument(at, concat.getType(),
                                     b.getDictionaryAttr(attrs),
                                     concat.getLoc())))
        return signalPassFailure();
      OpBuilder ob(concat);
      auto append = KvAppendOp::create(
          ob, concat.getLoc(), concat.getType(), concat.getInputs()[1],
          func.getArgument(at), past, concat.getAxisAttr());
      concat.getResult().replaceAllUsesWith(append.getResult());
      concat.erase();
      dropped.set(i);
    }
    if (dropped.none())
      return;
    ret->eraseOperands(dropped);
    if (failed(func.eraseResults(dropped)))
      return signalPassFailure();
  }
};

} // namespace
