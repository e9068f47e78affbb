//===- OutlineLayers.cpp - one function for a model's repeated layers -----===//
//
// Passes.td says why. The pass finds, in a function's entry block, the
// longest stretch of ops that repeats with one period (the layers), checks
// each repeat against the first one op by op, value by value, and replaces
// every matching repeat with a call of one function holding the first.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <set>

namespace mlir::actsparse {
#define GEN_PASS_DEF_OUTLINELAYERS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// What two ops must share to be candidates for the same place in a
/// repeat: everything but their operands' identities and their regions
/// (the exact comparison looks at both).
llvm::hash_code shapeHash(Operation *op) {
  llvm::hash_code h =
      llvm::hash_combine(op->getName(), op->getDiscardableAttrDictionary(),
                         op->hashProperties(), op->getNumRegions());
  for (Type t : op->getResultTypes())
    h = llvm::hash_combine(h, t);
  for (Value v : op->getOperands())
    h = llvm::hash_combine(h, v.getType());
  return h;
}

bool isConstant(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>();
}

/// A run of `count` repeats of `period` ops starting at op `start` of the
/// block's op list.
struct Repeats {
  size_t start = 0, period = 0, count = 0;
};

/// The ops of a block (without its terminator) and their positions.
class BlockOps {
public:
  explicit BlockOps(Block &block) : block(block) {
    for (Operation &op : block.without_terminator()) {
      position[&op] = ops.size();
      ops.push_back(&op);
    }
  }

  /// Position of the op of this block that holds `user`, or npos when the
  /// user is the terminator or outside the block.
  size_t positionOf(Operation *user) const {
    Operation *inBlock = block.findAncestorOpInBlock(*user);
    auto it = inBlock ? position.find(inBlock) : position.end();
    return it == position.end() ? npos : it->second;
  }

  /// For each boundary p (between ops p-1 and p), how many values of the
  /// block (not constants) are defined before p and used at or after it:
  /// the arguments and results a cut at p would need.
  SmallVector<size_t> liveAcross() const {
    SmallVector<long> delta(ops.size() + 2, 0);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i]->hasTrait<OpTrait::ConstantLike>())
        continue;
      for (Value result : ops[i]->getResults()) {
        size_t last = i;
        for (Operation *user : result.getUsers()) {
          size_t p = positionOf(user);
          last = std::max(last, p == npos ? ops.size() : p);
        }
        if (last > i) {
          ++delta[i + 1];
          --delta[last + 1];
        }
      }
    }
    SmallVector<size_t> live(ops.size() + 1, 0);
    long running = 0;
    for (size_t p = 0; p <= ops.size(); ++p) {
      running += delta[p];
      live[p] = size_t(running);
    }
    return live;
  }

  static constexpr size_t npos = ~size_t(0);
  Block &block;
  SmallVector<Operation *> ops;
  llvm::DenseMap<Operation *, size_t> position;
};

