//===- ActSparseOps.h - actsparse ops ---------------------------*- C++ -*-===//
//
// The ops of the actsparse dialect, generated from ActSparseOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_DIALECT_ACTSPARSEOPS_H
#define ACTSPARSE_DIALECT_ACTSPARSEOPS_H

#include "actsparse/Dialect/ActSparseDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Traits.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "actsparse/Dialect/ActSparseOps.h.inc"

#endif // ACTSPARSE_DIALECT_ACTSPARSEOPS_H
