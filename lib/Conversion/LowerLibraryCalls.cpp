//===- LowerLibraryCalls.cpp - runtime kernels as calls -------------------===//
//
// Bufferized linalg ops tagged with a runtime kernel's library call become
// calls through the kernel's C interface. Only ActSparse's own kernels are
// matched, so every other linalg op continues to loops.
//
// A product into a buffer the code has just filled with zeros (how a
// matmul's init is lowered) calls the kernel's "set" variant (C = A W)
// instead, and the fill goes: on SmolLM2's prefill that fill was a memset
// of every projection's output on the calling thread while the other
// threads waited.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/runtime/Abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::actsparse {
#define GEN_PASS_DEF_LOWERLIBRARYCALLS
#include "actsparse/Conversion/Passes.h.inc"
} // namespace mlir::actsparse

using namespace mlir;
using namespace mlir::actsparse;

namespace {

/// The fully dynamic strided form the kernel's C interface receives.
MemRefType stridedForm(MemRefType t) {
  SmallVector<int64_t> shape(t.getRank(), ShapedType::kDynamic);
  SmallVector<int64_t> strides(t.getRank(), ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(t.getContext(), ShapedType::kDynamic,
                                       strides);
  return MemRefType::get(shape, t.getElementType(), layout,
                         t.getMemorySpace());
}

/// The kernels with a "set" variant, and its name.
StringRef setVariantOf(StringRef call) {
  namespace rt = ::actsparse::runtime;
  if (call == rt::kMatMulLibraryCall)
    return rt::kMatMulSetFunction;
  if (call == rt::kMatMulNtLibraryCall)
    return rt::kMatMulNtSetFunction;
  if (call == rt::kMatMulPanelsLibraryCall)
    return rt::kMatMulPanelsSetFunction;
  if (call == rt::kBatchMatMulLibraryCall)
    return rt::kBatchMatMulSetFunction;
  if (call == rt::kBatchMatMulNtLibraryCall)
    return rt::kBatchMatMulNtSetFunction;
  return {};
}

/// The zero fill of `op`'s output that the set variant makes redundant:
/// a linalg.fill of constant +0.0 into the very buffer, earlier in the
/// same block, with nothing between them that mentions the buffer (no
/// read, write or view of it; the buffer is the alloc itself, so there is
/// no other name for it).
linalg::FillOp zeroFillBefore(linalg::GenericOp op) {
  Value out = op.getDpsInits()[0];
  if (!out.getDefiningOp<memref::AllocOp>())
    return {};
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    auto fill = dyn_cast<linalg::FillOp>(prev);
    if (fill && fill.getDpsInits()[0] == out) {
      FloatAttr value;
      if (!matchPattern(fill.getInputs()[0], m_Constant(&value)) ||
          !value.getValue().isPosZero())
        return {};
      return fill;
    }
    bool mentions = false;
    prev->walk([&](Operation *nested) {
      mentions |= llvm::is_contained(nested->getOperands(), out);
    });
    if (mentions)
      return {};
  }
  return {};
}

struct LowerLibraryCallsPass
    : mlir::actsparse::impl::LowerLibraryCallsBase<LowerLibraryCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Bufferization hints on runtime declarations have served their purpose
    // and mean nothing to the LLVM lowering.
    for (auto f : module.getOps<func::FuncOp>())
      if (f.isExternal())
        for (unsigned i = 0; i < f.getNumArguments(); ++i)
          f.removeArgAttr(i, "bufferization.access");
    SmallVector<linalg::GenericOp> calls;
    module.walk([&](linalg::GenericOp op) {
      namespace rt = ::actsparse::runtime;
      if (!op.getLibraryCallAttr())
        return;
      StringRef name = op.getLibraryCallAttr().getValue();
      if (name == rt::kMatMulLibraryCall || name == rt::kMatMulNtLibraryCall ||
          name == rt::kMatMulPanelsLibraryCall ||
          name == rt::kBatchMatMulLibraryCall ||
          name == rt::kBatchMatMulNtLibraryCall)
        calls.push_back(op);
    });
    for (linalg::GenericOp op : calls) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("runtime kernel call before bufferization");
        return signalPassFailure();
      }
      StringRef name = op.getLibraryCallAttr().getValue();
      if (StringRef set = setVariantOf(name); !set.empty())
        if (linalg::FillOp fill = zeroFillBefore(op)) {
          fill.erase();
          name = set;
        }
      OpBuilder b(op);
      SmallVector<Value> args;
      SmallVector<Type> types;
      for (Value v : op->getOperands()) {
        MemRefType t = stridedForm(cast<MemRefType>(v.getType()));
        args.push_back(memref::CastOp::create(b, op.getLoc(), t, v));
        types.push_back(t);
      }
      auto callee = module.lookupSymbol<func::FuncOp>(name);
      if (!callee) {
        OpBuilder mb(module.getBodyRegion());
        callee = func::FuncOp::create(mb, module.getLoc(), name,
                                      mb.getFunctionType(types, {}));
        callee.setPrivate();
        callee->setAttr("llvm.emit_c_interface", mb.getUnitAttr());
      }
      func::CallOp::create(b, op.getLoc(), callee, args);
      op.erase();
    }
  }
};

} // namespace
