//===- ParallelKernels.cpp - outlined kernels on the runtime's threads ----===//
//
// Two passes (Passes.td): actsparse-parallel-kernels, on outlined kernels
// before their linalg op becomes loops, splits the op's leading parallel
// loops into chunks and keeps a serial call of the whole; and
// actsparse-parallel-kernel-calls, on the LLVM dialect, turns those calls
// into the runtime's parallel-for over the chunks.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/runtime/Abi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/FunctionCallUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringMap.h"

#include <numeric>

namespace mlir::actsparse {
#define GEN_PASS_DEF_PARALLELKERNELS
#define GEN_PASS_DEF_PARALLELKERNELCALLS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// Suffixes of the functions the two passes add to a kernel's name.
constexpr llvm::StringLiteral kChunkSuffix = "_chunk";
constexpr llvm::StringLiteral kTaskSuffix = "_task";

/// The one linalg op of an outlined kernel that may run in chunks: its
/// first loop is parallel; every output's indexing map is a projected
/// permutation that uses each of the leading parallel loops, so chunks of
/// them write disjoint elements; its body computes only (no calls, such as
/// the runtime's index-error reports, whose thread-local state a worker
/// thread would keep to itself). Null otherwise.
linalg::LinalgOp chunkableOp(func::FuncOp kernel) {
  linalg::LinalgOp found;
  for (Operation &op : kernel.getBody().front()) {
    if (isa<func::ReturnOp>(op) || op.hasTrait<OpTrait::ConstantLike>())
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!linalgOp || found)
      return {};
    found = linalgOp;
  }
  if (!found || !found.hasPureBufferSemantics() || found.getNumLoops() == 0)
    return {};
  SmallVector<utils::IteratorType> iterators = found.getIteratorTypesArray();
  unsigned leading = 0;
  while (leading < iterators.size() &&
         iterators[leading] == utils::IteratorType::parallel)
    ++leading;
  if (leading == 0)
    return {};
  for (OpOperand &out : found.getDpsInitsMutable()) {
    AffineMap map = found.getMatchingIndexingMap(&out);
    if (!map.isProjectedPermutation())
      return {};
    for (unsigned d = 0; d < leading; ++d)
      if (!map.isFunctionOfDim(d))
        return {};
  }
  bool pure = true;
  for (Region &region : found->getRegions())
    region.walk([&](Operation *nested) {
      if (!isa<linalg::YieldOp, linalg::IndexOp>(nested) && !isPure(nested))
        pure = false;
    });
  return pure ? found : linalg::LinalgOp();
}

/// ceil-free chunk bound: n * part / parts.
Value chunkBound(OpBuilder &b, Location loc, Value n, Value part, Value parts) {
  Value scaled = arith::MulIOp::create(b, loc, n, part);
  return arith::DivUIOp::create(b, loc, scaled, parts);
}

