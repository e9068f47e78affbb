//===- ActSparseDialect.h - The actsparse dialect ---------------*- C++ -*-===//
//
// Declares the actsparse dialect. Include ActSparseOps.h for the ops.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_DIALECT_ACTSPARSEDIALECT_H
#define ACTSPARSE_DIALECT_ACTSPARSEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "actsparse/Dialect/ActSparseOpsDialect.h.inc"

#endif // ACTSPARSE_DIALECT_ACTSPARSEDIALECT_H
