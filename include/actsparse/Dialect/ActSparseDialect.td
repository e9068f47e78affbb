//===- ActSparseDialect.td - The actsparse dialect ---------*- tablegen -*-===//
//
// The dialect definition on its own, so that ops, attributes and passes in
// other files (and other projects) can refer to it without pulling in ops.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_DIALECT_ACTSPARSEDIALECT_TD
#define ACTSPARSE_DIALECT_ACTSPARSEDIALECT_TD

include "mlir/IR/OpBase.td"

def ActSparse_Dialect : Dialect {
  let name = "actsparse";
  let cppNamespace = "::mlir::actsparse";
  let summary = "Graph and sparsity IR for activation-sparse LLM inference";
  let description = [{
    `actsparse` holds imported language models with ONNX semantics
    (`actsparse.matmul` behaves like ONNX `MatMul`, broadcasting included)
    and, after the sparsity passes, the FFN blocks, predictors and bundled
    weight layouts that make inactive neurons cost nothing.

    Tensors are builtin ranked tensors; dimensions that ONNX leaves symbolic
    (batch, sequence, past length) are dynamic (`?`). Large weights never
    appear in the IR: `actsparse.weight` names a tensor of the weight pack
    written by the importer.
  }];
  let hasConstantMaterializer = 1;
}

class ActSparse_Op<string mnemonic, list<Trait> traits = []>
    : Op<ActSparse_Dialect, mnemonic, traits>;

#endif // ACTSPARSE_DIALECT_ACTSPARSEDIALECT_TD