struct ParallelKernelsPass
    : mlir::actsparse::impl::ParallelKernelsBase<ParallelKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal() &&
          f.getSymName().starts_with(::actsparse::runtime::kKernelPrefix) &&
          !f.getSymName().ends_with(kChunkSuffix))
        kernels.push_back(f);
    for (func::FuncOp kernel : kernels)
      if (linalg::LinalgOp op = chunkableOp(kernel))
        split(kernel, op);
  }

  /// Splits `kernel` as the pass describes. The kernel is only changed at
  /// the end; a loop nest of a form not foreseen (no leading scf.parallel,
  /// a first loop not from 0 in steps of 1) leaves it whole and runs as it
  /// did.
  void split(func::FuncOp kernel, linalg::LinalgOp op) {
    MLIRContext *ctx = kernel.getContext();
    Location loc = op.getLoc();
    IRRewriter rewriter(ctx);
    Type index = rewriter.getIndexType();

    // The chunk function: the kernel's arguments, then work, t, T.
    SmallVector<Type> types(kernel.getArgumentTypes());
    types.append({index, index, index});
    rewriter.setInsertionPointAfter(kernel);
    auto chunk = func::FuncOp::create(
        rewriter, loc, (kernel.getSymName() + kChunkSuffix).str(),
        rewriter.getFunctionType(types, {}));
    chunk.setPrivate();
    markNoInline(chunk);
    Block *entry = chunk.addEntryBlock();
    rewriter.setInsertionPointToStart(entry);
    IRMapping map;
    map.map(kernel.getArguments(),
            entry->getArguments().take_front(kernel.getNumArguments()));
    Operation *clone = nullptr;
    for (Operation &o : kernel.getBody().front()) {
      if (isa<func::ReturnOp>(o))
        continue;
      Operation *c = rewriter.clone(o, map);
      if (&o == op.getOperation())
        clone = c;
    }
    func::ReturnOp::create(rewriter, loc);

    // The clone as scf.parallel loops over its leading parallel loops.
    rewriter.setInsertionPoint(clone);
    auto giveUp = [&] { rewriter.eraseOp(chunk); };
    FailureOr<linalg::LinalgLoops> loops =
        linalg::linalgOpToParallelLoops(rewriter, cast<linalg::LinalgOp>(clone));
    if (failed(loops) || loops->empty())
      return giveUp();
    rewriter.eraseOp(clone);
    auto parallel = dyn_cast<scf::ParallelOp>((*loops)[0]);
    if (!parallel)
      return giveUp();
    // Collapse the leading loops into one: all of them when a reduction
    // follows, all but the innermost when every loop is parallel (the
    // innermost stays a contiguous loop for the vectorizer).
    unsigned n = parallel.getNumLoops();
    bool allParallel = n == op.getNumLoops();
    unsigned outer = allParallel && n > 1 ? n - 1 : n;
    if (outer > 1 || n > outer) {
      std::vector<unsigned> first(outer);
      std::iota(first.begin(), first.end(), 0);
      SmallVector<std::vector<unsigned>> combined = {first};
      for (unsigned d = outer; d < n; ++d)
        combined.push_back({d});
      rewriter.setInsertionPoint(parallel);
      collapseParallelLoops(rewriter, parallel, combined);
      // The collapsed loop: the outermost scf.parallel (a nest with a
      // reduction between parallel loops has others inside it).
      parallel = nullptr;
      chunk.walk<WalkOrder::PreOrder>([&](scf::ParallelOp p) {
        if (!parallel)
          parallel = p;
      });
      if (!parallel)
        return giveUp();
    }
    // Chunk t of T of the first loop, which starts at 0 in steps of 1
    // (linalg's loops, or the collapsed one).
    if (!matchPattern(parallel.getLowerBound()[0], m_Zero()) ||
        !matchPattern(parallel.getStep()[0], m_One()))
      return giveUp();
    rewriter.setInsertionPoint(parallel);
    Value total = parallel.getUpperBound()[0];
    Value t = entry->getArgument(kernel.getNumArguments() + 1);
    Value parts = entry->getArgument(kernel.getNumArguments() + 2);
    Value lb = chunkBound(rewriter, loc, total, t, parts);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value next = arith::AddIOp::create(rewriter, loc, t, one);
    Value ub = chunkBound(rewriter, loc, total, next, parts);
    rewriter.modifyOpInPlace(parallel, [&] {
      parallel.getLowerBoundMutable()[0].set(lb);
      parallel.getUpperBoundMutable()[0].set(ub);
    });

    // The kernel: its work (the product of the op's loop ranges), then the
    // whole op as chunk 0 of 1.
    rewriter.setInsertionPoint(op);
    Value work = arith::ConstantIndexOp::create(rewriter, loc, 1);
    for (Range r : op.createLoopRanges(rewriter, loc))
      work = arith::MulIOp::create(
          rewriter, loc, work,
          getValueOrCreateConstantIndexOp(rewriter, loc, r.size));
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value whole = arith::ConstantIndexOp::create(rewriter, loc, 1);
    SmallVector<Value> args(kernel.getArguments());
    args.append({work, zero, whole});
    func::CallOp::create(rewriter, loc, chunk, args);
    rewriter.eraseOp(op);
  }
};

