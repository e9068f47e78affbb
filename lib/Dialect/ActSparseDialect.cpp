//===- ActSparseDialect.cpp - The actsparse dialect -----------------------===//
//
// Registers the ops and materializes folded constants as actsparse.constant.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Dialect/ActSparseOps.h"

using namespace mlir;
using namespace mlir::actsparse;

#include "actsparse/Dialect/ActSparseOpsDialect.cpp.inc"

void ActSparseDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "actsparse/Dialect/ActSparseOps.cpp.inc"
      >();
}

Operation *ActSparseDialect::materializeConstant(OpBuilder &builder,
                                                 Attribute value, Type type,
                                                 Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, type, elements);
}
