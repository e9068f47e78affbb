//===- MainGraph.h - the imported graph the passes rewrite (internal) -----===//
//
// The graph passes that change @main's signature (KvCacheInPlace,
// LastPositionLogits) start from the same place: the function as the
// importer writes it, its return, and the attribute that names its
// arguments and results after the ONNX graph's.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TRANSFORMS_MAINGRAPH_H
#define ACTSPARSE_TRANSFORMS_MAINGRAPH_H

#include "actsparse/Dialect/ActSparseDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::actsparse {

struct MainGraph {
  func::FuncOp func;
  func::ReturnOp ret;
  /// The key of the ONNX names (ActSparseDialect::getOnnxNameAttrName()).
  StringAttr nameKey;

  /// @main with one block, or an empty MainGraph (func null) for any
  /// other module, which the passes then leave alone.
  static MainGraph of(ModuleOp module) {
    auto func = module.lookupSymbol<func::FuncOp>("main");
    if (!func || func.isExternal() || !func.getBody().hasOneBlock())
      return {};
    return {func, cast<func::ReturnOp>(func.getBody().front().getTerminator()),
            StringAttr::get(module.getContext(),
                            ActSparseDialect::getOnnxNameAttrName())};
  }
};

} // namespace mlir::actsparse

#endif // ACTSPARSE_TRANSFORMS_MAINGRAPH_H
