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

#include "actsparse/Dialect/ActSparseEnums.h.inc"

#define GET_OP_CLASSES
#include "actsparse/Dialect/ActSparseOps.h.inc"

namespace mlir::actsparse {

/// Operand and result types of an `actsparse.ffn`; absent optional operands
/// (and an unknown result) are null.
struct FfnOperandTypes {
  Type input, up, gate, down, upBias, gateBias, downBias, shift, result;
};

/// Why these types cannot form an `actsparse.ffn` (the verifier's message),
/// or nullopt when they can. FFN fusion asks before it builds the op.
std::optional<std::string> getFfnShapeMismatch(const FfnOperandTypes &types);

/// The names `actsparse.sparse_ffn` gives the fields of a bundle row
/// (FfnBundleField bits, FfnBundle.h), in storage order.
SmallVector<StringRef> getBundleFieldNames(uint32_t fields);


} // namespace mlir::actsparse

#endif // ACTSPARSE_DIALECT_ACTSPARSEOPS_H