struct ParallelKernelCallsPass
    : mlir::actsparse::impl::ParallelKernelCallsBase<ParallelKernelCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<LLVM::LLVMFuncOp> chunks;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>())
      if (!f.isExternal() &&
          f.getSymName().starts_with(::actsparse::runtime::kKernelPrefix) &&
          f.getSymName().ends_with(kChunkSuffix))
        chunks.push_back(f);
    if (chunks.empty())
      return;
    OpBuilder b(ctx);
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    Type voidType = LLVM::LLVMVoidType::get(ctx);
    b.setInsertionPointToEnd(module.getBody());
    auto parallelFor = LLVM::lookupOrCreateFn(
        b, module, ::actsparse::runtime::kParallelForFunction, {ptr, ptr, i64},
        voidType);
    if (failed(parallelFor))
      return signalPassFailure();

    // The chunk functions' callers (their kernels), found in one walk
    // before any task function, whose own calls must stay, exists.
    llvm::StringMap<SmallVector<LLVM::CallOp>> callsOf;
    for (LLVM::LLVMFuncOp chunk : chunks)
      callsOf[chunk.getSymName()];
    module.walk([&](LLVM::CallOp call) {
      if (std::optional<StringRef> callee = call.getCallee())
        if (auto it = callsOf.find(*callee); it != callsOf.end())
          it->second.push_back(call);
    });

    for (LLVM::LLVMFuncOp chunk : chunks) {
      LLVM::LLVMFunctionType type = chunk.getFunctionType();
      unsigned nargs = type.getNumParams();
      if (nargs < 3) {
        chunk.emitOpError("is not a kernel chunk (work, t, T last)");
        return signalPassFailure();
      }
      // The arguments the chunk takes before work, t and T, as one struct.
      auto frame = LLVM::LLVMStructType::getLiteral(
          ctx, type.getParams().drop_back(3));
      LLVM::LLVMFuncOp task = makeTask(b, chunk, frame);
      for (LLVM::CallOp call : callsOf[chunk.getSymName()]) {
        auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
        Location loc = call.getLoc();
        // One slot per call, in the caller's entry block (not in a loop).
        OpBuilder entry(&caller.getBody().front(),
                        caller.getBody().front().begin());
        Value count = LLVM::ConstantOp::create(entry, loc, i64,
                                               entry.getI64IntegerAttr(1));
        Value slot = LLVM::AllocaOp::create(entry, loc, ptr, frame, count);
        OpBuilder at(call);
        for (unsigned i = 0; i + 3 < nargs; ++i) {
          Value field = LLVM::GEPOp::create(
              at, loc, ptr, frame, slot,
              ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
          LLVM::StoreOp::create(at, loc, call.getArgOperands()[i], field);
        }
        Value fn = LLVM::AddressOfOp::create(at, loc, ptr, task.getSymName());
        LLVM::CallOp::create(at, loc, *parallelFor,
                             ValueRange{fn, slot,
                                        call.getArgOperands()[nargs - 3]});
        call.erase();
      }
    }
  }

  /// `<chunk>_task(slot, t, T)`: loads the chunk's arguments from `slot`
  /// and calls it for chunk t of T (its work argument unused: 0).
  LLVM::LLVMFuncOp makeTask(OpBuilder &b, LLVM::LLVMFuncOp chunk,
                            LLVM::LLVMStructType frame) {
    MLIRContext *ctx = b.getContext();
    Location loc = chunk.getLoc();
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfter(chunk);
    std::string name = chunk.getSymName().drop_back(kChunkSuffix.size()).str() +
                       kTaskSuffix.str();
    auto task = LLVM::LLVMFuncOp::create(
        b, loc, name,
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                    {ptr, i64, i64}));
    task.setPrivate();
    Block *body = task.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> args;
    for (auto [i, fieldType] : llvm::enumerate(frame.getBody())) {
      Value field = LLVM::GEPOp::create(
          b, loc, ptr, frame, body->getArgument(0),
          ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      args.push_back(LLVM::LoadOp::create(b, loc, fieldType, field));
    }
    args.push_back(
        LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0)));
    args.push_back(body->getArgument(1));
    args.push_back(body->getArgument(2));
    LLVM::CallOp::create(b, loc, chunk, args);
    LLVM::ReturnOp::create(b, loc, ValueRange());
    return task;
  }
};

} // namespace
