//===- OutlineKernels.cpp - one function per distinct linalg op -----------===//
//
// Bufferized linalg ops move into private functions, deduplicated by their
// printed form (with the operands as arguments), so that LLVM compiles each
// distinct loop nest once instead of once per layer, in small functions.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/runtime/Abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_OUTLINEKERNELS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

struct OutlineKernelsPass
    : mlir::actsparse::impl::OutlineKernelsBase<OutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // A copy between buffers that are not both dense row-major would
    // become a call of MLIR's generic memrefCopy, which moves one element
    // at a time: the KV-cache Concat's copy of the past into a strided
    // slice of the present cost a quarter of stories260K's decode at 500
    // positions. As a linalg.copy it becomes a loop nest whose rows LLVM
    // copies with memcpy, and a kernel like any other.
    SmallVector<memref::CopyOp> copies;
    module.walk([&](memref::CopyOp copy) {
      auto src = cast<MemRefType>(copy.getSource().getType());
      auto dst = cast<MemRefType>(copy.getTarget().getType());
      if (!src.getLayout().isIdentity() || !dst.getLayout().isIdentity())
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
    SmallVector<Operation *> ops;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal())
        f.walk([&](linalg::LinalgOp op) {
          if (op.hasPureBufferSemantics())
            ops.push_back(op);
        });
    // Printed kernel (generic form, named alike) -> its function.
    llvm::StringMap<func::FuncOp> kernels;
    OpBuilder moduleBuilder(module.getBodyRegion());
    moduleBuilder.setInsertionPointToEnd(module.getBody());
    for (Operation *op : ops) {
      // The kernel's arguments: the op's operands, then the values its body
      // uses from above. Constants (a fill's value, a scale in the body) are
      // cloned in instead, so that the kernel stays foldable and equal ops
      // compare equal.
      llvm::SetVector<Value> used(op->operand_begin(), op->operand_end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
      SmallVector<Value> args;
      SmallVector<Operation *> constants;
      for (Value v : used) {
        Operation *def = v.getDefiningOp();
        if (def && def->hasTrait<OpTrait::ConstantLike>())
          constants.push_back(def);
        else
          args.push_back(v);
      }
      SmallVector<Type> types;
      for (Value v : args)
        types.push_back(v.getType());

      OpBuilder b(op->getContext());
      auto kernel = func::FuncOp::create(
          b, op->getLoc(), "actsparse_kernel",
          b.getFunctionType(types, /*results=*/{}));
      Block *entry = kernel.addEntryBlock();
      b.setInsertionPointToStart(entry);
      IRMapping map;
      map.map(args, entry->getArguments());
      for (Operation *c : constants)
        b.clone(*c, map);
      b.clone(*op, map);
      func::ReturnOp::create(b, op->getLoc());

      std::string text;
      {
        llvm::raw_string_ostream os(text);
        kernel->print(os, OpPrintingFlags().printGenericOpForm());
      }
      auto [it, inserted] = kernels.try_emplace(text, kernel);
      if (inserted) {
        kernel.setName(
            (::actsparse::runtime::kKernelPrefix + Twine(kernels.size() - 1))
                .str());
        kernel.setPrivate();
        markNoInline(kernel);
        moduleBuilder.insert(kernel);
      } else {
        kernel.erase();
      }
      OpBuilder callBuilder(op);
      func::CallOp::create(callBuilder, op->getLoc(), it->second, args);
      op->erase();
    }
  }
};

} // namespace
