//===- FreeAfterLastUse.cpp - free each buffer right after its last use ---===//
//
// Passes.td says why and when a dealloc moves.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_FREEAFTERLASTUSE
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// The last op of `dealloc`'s block that uses the freed buffer or a value
/// derived from it, or null when a use cannot be placed in the block or
/// the buffer may be reached in a way the uses do not show.
Operation *lastUse(memref::DeallocOp dealloc, Operation *alloc,
                   const llvm::DenseMap<Operation *, unsigned> &position) {
  Block *block = dealloc->getBlock();
  Operation *last = alloc;
  SmallVector<Value> work{dealloc.getMemref()};
  llvm::DenseSet<Value> seen(work.begin(), work.end());
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (user == dealloc.getOperation())
        continue;
      // An address compared at run time, or a value flowing elsewhere.
      if (isa<memref::ExtractAlignedPointerAsIndexOp, BranchOpInterface,
              RegionBranchTerminatorOpInterface>(user) ||
          user->hasTrait<OpTrait::ReturnLike>())
        return nullptr;
      Operation *inBlock = block->findAncestorOpInBlock(*user);
      if (!inBlock)
        return nullptr;
      if (position.lookup(last) < position.lookup(inBlock))
        last = inBlock;
      // Any memref an op makes from the buffer may alias it.
      for (Value result : user->getResults())
        if (isa<BaseMemRefType>(result.getType()) && seen.insert(result).second)
          work.push_back(result);
    }
  }
  return last;
}

struct FreeAfterLastUsePass
    : mlir::actsparse::impl::FreeAfterLastUseBase<FreeAfterLastUsePass> {
  void runOnOperation() override {
    SmallVector<memref::DeallocOp> deallocs;
    getOperation()->walk(
        [&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
    // Positions of the ops of each block, numbered once: asking MLIR for
    // the order after each move renumbers the block, which on a model's
    // one block of tens of thousands of ops took seconds. The moves come
    // after all the decisions, and moving a dealloc changes no other
    // dealloc's last use.
    llvm::DenseMap<Block *, llvm::DenseMap<Operation *, unsigned>> positions;
    SmallVector<std::pair<memref::DeallocOp, Operation *>> moves;
    for (memref::DeallocOp dealloc : deallocs) {
      auto alloc = dealloc.getMemref().getDefiningOp<memref::AllocOp>();
      if (!alloc || alloc->getBlock() != dealloc->getBlock())
        continue;
      auto [it, inserted] = positions.try_emplace(dealloc->getBlock());
      if (inserted)
        for (auto [index, op] : llvm::enumerate(*dealloc->getBlock()))
          it->second[&op] = index;
      if (Operation *last = lastUse(dealloc, alloc, it->second))
        moves.push_back({dealloc, last});
    }
    for (auto [dealloc, last] : moves)
      dealloc->moveAfter(last);
  }
};

} // namespace