/// The longest stretch of the block that repeats with one period of at
/// least `minOps` ops, cut where the fewest values cross the boundaries.
Repeats findRepeats(const BlockOps &block, size_t minOps) {
  size_t n = block.ops.size();
  SmallVector<llvm::hash_code> hash;
  for (Operation *op : block.ops)
    hash.push_back(shapeHash(op));

  // Candidate periods: the distances between consecutive occurrences of
  // equal ops; in a model, the ops that occur once per layer vote for the
  // layer's length.
  llvm::DenseMap<llvm::hash_code, size_t> lastSeen;
  llvm::DenseMap<size_t, size_t> votes;
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = lastSeen.try_emplace(hash[i], i);
    if (!inserted) {
      if (i - it->second >= minOps)
        ++votes[i - it->second];
      it->second = i;
    }
  }
  SmallVector<std::pair<size_t, size_t>> candidates; // (votes, period)
  for (auto [period, count] : votes)
    if (count >= 2)
      candidates.push_back({count, period});
  llvm::sort(candidates, [](auto a, auto b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (candidates.size() > 16)
    candidates.resize(16);

  // For each period, the longest run of positions i with op i shaped like
  // op i + period; the best period covers the most ops with whole repeats.
  size_t bestCovered = 0, bestPeriod = 0, bestStart = 0, bestRun = 0;
  for (auto [count, period] : candidates) {
    size_t runStart = 0, run = 0;
    for (size_t i = 0; i + period < n; ++i) {
      if (hash[i] != hash[i + period]) {
        run = 0;
        continue;
      }
      if (run++ == 0)
        runStart = i;
      size_t covered = (run + period) / period * period;
      if (covered > bestCovered ||
          (covered == bestCovered && period < bestPeriod)) {
        bestCovered = covered;
        bestPeriod = period;
        bestStart = runStart;
        bestRun = run;
      }
    }
  }
  if (bestPeriod == 0 || bestRun < bestPeriod)
    return {};

  // Positions [start, start + run) match the op one period later. A cut
  // at p gives 1 + (start + run - p) / period repeats; among the cuts with
  // the most repeats, take the one fewest values cross.
  SmallVector<size_t> live = block.liveAcross();
  Repeats best;
  size_t bestLive = 0;
  for (size_t p = bestStart; p < bestStart + bestPeriod; ++p) {
    if (p > bestStart + bestRun)
      break;
    size_t count = 1 + (bestStart + bestRun - p) / bestPeriod;
    size_t crossing = live[p] + live[p + count * bestPeriod];
    if (count > best.count || (count == best.count && crossing < bestLive)) {
      best = {p, bestPeriod, count};
      bestLive = crossing;
    }
  }
  return best;
}

/// One repeat: its ops, and the values it uses from before it, in the
/// order of first use.
struct Repeat {
  size_t start = 0;
  SmallVector<Value> inputs;
  /// Inputs of one use each (constants): the reference repeat's op, the
  /// operand, and the input.
  SmallVector<std::tuple<Operation *, unsigned, size_t>> singleUses;
};

/// Whether the `period` ops from `start` compute what the reference repeat
/// computes: the same ops with the same attributes, properties, types and
/// regions, each operand the same value of the repeat or the same input.
/// Fills `repeat.inputs` in the order matching `reference`'s.
bool matches(const BlockOps &block, size_t referenceStart, size_t start,
             size_t period, Repeat &repeat) {
  llvm::DenseMap<Value, Value> equal; // reference value -> this repeat's
  llvm::DenseSet<Value> image;        // the values of this repeat
  llvm::DenseMap<Value, size_t> inputOf, otherInputOf;
  repeat.start = start;
  repeat.inputs.clear();
  repeat.singleUses.clear();
  auto record = [&](Value a, Value b) {
    equal[a] = b;
    image.insert(b);
  };
  auto sameOperand = [&](Value a, Value b, Operation *user, unsigned operand) {
    if (auto it = equal.find(a); it != equal.end())
      return it->second == b;
    // `a` comes from before the reference repeat: `b` must come from
    // before this one, and be the same input.
    if (image.contains(b) || a.getType() != b.getType())
      return false;
    // A constant is a value, not an identity: each use is an input of its
    // own (one constant 1 may be a stride in one place and the layer
    // number in another). Inputs that are the same constant in every
    // repeat are cloned into the function.
    if (isConstant(a) || isConstant(b)) {
      repeat.singleUses.push_back({user, operand, repeat.inputs.size()});
      repeat.inputs.push_back(b);
      return true;
    }
    auto ia = inputOf.find(a);
    auto ib = otherInputOf.find(b);
    bool seenA = ia != inputOf.end(), seenB = ib != otherInputOf.end();
    if (seenA || seenB)
      return seenA && seenB && ia->second == ib->second;
    inputOf[a] = otherInputOf[b] = repeat.inputs.size();
    repeat.inputs.push_back(b);
    return true;
  };
  for (size_t k = 0; k < period; ++k) {
    Operation *a = block.ops[referenceStart + k];
    Operation *b = block.ops[start + k];
    if (!OperationEquivalence::isEquivalentTo(
            a, b, OperationEquivalence::ignoreValueEquivalence, nullptr,
            OperationEquivalence::IgnoreLocations))
      return false;
    // Same shape, so both walks visit corresponding ops in step.
    SmallVector<Operation *> opsA, opsB;
    a->walk<WalkOrder::PreOrder>([&](Operation *op) { opsA.push_back(op); });
    b->walk<WalkOrder::PreOrder>([&](Operation *op) { opsB.push_back(op); });
    if (opsA.size() != opsB.size())
      return false;
    for (auto [x, y] : llvm::zip_equal(opsA, opsB)) {
      if (x->getNumOperands() != y->getNumOperands())
        return false;
      for (unsigned i = 0; i < x->getNumOperands(); ++i)
        if (!sameOperand(x->getOperand(i), y->getOperand(i), x, i))
          return false;
      for (auto [u, v] : llvm::zip_equal(x->getResults(), y->getResults()))
        record(u, v);
      for (auto [ra, rb] : llvm::zip_equal(x->getRegions(), y->getRegions()))
        for (auto [ba, bb] : llvm::zip_equal(ra, rb))
          for (auto [u, v] :
               llvm::zip_equal(ba.getArguments(), bb.getArguments()))
            record(u, v);
    }
  }
  return true;
}

/// The results of a repeat's ops used after it: (op offset, result number).
void collectOutputs(const BlockOps &block, size_t start, size_t period,
                    std::set<std::pair<size_t, unsigned>> &outputs) {
  for (size_t k = 0; k < period; ++k)
    for (OpResult result : block.ops[start + k]->getResults())
      for (Operation *user : result.getUsers()) {
        size_t p = block.positionOf(user);
        if (p == BlockOps::npos || p < start || p >= start + period) {
          outputs.insert({k, result.getResultNumber()});
          break;
        }
      }
}

/// Moves the block's constants to its start, one op per value: a
/// repeat's constants that differ from another's (a layer number) are then
/// inputs like any other value, and equal constants are one value (the
/// lowering after the last CSE makes copies).
void hoistConstants(Block &block) {
  llvm::DenseMap<llvm::hash_code, SmallVector<Operation *>> seen;
  Operation *insertBefore = &block.front();
  for (Operation &op : llvm::make_early_inc_range(block)) {
    if (!op.hasTrait<OpTrait::ConstantLike>() || op.getNumResults() != 1)
      continue;
    llvm::hash_code h = OperationEquivalence::computeHash(
        &op, OperationEquivalence::ignoreHashValue,
        OperationEquivalence::ignoreHashValue,
        OperationEquivalence::IgnoreLocations);
    SmallVector<Operation *> &same = seen[h];
    auto equal = llvm::find_if(same, [&](Operation *other) {
      return OperationEquivalence::isEquivalentTo(
          &op, other, OperationEquivalence::IgnoreLocations);
    });
    if (equal != same.end()) {
      if (&op == insertBefore)
        insertBefore = op.getNextNode();
      op.getResult(0).replaceAllUsesWith((*equal)->getResult(0));
      op.erase();
      continue;
    }
    same.push_back(&op);
    if (&op == insertBefore)
      insertBefore = op.getNextNode();
    else
      op.moveBefore(insertBefore);
  }
}

struct OutlineLayersPass
    : mlir::actsparse::impl::OutlineLayersBase<OutlineLayersPass> {
  using OutlineLayersBase::OutlineLayersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal())
        functions.push_back(f);
    unsigned made = 0;
    for (func::FuncOp f : functions) {
      hoistConstants(f.getBody().front());
      // Each round replaces at least two repeats by calls; a second group
      // of repeats (an encoder and a decoder) gets a round of its own.
      for (int round = 0; round < 4; ++round)
        if (!outlineOnce(module, f, made))
          break;
    }
  }

  /// Outlines the longest repeating stretch of `f`'s entry block; false
  /// when there is none (of at least minOps ops, repeated twice).
  bool outlineOnce(ModuleOp module, func::FuncOp f, unsigned &made) {
    BlockOps block(f.getBody().front());
    Repeats found = findRepeats(block, minOps);
    if (found.count < 2)
      return false;
    size_t period = found.period;

    // Every repeat must match the first; those that do not stay inline.
    SmallVector<Repeat> repeats;
    for (size_t r = 0; r < found.count; ++r) {
      Repeat repeat;
      if (matches(block, found.start, found.start + r * period, period, repeat))
        repeats.push_back(std::move(repeat));
    }
    if (repeats.size() < 2)
      return false;

    std::set<std::pair<size_t, unsigned>> outputs;
    for (const Repeat &repeat : repeats)
      collectOutputs(block, repeat.start, period, outputs);
    // A stack buffer cannot outlive the call.
    for (auto [k, number] : outputs)
      if (isa<memref::AllocaOp>(block.ops[found.start + k]))
        return false;

    // Inputs that are the same constant in every repeat are cloned into
    // the function: the code stays foldable.
    const Repeat &first = repeats.front();
    SmallVector<bool> cloned(first.inputs.size(), false);
    for (size_t i = 0; i < first.inputs.size(); ++i) {
      cloned[i] = llvm::all_of(repeats, [&](const Repeat &repeat) {
        Value v = repeat.inputs[i];
        return isConstant(v) && isConstant(first.inputs[i]) &&
               OperationEquivalence::isEquivalentTo(
                   v.getDefiningOp(), first.inputs[i].getDefiningOp(),
                   OperationEquivalence::IgnoreLocations);
      });
    }

    SmallVector<Type> argTypes, resultTypes;
    for (size_t i = 0; i < first.inputs.size(); ++i)
      if (!cloned[i])
        argTypes.push_back(first.inputs[i].getType());
    for (auto [k, number] : outputs)
      resultTypes.push_back(
          block.ops[first.start + k]->getResult(number).getType());

    OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    auto layer = func::FuncOp::create(
        b, f.getLoc(), ("actsparse_layer_" + Twine(made++)).str(),
        b.getFunctionType(argTypes, resultTypes));
    layer.setPrivate();
    markNoInline(layer);
    Block *entry = layer.addEntryBlock();
    b.setInsertionPointToStart(entry);
    SmallVector<Value> inputValues;
    unsigned arg = 0;
    for (size_t i = 0; i < first.inputs.size(); ++i) {
      Value v = first.inputs[i];
      inputValues.push_back(
          cloned[i] ? Value(b.clone(*v.getDefiningOp())->getResult(0))
                    : entry->getArgument(arg++));
    }
    // Inputs of several uses map by value; those of one use are set on
    // their use after cloning (one constant may be several inputs).
    llvm::DenseSet<size_t> singleUse;
    for (auto [user, operand, input] : first.singleUses)
      singleUse.insert(input);
    IRMapping map;
    for (size_t i = 0; i < first.inputs.size(); ++i)
      if (!singleUse.contains(i))
        map.map(first.inputs[i], inputValues[i]);
    for (size_t k = 0; k < period; ++k)
      b.clone(*block.ops[first.start + k], map);
    for (auto [user, operand, input] : first.singleUses)
      map.lookup(user)->setOperand(operand, inputValues[input]);
    hoistConstants(*entry);
    SmallVector<Value> returned;
    for (auto [k, number] : outputs)
      returned.push_back(
          map.lookup(block.ops[first.start + k]->getResult(number)));
    func::ReturnOp::create(b, f.getLoc(), returned);

    // A repeat's inputs may be outputs of the repeat before it, replaced
    // by that repeat's call by then.
    llvm::DenseMap<Value, Value> replaced;
    for (const Repeat &repeat : repeats) {
      SmallVector<Value> args;
      for (size_t i = 0; i < repeat.inputs.size(); ++i)
        if (!cloned[i])
          args.push_back(
              replaced.lookup_or(repeat.inputs[i], repeat.inputs[i]));
      Operation *firstOp = block.ops[repeat.start];
      OpBuilder callBuilder(firstOp);
      auto call =
          func::CallOp::create(callBuilder, firstOp->getLoc(), layer, args);
      for (auto [index, output] : llvm::enumerate(outputs)) {
        Value old =
            block.ops[repeat.start + output.first]->getResult(output.second);
        old.replaceAllUsesWith(call.getResult(index));
        replaced[old] = call.getResult(index);
      }
      for (size_t k = period; k-- > 0;)
        block.ops[repeat.start + k]->erase();
    }
    return true;
  }
};

} // namespace
