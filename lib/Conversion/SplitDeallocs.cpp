//===- SplitDeallocs.cpp - unique allocations out of a block's dealloc ----===//
//
// Passes.td says why. One pass over the operands of each
// bufferization.dealloc finds where each buffer comes from; a buffer that
// is its own allocation, and that no other operand can reach, gets a
// dealloc of its own.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_SPLITDEALLOCS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// Where a buffer's memory may come from: allocations of the function,
/// and whether it may also be an argument of the function or a global
/// (memory no allocation of the function can be).
struct Origins {
  llvm::SetVector<Value> allocations;
  bool outside = false;
};

/// Adds the origins of `v`; false when some origin cannot be told.
bool addOrigins(Value v, Block &entry, Origins &origins, unsigned depth = 0) {
  // Views, casts, reshapes and the base buffer of a descriptor
  // (extract_strided_metadata is view-like too) share their source's
  // memory.
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    origins.outside = true;
    return arg.getOwner() == &entry;
  }
  Operation *def = v.getDefiningOp();
  if (isa<memref::GetGlobalOp>(def)) {
    origins.outside = true;
    return true;
  }
  if (hasEffect<MemoryEffects::Allocate>(def, v)) {
    origins.allocations.insert(v);
    return true;
  }
  // The lowering's shape checks choose between a buffer and a fresh one.
  if (auto choice = dyn_cast<scf::IfOp>(def); choice && depth < 8) {
    unsigned i = cast<OpResult>(v).getResultNumber();
    return choice.elseBlock() &&
           addOrigins(choice.thenYield().getOperand(i), entry, origins,
                      depth + 1) &&
           addOrigins(choice.elseYield().getOperand(i), entry, origins,
                      depth + 1);
  }
  return false;
}

/// Moves every operand of `dealloc` that is one allocation no other
/// operand or retained value can reach into a dealloc of its own, placed
/// before it.
void split(bufferization::DeallocOp dealloc, Block &entry) {
  SmallVector<Origins> origins;
  llvm::DenseMap<Value, unsigned> reach; // allocation -> values reaching it
  for (Value v :
       llvm::concat<Value>(dealloc.getMemrefs(), dealloc.getRetained())) {
    Origins &o = origins.emplace_back();
    if (!addOrigins(v, entry, o))
      return;
    for (Value a : o.allocations)
      ++reach[a];
  }

  SmallVector<Value> keptMemrefs, keptConditions;
  OpBuilder b(dealloc);
  for (auto [o, memref, condition] :
       llvm::zip(origins, dealloc.getMemrefs(), dealloc.getConditions())) {
    if (!o.outside && o.allocations.size() == 1 &&
        reach[o.allocations.front()] == 1) {
      // It aliases no retained value, so it changes none of the results.
      bufferization::DeallocOp::create(b, dealloc.getLoc(), memref, condition,
                                       ValueRange{});
      continue;
    }
    keptMemrefs.push_back(memref);
    keptConditions.push_back(condition);
  }
  if (keptMemrefs.size() == dealloc.getMemrefs().size())
    return;
  dealloc.getMemrefsMutable().assign(keptMemrefs);
  dealloc.getConditionsMutable().assign(keptConditions);
}

struct SplitDeallocsPass
    : mlir::actsparse::impl::SplitDeallocsBase<SplitDeallocsPass> {
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    if (f.isExternal())
      return;
    SmallVector<bufferization::DeallocOp> deallocs;
    f.walk([&](bufferization::DeallocOp d) {
      if (d.getMemrefs().size() > 1)
        deallocs.push_back(d);
    });
    for (bufferization::DeallocOp d : deallocs)
      split(d, f.getBody().front());
  }
};

} // namespace
