//===- ActSparseOps.td - actsparse op definitions ----------*- tablegen -*-===//
//
// Graph-level ops that keep ONNX semantics. Each op is hand-written for what
// decoder LLMs need; anything else is a located import error, not a generic
// catch-all op.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_DIALECT_ACTSPARSEOPS_TD
#define ACTSPARSE_DIALECT_ACTSPARSEOPS_TD

include "actsparse/Dialect/ActSparseDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def ActSparse_FloatTensor : RankedTensorOf<[AnyFloat]>;
def ActSparse_NumericTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Values: constants and weight-pack references
//===----------------------------------------------------------------------===//

def ActSparse_ConstantOp : ActSparse_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "small tensor constant held in the IR";
  let description = [{
    A tensor small enough to live in the IR: ONNX `Constant` nodes, scalar
    factors, shapes and indices. Large initializers become
    `actsparse.weight` instead, so the IR text stays small.

    Example:

    ```mlir
    %half = actsparse.constant dense<5.000000e-01> : tensor<f32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

def ActSparse_WeightOp : ActSparse_Op<"weight", [Pure]> {
  let summary = "reference to a tensor of the weight pack";
  let description = [{
    Names a tensor stored in the model's weight pack (see
    `docs/WeightPack.md`). The IR carries only the name and the static type;
    the runtime resolves the name when the model is loaded and checks that
    dtype and shape agree with the pack's tensor table.

    Example:

    ```mlir
    %w = actsparse.weight "layers.0.feed_forward.w1.weight" : tensor<64x172xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise binary ops (ONNX multidirectional broadcasting)
//===----------------------------------------------------------------------===//

class ActSparse_BinaryOp<string mnemonic, string onnxName,
                         Type operandType = ActSparse_NumericTensor,
                         list<Trait> traits = []>
    : ActSparse_Op<mnemonic, !listconcat(traits, [Pure,
          ResultsBroadcastableShape, SameOperandsAndResultElementType])> {
  let summary = "elementwise " # onnxName # " with ONNX broadcasting";
  let description = [{
    Behaves like ONNX `}] # onnxName # [{`: operands are broadcast
    numpy-style (multidirectional broadcasting) and must share their element
    type. The result shape is the broadcast of the operand shapes; a dynamic
    dimension stays dynamic unless the other operand fixes it.

    Example:

    ```mlir
    %r = actsparse.}] # mnemonic # [{ %a, %b
        : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins operandType:$lhs, operandType:$rhs);
  let results = (outs operandType:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def ActSparse_AddOp : ActSparse_BinaryOp<"add", "Add", ActSparse_NumericTensor,
                                         [Commutative]>;
def ActSparse_SubOp : ActSparse_BinaryOp<"sub", "Sub">;
def ActSparse_MulOp : ActSparse_BinaryOp<"mul", "Mul", ActSparse_NumericTensor,
                                         [Commutative]>;
def ActSparse_DivOp : ActSparse_BinaryOp<"div", "Div">;
def ActSparse_PowOp : ActSparse_BinaryOp<"pow", "Pow", ActSparse_FloatTensor>;

//===----------------------------------------------------------------------===//
// Elementwise unary math ops
//===----------------------------------------------------------------------===//

class ActSparse_UnaryOp<string mnemonic, string onnxName, string formula,
                        Type operandType = ActSparse_FloatTensor>
    : ActSparse_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise " # onnxName;
  let description = [{
    Behaves like ONNX `}] # onnxName # [{`: `y = }] # formula # [{` for every
    element.

    Example:

    ```mlir
    %y = actsparse.}] # mnemonic # [{ %x : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def ActSparse_NegOp : ActSparse_UnaryOp<"neg", "Neg", "-x",
                                        ActSparse_NumericTensor>;
def ActSparse_SqrtOp : ActSparse_UnaryOp<"sqrt", "Sqrt", "sqrt(x)">;
def ActSparse_ReciprocalOp
    : ActSparse_UnaryOp<"reciprocal", "Reciprocal", "1 / x">;
def ActSparse_ExpOp : ActSparse_UnaryOp<"exp", "Exp", "exp(x)">;
def ActSparse_TanhOp : ActSparse_UnaryOp<"tanh", "Tanh", "tanh(x)">;
def ActSparse_ErfOp : ActSparse_UnaryOp<"erf", "Erf", "erf(x)">;
def ActSparse_SigmoidOp
    : ActSparse_UnaryOp<"sigmoid", "Sigmoid", "1 / (1 + exp(-x))">;

//===----------------------------------------------------------------------===//
// Activation functions
//===----------------------------------------------------------------------===//

def ActSparse_ReluOp : ActSparse_UnaryOp<"relu", "Relu", "max(x, 0)">;

def ActSparse_SiluOp : ActSparse_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "SiLU (swish) activation";
  let description = [{
    `y = x * sigmoid(x)`. ONNX opsets up to 17 have no SiLU op: exporters
    emit `Mul(x, Sigmoid(x))`, which `--actsparse-raise-activations` turns
    into this op so the sparsity passes see one named activation.

    Example:

    ```mlir
    %y = actsparse.silu %x : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def ActSparse_GeluOp : ActSparse_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU activation, exact (erf) or tanh-approximated";
  let description = [{
    Exact form: `y = 0.5 * x * (1 + erf(x / sqrt(2)))`.
    With `tanh`: `y = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`,
    ONNX 20's `Gelu(approximate="tanh")` and GPT-2's `gelu_new`.

    Example:

    ```mlir
    %exact = actsparse.gelu %x : tensor<?x256xf32>
    %approx = actsparse.gelu %x tanh : tensor<?x256xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, UnitAttr:$tanh);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = "$input (`tanh` $tanh^)? attr-dict `:` type($input)";
}

def ActSparse_ThresholdedReluOp : ActSparse_Op<"thresholded_relu",
    [Pure, SameOperandsAndResultType]> {
  let summary = "ONNX ThresholdedRelu: x where x > alpha, else 0";
  let description = [{
    Behaves like ONNX `ThresholdedRelu`: `y = x` where `x > alpha`, `0`
    elsewhere. With `alpha >= 0` this is FATReLU (ProSparse), the threshold
    variant of relufication.

    Example:

    ```mlir
    %y = actsparse.thresholded_relu %x, alpha = 1.000000e-01 : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, F32Attr:$alpha);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = "$input `,` `alpha` `=` $alpha attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def ActSparse_MatMulOp : ActSparse_Op<"matmul", [Pure,
    SameOperandsAndResultElementType]> {
  let summary = "ONNX MatMul: numpy matrix product with batch broadcasting";
  let description = [{
    Behaves like ONNX `MatMul` (numpy `matmul`): the last two dimensions are
    multiplied, leading dimensions are broadcast. A rank-1 left operand is
    promoted to a row (and that dimension dropped from the result), a rank-1
    right operand to a column likewise. The contracted dimensions must agree
    when both are static.

    Example:

    ```mlir
    %y = actsparse.matmul %x, %w
        : (tensor<?x?x64xf32>, tensor<64x172xf32>) -> tensor<?x?x172xf32>
    ```
  }];
  let arguments = (ins ActSparse_NumericTensor:$lhs,
                       ActSparse_NumericTensor:$rhs);
  let results = (outs ActSparse_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // ACTSPARSE_DIALECT_ACTSPARSEOPS_TD
