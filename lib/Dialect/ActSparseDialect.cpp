//===- ActSparseDialect.cpp - The actsparse dialect -----------------------===//
//
// Registers the ops, materializes folded constants as actsparse.constant and
// verifies the dialect's discardable attributes.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "mlir/IR/BuiltinOps.h"

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

LogicalResult ActSparseDialect::verifyOperationAttribute(Operation *op,
                                                         NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == getWeightPackAttrName() || name == getWeightPackIdAttrName()) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a builtin.module";
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a string";
    return success();
  }
  if (name == getStage2AttrName()) {
    if (!isa<ReluOp>(op) || !isa<UnitAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' is a unit attribute of actsparse.relu";
    return success();
  }
  if (name == getRefitOfAttrName()) {
    if (!isa<WeightOp>(op) || !isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' is a string attribute of actsparse.weight";
    return success();
  }
  return op->emitError() << "unknown actsparse attribute '" << name << "'";
}
