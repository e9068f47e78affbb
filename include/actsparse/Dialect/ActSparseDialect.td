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
  let hasOperationAttrVerify = 1;

  let extraClassDeclaration = [{
    /// Discardable attributes the dialect owns. Producers (the importer,
    /// passes that write a new pack) and consumers (execution, calibration)
    /// name them through these, so none of them depends on another.

    /// On the module: the weight pack its `actsparse.weight` ops read,
    /// relative to the IR file's directory, or absolute.
    static constexpr ::llvm::StringLiteral getWeightPackAttrName() {
      return "actsparse.weight_pack";
    }
    /// On the module: the pack's identity, checked when it is opened.
    static constexpr ::llvm::StringLiteral getWeightPackIdAttrName() {
      return "actsparse.weight_pack_id";
    }
    /// On `@main`'s arguments and results: the ONNX input or output name.
    static constexpr ::llvm::StringLiteral getOnnxNameAttrName() {
      return "actsparse.name";
    }
    /// On `@main`'s arguments and results: the integers are unsigned (the
    /// tensor type is signless, as arith needs; the runtime reads u8, u16,
    /// u32 or u64).
    static constexpr ::llvm::StringLiteral getUnsignedAttrName() {
      return "actsparse.unsigned";
    }
    /// On a lowered function's argument: the weight-pack tensor it expects.
    static constexpr ::llvm::StringLiteral getWeightArgAttrName() {
      return "actsparse.weight";
    }
    /// On a lowered function's weight argument: the weight is [K, N] in the
    /// pack, and the argument its GEMM strips [ceil(N / 16), K, 16] (an
    /// integer attribute, N), which the loader lays out.
    static constexpr ::llvm::StringLiteral getWeightPanelsArgAttrName() {
      return "actsparse.weight_panels";
    }
    /// With weight_panels: the pack holds the weight transposed, [N, K]
    /// (an embedding that is also the tied classifier), and the argument
    /// is the strips of its transpose.
    static constexpr ::llvm::StringLiteral
    getWeightPanelsTransposedArgAttrName() {
      return "actsparse.weight_panels_transposed";
    }
    /// On a lowered function's weight argument: the weight is N quantized
    /// rows of B bytes in the pack ([N, B] i8), and the argument those rows
    /// in groups of eight, [ceil(N / 8), 8 B] (a dictionary `{rows = N,
    /// kind = "q4_0"}`), which the loader lays out.
    static constexpr ::llvm::StringLiteral getWeightRowGroupsArgAttrName() {
      return "actsparse.weight_row_groups";
    }
    /// On `@main`'s argument added by --actsparse-kv-cache-in-place: a
    /// dictionary `{past = "INPUT", axis = N}`, the past input whose rows
    /// the runtime-owned cache holds and the axis it grows along.
    static constexpr ::llvm::StringLiteral getKvCacheArgAttrName() {
      return "actsparse.kv_cache";
    }
    /// On an `actsparse.relu`: inserted by stage 2 of relufication.
    static constexpr ::llvm::StringLiteral getStage2AttrName() {
      return "actsparse.stage2";
    }
    /// On an `actsparse.weight`: the trained weight a refit replaces.
    static constexpr ::llvm::StringLiteral getRefitOfAttrName() {
      return "actsparse.refit_of";
    }
  }];
}

class ActSparse_Op<string mnemonic, list<Trait> traits = []>
    : Op<ActSparse_Dialect, mnemonic, traits>;

#endif // ACTSPARSE_DIALECT_ACTSPARSEDIALECT_TD
