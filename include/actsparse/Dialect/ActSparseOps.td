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
include "mlir/IR/EnumAttr.td"
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

def ActSparse_QuantKind : I32EnumAttr<"QuantKind",
    "quantized weight format (runtime/include/actsparse/runtime/Quant.h)", [
      I32EnumAttrCase<"q8_0", 0>,
      I32EnumAttrCase<"q4_0", 1>,
      I32EnumAttrCase<"q4_1", 2>,
      I32EnumAttrCase<"f16", 3>,
      I32EnumAttrCase<"bf16", 4>
    ]> {
  let cppNamespace = "::mlir::actsparse";
}

def ActSparse_DequantizeOp : ActSparse_Op<"dequantize", [Pure]> {
  let summary = "f32 weights from rows of block-quantized weights";
  let description = [{
    `input` holds `N` rows of `kind` blocks as bytes (the formats of
    `runtime/include/actsparse/runtime/Quant.h`, the same as llama.cpp's
    types of the same names): each row is `ceil(K / 32)` blocks of 32
    weights, the last one padded with zeros. `q8_0`, `q4_0` and `q4_1`
    scale integers per block; `f16` and `bf16` blocks are 32 16-bit floats. `result` is the `N x K` f32
    matrix the rows stand for.

    `--actsparse-quantize` writes it: a projection `MatMul(x, W)` with
    `W [K, N]` becomes `MatMul(x, Transpose(Dequantize(Q)))` with `Q` the
    rows of `Wᵀ`. The lowering fuses that form into the runtime's quantized
    kernel, which never materialises the f32 matrix; any other use
    dequantizes in generated code.

    Example:

    ```mlir
    %q = actsparse.weight "w.q8_0" : tensor<172x68xi8>
    %w = actsparse.dequantize q8_0 %q : tensor<172x68xi8> -> tensor<172x64xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I8]>:$input, ActSparse_QuantKind:$kind);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $kind $input attr-dict `:` type($input) `->` type($result)
  }];
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
  // `is_unsigned`: integer operands are unsigned (Div, Min, Max differ).
  let arguments = (ins operandType:$lhs, operandType:$rhs,
                       UnitAttr:$is_unsigned);
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
def ActSparse_MinOp : ActSparse_BinaryOp<"min", "Min", ActSparse_NumericTensor,
                                         [Commutative]>;
def ActSparse_MaxOp : ActSparse_BinaryOp<"max", "Max", ActSparse_NumericTensor,
                                         [Commutative]>;

def ActSparse_ModOp : ActSparse_Op<"mod", [Pure, ResultsBroadcastableShape,
    SameOperandsAndResultElementType]> {
  let summary = "elementwise ONNX Mod with ONNX broadcasting";
  let description = [{
    Behaves like ONNX `Mod`. With `fmod` the remainder has the sign of the
    dividend (C `fmod`, required for floats); without it, of the divisor
    (Python's `%`, integers only). An integer division by zero leaves 0.

    Example:

    ```mlir
    %r = actsparse.mod %a, %b : (tensor<6xi32>, tensor<6xi32>) -> tensor<6xi32>
    %f = actsparse.mod %x, %y fmod : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
    ```
  }];
  let arguments = (ins ActSparse_NumericTensor:$lhs,
                       ActSparse_NumericTensor:$rhs, UnitAttr:$fmod,
                       UnitAttr:$is_unsigned);
  let results = (outs ActSparse_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`fmod` $fmod^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

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
def ActSparse_CosOp : ActSparse_UnaryOp<"cos", "Cos", "cos(x)">;
def ActSparse_SinOp : ActSparse_UnaryOp<"sin", "Sin", "sin(x)">;
def ActSparse_SigmoidOp
    : ActSparse_UnaryOp<"sigmoid", "Sigmoid", "1 / (1 + exp(-x))">;
def ActSparse_AbsOp : ActSparse_UnaryOp<"abs", "Abs", "|x|",
                                        ActSparse_NumericTensor>;
def ActSparse_SignOp : ActSparse_UnaryOp<"sign", "Sign", "-1, 0 or 1",
                                         ActSparse_NumericTensor>;
def ActSparse_LogOp : ActSparse_UnaryOp<"log", "Log", "log(x)">;
def ActSparse_FloorOp : ActSparse_UnaryOp<"floor", "Floor", "floor(x)">;
def ActSparse_CeilOp : ActSparse_UnaryOp<"ceil", "Ceil", "ceil(x)">;
def ActSparse_RoundOp
    : ActSparse_UnaryOp<"round", "Round", "x rounded, halves to even">;
def ActSparse_SoftplusOp
    : ActSparse_UnaryOp<"softplus", "Softplus", "log(exp(x) + 1)">;
def ActSparse_SoftsignOp
    : ActSparse_UnaryOp<"softsign", "Softsign", "x / (1 + |x|)">;
def ActSparse_HardSwishOp : ActSparse_UnaryOp<"hard_swish", "HardSwish",
    "x * max(0, min(1, x / 6 + 1 / 2))">;
def ActSparse_TanOp : ActSparse_UnaryOp<"tan", "Tan", "tan(x)">;
def ActSparse_AsinOp : ActSparse_UnaryOp<"asin", "Asin", "asin(x)">;
def ActSparse_AcosOp : ActSparse_UnaryOp<"acos", "Acos", "acos(x)">;
def ActSparse_AtanOp : ActSparse_UnaryOp<"atan", "Atan", "atan(x)">;
def ActSparse_SinhOp : ActSparse_UnaryOp<"sinh", "Sinh", "sinh(x)">;
def ActSparse_CoshOp : ActSparse_UnaryOp<"cosh", "Cosh", "cosh(x)">;
def ActSparse_AsinhOp : ActSparse_UnaryOp<"asinh", "Asinh", "asinh(x)">;
def ActSparse_AcoshOp : ActSparse_UnaryOp<"acosh", "Acosh", "acosh(x)">;
def ActSparse_AtanhOp : ActSparse_UnaryOp<"atanh", "Atanh", "atanh(x)">;

//===----------------------------------------------------------------------===//
// Activation functions
//===----------------------------------------------------------------------===//

def ActSparse_ReluOp : ActSparse_UnaryOp<"relu", "Relu", "max(x, 0)">;

class ActSparse_ParamActivationOp<string mnemonic, string onnxName,
                                  string formula>
    : ActSparse_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "ONNX " # onnxName # " activation";
  let description = [{
    Behaves like ONNX `}] # onnxName # [{`: `y = }] # formula # [{` for every
    element, with the op's attributes `alpha` and `beta` (a parameter the
    formula does not use is 0).

    Example:

    ```mlir
    %y = actsparse.}] # mnemonic # [{ %x, alpha = 2.000000e-01, beta = 5.000000e-01 : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, F32Attr:$alpha,
                       F32Attr:$beta);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` `alpha` `=` $alpha `,` `beta` `=` $beta attr-dict `:` type($input)
  }];
}

def ActSparse_LeakyReluOp : ActSparse_ParamActivationOp<"leaky_relu",
    "LeakyRelu", "x >= 0 ? x : alpha * x">;
def ActSparse_HardSigmoidOp : ActSparse_ParamActivationOp<"hard_sigmoid",
    "HardSigmoid", "max(0, min(1, alpha * x + beta))">;
def ActSparse_EluOp : ActSparse_ParamActivationOp<"elu", "Elu",
    "x >= 0 ? x : alpha * (exp(x) - 1)">;
def ActSparse_SeluOp : ActSparse_ParamActivationOp<"selu", "Selu",
    "beta * (x > 0 ? x : alpha * (exp(x) - 1)) (beta is ONNX's gamma)">;
def ActSparse_CeluOp : ActSparse_ParamActivationOp<"celu", "Celu",
    "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))">;
def ActSparse_ShrinkOp : ActSparse_ParamActivationOp<"shrink", "Shrink",
    "x < -alpha ? x + beta : x > alpha ? x - beta : 0 (ONNX's lambd, bias)">;
def ActSparse_PReluOp : ActSparse_BinaryOp<"prelu", "PRelu",
                                           ActSparse_FloatTensor>;

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

//===----------------------------------------------------------------------===//
// Feed-forward blocks
//===----------------------------------------------------------------------===//

def ActSparse_Activation : I32EnumAttr<"Activation",
    "activation function of an FFN block", [
      I32EnumAttrCase<"relu", 0>,
      I32EnumAttrCase<"silu", 1>,
      I32EnumAttrCase<"gelu", 2>,
      I32EnumAttrCase<"gelu_tanh", 3>
    ]> {
  let cppNamespace = "::mlir::actsparse";
}

def ActSparse_ThresholdOn : I32EnumAttr<"ThresholdOn",
    "what the magnitude threshold of an FFN block compares", [
      I32EnumAttrCase<"activation", 0>,
      I32EnumAttrCase<"neuron", 1>
    ]> {
  let cppNamespace = "::mlir::actsparse";
}

def ActSparse_FfnOp : ActSparse_Op<"ffn", [Pure, AttrSizedOperandSegments]> {
  let summary = "one transformer feed-forward block, plain or gated (GLU)";
  let description = [{
    The unit the sparsity passes work on: `--actsparse-fuse-ffn` builds it
    from the MatMul / activation / MatMul chains of imported graphs,
    `--actsparse-relufy` changes its activation and `--actsparse-calibrate`
    sets its shift and threshold. For input `x` with last dimension `D`,
    weights `up` and `gate` of shape `D x H` and `down` of shape `H x E`:

    ```
    u = x * up (+ up_bias)
    plain FFN:  a = act(u - shift)         h = a
    gated FFN:  g = x * gate (+ gate_bias)
                a = act(g - shift)         h = a * u    (a * relu(u) with relu_up)
    threshold:  h = 0 where |a| < threshold
                (threshold_on = neuron: h = 0 where |h| < threshold)
    y = h * down (+ down_bias)
    ```

    `shift` is a scalar (per layer) or a length-`H` tensor (per neuron) and
    defaults to 0. `relu_up` (only with a gate) is dReLU: ReLU on the up
    projection too, so a neuron is zero when either input is negative.
    `threshold` is a magnitude threshold on the activation output: with
    `relu` it is FATReLU (ProSparse), with `silu` or `gelu` the training-free
    thresholding of TEAL and CATS. With `threshold_on = neuron` it compares
    the neuron itself (`a * u` in a gated block, the same as `a` in a plain
    one): the neurons that contribute least are dropped, which costs far
    less accuracy at the same sparsity (`docs/Sparsity.md`), but whether a
    neuron is zero then depends on the up projection too, so only a
    predictor can skip its gate and up rows. `original` names the activation the model
    was trained with, kept by relufication so calibration can compare against
    the original block; `layer` numbers the FFN blocks of a function in
    program order (runtime statistics are reported per layer). `h` is the
    vector whose zeros the sparse kernels skip: the neurons of the block.

    Example (Llama SwiGLU after relufication):

    ```mlir
    %y = actsparse.ffn %x up %w3 gate %w1 down %w2 activation = relu
        original = silu layer = 0
        : (tensor<?x?x64xf32>, tensor<64x172xf32>, tensor<64x172xf32>,
           tensor<172x64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input,
                       ActSparse_FloatTensor:$up,
                       Optional<ActSparse_FloatTensor>:$gate,
                       ActSparse_FloatTensor:$down,
                       Optional<ActSparse_FloatTensor>:$up_bias,
                       Optional<ActSparse_FloatTensor>:$gate_bias,
                       Optional<ActSparse_FloatTensor>:$down_bias,
                       Optional<ActSparse_FloatTensor>:$shift,
                       ActSparse_Activation:$activation,
                       UnitAttr:$relu_up,
                       OptionalAttr<F32Attr>:$threshold,
                       OptionalAttr<ActSparse_ThresholdOn>:$threshold_on,
                       OptionalAttr<ActSparse_Activation>:$original,
                       OptionalAttr<I64Attr>:$layer);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `up` $up (`gate` $gate^)? `down` $down
    (`up_bias` $up_bias^)? (`gate_bias` $gate_bias^)?
    (`down_bias` $down_bias^)? (`shift` $shift^)?
    `activation` `=` $activation (`relu_up` $relu_up^)?
    (`threshold` `=` $threshold^)? (`threshold_on` `=` $threshold_on^)?
    (`original` `=` $original^)?
    (`layer` `=` $layer^)? attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Number of neurons (H): the columns of `up`.
    int64_t getNumNeurons();
    /// Sets the magnitude threshold and what it compares; `activation`, the
    /// default, is stored as an absent `threshold_on`.
    void setMagnitudeThreshold(float threshold, ThresholdOn on);
    /// The activation the block computes before relufication.
    Activation getOriginalActivation() {
      return getOriginal().value_or(getActivation());
    }
    /// Whether the gate alone decides which neurons are zero (as for
    /// actsparse.sparse_ffn).
    bool isGateDetermined();
  }];
  let hasVerifier = 1;
}

def ActSparse_Predictor : I32EnumAttr<"Predictor",
    "how a sparse FFN block finds its active neurons", [
      I32EnumAttrCase<"exact_gate", 1>,
      I32EnumAttrCase<"lowrank", 2>
    ]> {
  let cppNamespace = "::mlir::actsparse";
}

def ActSparse_SparseFfnOp : ActSparse_Op<"sparse_ffn",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "an FFN block on row-column bundled weights, computed for "
                "its active neurons only";
  let description = [{
    The form of `actsparse.ffn` that executes sparsely, made by
    `--actsparse-bundle-ffn`. It computes what the `actsparse.ffn` it
    replaces computes (same `activation`, `relu_up`, `threshold`,
    `threshold_on`, `original` and `layer`), but its weights are one
    neuron-major tensor, `bundle` of shape `H x S`: row `i` holds, in this
    order, the fields listed in `fields`:

    - `gate`: column `i` of the gate projection, `D` floats (gated blocks);
    - `up`: column `i` of the up projection, `D` floats;
    - `down`: row `i` of the down projection, `E` floats;
    - `gate_bias`, `up_bias`, `shift`: neuron `i`'s bias or shift, 1 float
      each,

    padded with zeros to a multiple of 16 floats (a 64-byte cache line), so
    one contiguous read brings everything neuron `i` needs
    (`runtime/include/actsparse/runtime/FfnBundle.h`). `down_bias` stays a
    separate length-`E` tensor.

    With `quant = q8_0 | q4_0 | q4_1` the bundle is a byte matrix (`i8`):
    the gate row, up row and down column are each a row of that format's
    32-weight blocks (`Quant.h`, as `actsparse.dequantize` reads them), the
    scalars follow as f32 at a 4-byte boundary, and rows are padded to 64
    bytes. The kernel quantizes `x` to 8 bits per block of 32 for the gate
    and up products, as the quantized matmul kernel does in decode.

    With `gate_pre` (gated blocks whose zeros the gate decides), the gate is
    not in the bundle: `gate_pre` holds every token's gate pre-activations
    `x W_gate + gate_bias - shift` (input's leading dimensions, then `H`),
    computed by ordinary ops before the block, and `fields` lists only what
    the rows still hold (`up`, `down`, `up_bias`). The kernel reads a row
    only for a neuron whose activation is non-zero; the gate projection is
    a dense, contiguous matrix that the dense kernels read
    (`--actsparse-bundle-ffn="gates=apart"`).

    Without `predictor` every neuron is computed. With
    `predictor = exact_gate` (blocks whose zeros the gate decides: ReLU with
    an optional shift and a threshold on the activation) the gate of every
    neuron is computed first, and the up row and down column are read only
    where the activation is non-zero: exact. With `predictor = lowrank` the
    operands `scores(A, B, c)` (`D x r`, `r x H`, `H`) give every neuron a
    score `s = (x A) B + c`; neurons with `s > 0` are computed exactly and
    the others are taken as 0, which is where a predicted block can differ
    from the dense one (`--actsparse-insert-predictors`).

    Example:

    ```mlir
    %y = actsparse.sparse_ffn %x bundle %b fields = ["gate", "up", "down"]
        activation = relu predictor = exact_gate original = silu layer = 0
        : (tensor<?x?x64xf32>, tensor<172x192xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input,
                       AnyTypeOf<[ActSparse_FloatTensor, RankedTensorOf<[I8]>]>:$bundle,
                       Optional<ActSparse_FloatTensor>:$gate_pre,
                       Optional<ActSparse_FloatTensor>:$down_bias,
                       Optional<ActSparse_FloatTensor>:$score_a,
                       Optional<ActSparse_FloatTensor>:$score_b,
                       Optional<ActSparse_FloatTensor>:$score_bias,
                       StrArrayAttr:$fields,
                       ActSparse_Activation:$activation,
                       UnitAttr:$relu_up,
                       OptionalAttr<F32Attr>:$threshold,
                       OptionalAttr<ActSparse_ThresholdOn>:$threshold_on,
                       OptionalAttr<ActSparse_Predictor>:$predictor,
                       OptionalAttr<ActSparse_Activation>:$original,
                       OptionalAttr<I64Attr>:$layer,
                       OptionalAttr<ActSparse_QuantKind>:$quant);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `bundle` $bundle (`quant` `=` $quant^)?
    (`gate_pre` $gate_pre^)? `fields` `=` $fields
    (`down_bias` $down_bias^)?
    (`scores` `(` $score_a^ `,` $score_b `,` $score_bias `)`)?
    `activation` `=` $activation (`relu_up` $relu_up^)?
    (`threshold` `=` $threshold^)? (`threshold_on` `=` $threshold_on^)?
    (`predictor` `=` $predictor^)?
    (`original` `=` $original^)?
    (`layer` `=` $layer^)? attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Number of neurons (H): the rows of `bundle`.
    int64_t getNumNeurons();
    /// The `fields` attribute as FfnBundleField bits (FfnBundle.h).
    uint32_t getFieldMask();
    /// Whether the gate alone decides which neurons are zero: ReLU (with
    /// any shift) and no threshold on the neuron. Only such blocks can skip
    /// the up row and down column of a neuron from its gate or a
    /// prediction of it.
    bool isGateDetermined();
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Comparison and selection
//===----------------------------------------------------------------------===//

def ActSparse_BoolTensor : RankedTensorOf<[I1]>;

class ActSparse_CompareOp<string mnemonic, string onnxName, string relation>
    : ActSparse_Op<mnemonic, [Pure, ResultsBroadcastableShape,
                              AllElementTypesMatch<["lhs", "rhs"]>]> {
  let summary = "elementwise " # onnxName # " with ONNX broadcasting";
  let description = [{
    Behaves like ONNX `}] # onnxName # [{`: `lhs }] # relation # [{ rhs`
    elementwise after numpy broadcasting; the result is a tensor of `i1`.

    Example:

    ```mlir
    %m = actsparse.}] # mnemonic # [{ %a, %b
        : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
    ```
  }];
  // `is_unsigned`: integer operands are unsigned.
  let arguments = (ins ActSparse_NumericTensor:$lhs,
                       ActSparse_NumericTensor:$rhs, UnitAttr:$is_unsigned);
  let results = (outs ActSparse_BoolTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def ActSparse_EqualOp : ActSparse_CompareOp<"equal", "Equal", "==">;
def ActSparse_LessOp : ActSparse_CompareOp<"less", "Less", "<">;
def ActSparse_LessOrEqualOp
    : ActSparse_CompareOp<"less_or_equal", "LessOrEqual", "<=">;
def ActSparse_GreaterOp : ActSparse_CompareOp<"greater", "Greater", ">">;
def ActSparse_GreaterOrEqualOp
    : ActSparse_CompareOp<"greater_or_equal", "GreaterOrEqual", ">=">;

def ActSparse_AndOp : ActSparse_BinaryOp<"and", "And", ActSparse_BoolTensor,
                                         [Commutative]>;
def ActSparse_OrOp : ActSparse_BinaryOp<"or", "Or", ActSparse_BoolTensor,
                                        [Commutative]>;
def ActSparse_XorOp : ActSparse_BinaryOp<"xor", "Xor", ActSparse_BoolTensor,
                                         [Commutative]>;
def ActSparse_NotOp : ActSparse_UnaryOp<"not", "Not", "!x",
                                        ActSparse_BoolTensor>;

def ActSparse_IsNaNOp : ActSparse_Op<"is_nan", [Pure]> {
  let summary = "ONNX IsNaN: true where an element is NaN";
  let description = [{
    Example:

    ```mlir
    %m = actsparse.is_nan %x : tensor<3x4xf32> -> tensor<3x4xi1>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input);
  let results = (outs ActSparse_BoolTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def ActSparse_IsInfOp : ActSparse_Op<"is_inf", [Pure]> {
  let summary = "ONNX IsInf: true where an element is an infinity";
  let description = [{
    `detect_positive` and `detect_negative` choose which infinities count
    (ONNX's attributes of the same names; both by default).

    Example:

    ```mlir
    %m = actsparse.is_inf %x detect_positive detect_negative
        : tensor<6xf32> -> tensor<6xi1>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, UnitAttr:$detect_positive,
                       UnitAttr:$detect_negative);
  let results = (outs ActSparse_BoolTensor:$result);
  let assemblyFormat = [{
    $input (`detect_positive` $detect_positive^)?
    (`detect_negative` $detect_negative^)? attr-dict `:` type($input) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_WhereOp : ActSparse_Op<"where", [Pure,
    AllElementTypesMatch<["on_true", "on_false", "result"]>]> {
  let summary = "ONNX Where: elementwise select with broadcasting";
  let description = [{
    Behaves like ONNX `Where`: `condition ? on_true : on_false` elementwise,
    all three operands broadcast numpy-style.

    Example:

    ```mlir
    %m = actsparse.where %c, %zero, %ninf
        : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
    ```
  }];
  let arguments = (ins ActSparse_BoolTensor:$condition,
                       AnyRankedTensor:$on_true, AnyRankedTensor:$on_false);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalisation and reductions
//===----------------------------------------------------------------------===//

def ActSparse_SoftmaxOp : ActSparse_Op<"softmax",
    [Pure, SameOperandsAndResultType]> {
  let summary = "ONNX Softmax (opset >= 13) along one axis";
  let description = [{
    `y = exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`, which the
    importer normalises to `0 <= axis < rank`.

    Example:

    ```mlir
    %p = actsparse.softmax %scores, axis = 3 : tensor<?x8x?x?xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, I64Attr:$axis);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = "$input `,` `axis` `=` $axis attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def ActSparse_ReduceMeanOp : ActSparse_Op<"reduce_mean", [Pure,
    SameOperandsAndResultElementType]> {
  let summary = "ONNX ReduceMean over a set of axes";
  let description = [{
    Arithmetic mean over `axes` (normalised, sorted, unique). With
    `keepdims` the reduced dimensions stay as size 1, otherwise they are
    removed.

    Example:

    ```mlir
    %m = actsparse.reduce_mean %x, axes = [2], keepdims
        : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keepdims);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` `axes` `=` $axes (`keepdims` $keepdims^)? attr-dict `:`
    type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_LogSoftmaxOp : ActSparse_Op<"log_softmax",
    [Pure, SameOperandsAndResultType]> {
  let summary = "ONNX LogSoftmax (opset >= 13) along one axis";
  let description = [{
    `y = x - max(x) - log(sum(exp(x - max(x))))` along `axis`
    (`0 <= axis < rank`).

    Example:

    ```mlir
    %l = actsparse.log_softmax %logits, axis = 1 : tensor<3x5xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input, I64Attr:$axis);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = "$input `,` `axis` `=` $axis attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def ActSparse_ReduceKind : I32EnumAttr<"ReduceKind",
    "what actsparse.reduce computes over its axes (ONNX's Reduce* ops)", [
      I32EnumAttrCase<"sum", 0>,
      I32EnumAttrCase<"max", 1>,
      I32EnumAttrCase<"min", 2>,
      I32EnumAttrCase<"prod", 3>,
      I32EnumAttrCase<"l1", 4>,
      I32EnumAttrCase<"l2", 5>,
      I32EnumAttrCase<"sum_square", 6>,
      I32EnumAttrCase<"log_sum", 7>,
      I32EnumAttrCase<"log_sum_exp", 8>
    ]> {
  let cppNamespace = "::mlir::actsparse";
}

def ActSparse_ReduceOp : ActSparse_Op<"reduce", [Pure,
    SameOperandsAndResultElementType]> {
  let summary = "ONNX ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, "
                "ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp";
  let description = [{
    Reduces over `axes` (normalised, sorted, unique): `sum`, `max`, `min`,
    `prod`, `l1` (sum of |x|), `l2` (sqrt of the sum of squares),
    `sum_square`, `log_sum` (log of the sum), `log_sum_exp` (log of the sum
    of exp, computed as max + log(sum(exp(x - max)))). With `keepdims` the
    reduced dimensions stay as size 1. `l2`, `log_sum` and `log_sum_exp`
    take floats; the others integers too. ReduceMean is
    `actsparse.reduce_mean`, which the FFN and norm patterns match.

    Example:

    ```mlir
    %s = actsparse.reduce sum %x, axes = [1], keepdims
        : tensor<3x4xf32> -> tensor<3x1xf32>
    ```
  }];
  let arguments = (ins ActSparse_ReduceKind:$kind, ActSparse_NumericTensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keepdims);
  let results = (outs ActSparse_NumericTensor:$result);
  let assemblyFormat = [{
    $kind $input `,` `axes` `=` $axes (`keepdims` $keepdims^)? attr-dict `:`
    type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_ArgReduceOp : ActSparse_Op<"arg_reduce", [Pure]> {
  let summary = "ONNX ArgMax / ArgMin along one axis";
  let description = [{
    The index (i64) of the largest (`max`) or smallest (`min`) element
    along `axis`: the first such index, or the last with
    `select_last_index`. With `keepdims` the axis stays as size 1.

    Example:

    ```mlir
    %i = actsparse.arg_reduce max %x, axis = 1 keepdims
        : tensor<2x3xf32> -> tensor<2x1xi64>
    ```
  }];
  let arguments = (ins ActSparse_ReduceKind:$kind, ActSparse_NumericTensor:$input,
                       I64Attr:$axis, UnitAttr:$keepdims,
                       UnitAttr:$select_last_index);
  let results = (outs RankedTensorOf<[I64]>:$result);
  let assemblyFormat = [{
    $kind $input `,` `axis` `=` $axis (`keepdims` $keepdims^)?
    (`select_last_index` $select_last_index^)? attr-dict `:` type($input)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_LayerNormOp : ActSparse_Op<"layer_norm", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "ONNX LayerNormalization (opset 17)";
  let description = [{
    Normalises over the dimensions `axis ..< rank` to zero mean and unit
    variance (`epsilon` added to the variance), then multiplies by `scale` and
    adds `bias` when present. Only the `Y` output of the ONNX op is
    represented; models that use `Mean` or `InvStdDev` are rejected at
    import.

    Example:

    ```mlir
    %y = actsparse.layer_norm %x, %g, %b axis = 2, epsilon = 9.99999974E-6
        : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins ActSparse_FloatTensor:$input,
                       ActSparse_FloatTensor:$scale,
                       Optional<ActSparse_FloatTensor>:$bias,
                       I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs ActSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? `axis` `=` $axis `,` `epsilon` `=`
    $epsilon attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def ActSparse_IndexTensor : RankedTensorOf<[I32, I64]>;

def ActSparse_GatherOp : ActSparse_Op<"gather", [Pure,
    AllElementTypesMatch<["data", "result"]>]> {
  let summary = "ONNX Gather along one axis";
  let description = [{
    `result[i..., j..., k...] = data[i..., indices[j...], k...]` with
    `i...` the dimensions before `axis`. Negative indices count from the end
    of the axis, as in ONNX. Embedding lookups are gathers on axis 0.

    Example:

    ```mlir
    %e = actsparse.gather %table, %ids, axis = 0
        : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$data, ActSparse_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices `,` `axis` `=` $axis attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_GatherElementsOp : ActSparse_Op<"gather_elements", [Pure,
    AllElementTypesMatch<["data", "result"]>,
    AllShapesMatch<["indices", "result"]>]> {
  let summary = "ONNX GatherElements along one axis";
  let description = [{
    `result[i...] = data[i... with indices[i...] at axis]`: the result has
    the indices' shape, and `data` and `indices` have the same rank.
    Negative indices count from the end of the axis; an index outside it is
    reported and reads entry 0.

    Example:

    ```mlir
    %r = actsparse.gather_elements %data, %idx, axis = 1
        : (tensor<2x2xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$data, ActSparse_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices `,` `axis` `=` $axis attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_TopKOp : ActSparse_Op<"top_k", [Pure,
    AllElementTypesMatch<["input", "values"]>]> {
  let summary = "ONNX TopK along one axis";
  let description = [{
    The `k` largest (or, without `largest`, smallest) elements along `axis`
    and their indices, in order: best first, and of equal elements the one
    with the lower index first (ONNX's rule; ONNX's `sorted = 0` allows any
    order, and gets this one). `k` is a 1-D i64 tensor of one element, at
    most the axis' size.

    Example:

    ```mlir
    %v, %i = actsparse.top_k %x, %k, axis = 1 largest
        : (tensor<3x4xf32>, tensor<1xi64>) -> (tensor<3x3xf32>, tensor<3x3xi64>)
    ```
  }];
  let arguments = (ins ActSparse_NumericTensor:$input,
                       RankedTensorOf<[I64]>:$k, I64Attr:$axis,
                       UnitAttr:$largest);
  let results = (outs ActSparse_NumericTensor:$values,
                      RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = [{
    $input `,` $k `,` `axis` `=` $axis (`largest` $largest^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_CumSumOp : ActSparse_Op<"cumsum", [Pure,
    SameOperandsAndResultType]> {
  let summary = "ONNX CumSum along one axis";
  let description = [{
    Running sums along `axis`: `result[..., i, ...]` adds `input[..., k, ...]`
    for `k <= i` (`k < i` with `exclusive`; `k >= i` or `k > i` with
    `reverse`).

    Example:

    ```mlir
    %c = actsparse.cumsum %x, axis = 0 exclusive : tensor<5xf32>
    ```
  }];
  let arguments = (ins ActSparse_NumericTensor:$input, I64Attr:$axis,
                       UnitAttr:$exclusive, UnitAttr:$reverse);
  let results = (outs ActSparse_NumericTensor:$result);
  let assemblyFormat = [{
    $input `,` `axis` `=` $axis (`exclusive` $exclusive^)?
    (`reverse` $reverse^)? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def ActSparse_TransposeOp : ActSparse_Op<"transpose", [Pure,
    AllElementTypesMatch<["input", "result"]>]> {
  let summary = "ONNX Transpose: permute dimensions";
  let description = [{
    `result` dimension `i` is `input` dimension `perm[i]`.

    Example:

    ```mlir
    %t = actsparse.transpose %x, perm = [0, 2, 1, 3]
        : tensor<?x?x8x8xf32> -> tensor<?x8x?x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` `perm` `=` $perm attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_ReshapeOp : ActSparse_Op<"reshape", [Pure,
    AllElementTypesMatch<["input", "result"]>]> {
  let summary = "ONNX Reshape (allowzero = 0)";
  let description = [{
    Reshapes `input` to the dimensions in the 1-D `shape` tensor, where `0`
    copies the input's dimension at that position and one `-1` is inferred
    from the element count. The result rank is the length of `shape`.

    Example:

    ```mlir
    %r = actsparse.reshape %x, %s
        : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       RankedTensorOf<[I64]>:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $shape attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_ExpandOp : ActSparse_Op<"expand", [Pure,
    AllElementTypesMatch<["input", "result"]>]> {
  let summary = "ONNX Expand: broadcast to a shape";
  let description = [{
    Broadcasts `input` and the 1-D `shape` tensor against each other
    (numpy rules, so `shape` may also contain 1s that keep the input's
    dimension).

    Example:

    ```mlir
    %e = actsparse.expand %k, %s
        : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, RankedTensorOf<[I64]>:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $shape attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_UnsqueezeOp : ActSparse_Op<"unsqueeze", [Pure,
    AllElementTypesMatch<["input", "result"]>]> {
  let summary = "ONNX Unsqueeze: insert size-1 dimensions";
  let description = [{
    Inserts a dimension of size 1 at each of `axes` (positions in the
    result, normalised and sorted).

    Example:

    ```mlir
    %u = actsparse.unsqueeze %x, axes = [0, 2] : tensor<4x8xf32> -> tensor<1x4x1x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` `axes` `=` $axes attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_ConcatOp : ActSparse_Op<"concat", [Pure,
    SameOperandsAndResultElementType]> {
  let summary = "ONNX Concat along one axis";
  let description = [{
    Joins the inputs along `axis` (normalised); every other dimension must
    agree. The KV cache grows with one of these per layer.

    Example:

    ```mlir
    %kv = actsparse.concat %past, %new axis = 2
        : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $inputs `axis` `=` $axis attr-dict `:` functional-type($inputs, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_KvAppendOp : ActSparse_Op<"kv_append", [
    MemoryEffects<[MemWrite]>,
    AllTypesMatch<["cache", "result"]>,
    AllElementTypesMatch<["rows", "past", "cache"]>]> {
  let summary = "Write a step's key or value rows into a runtime-owned cache";
  let description = [{
    The in-place form of `present = Concat(past, rows)` (see
    `--actsparse-kv-cache-in-place`). `cache` is a buffer the runtime lends
    to the call, sized to the past and the new rows along `axis`, whose
    leading rows already hold `past`. The result is `cache` with the rows
    `[dim(past, axis), dim(past, axis) + dim(rows, axis))` along `axis`
    replaced by `rows`: equal to the Concat when the runtime kept its
    promise, and computed without copying the past.

    Every dimension of `rows` other than `axis` must equal the cache's, and
    the cache must hold exactly the past and the new rows. Dimensions known
    statically are checked here; the others are checked at run time, where a
    mismatch fails the call (the runtime discards its results) and nothing
    is written.

    The op writes memory that outlives the call, so it is never removed as
    dead code.

    Example:

    ```mlir
    %kv = actsparse.kv_append %new into %cache after %past axis = 2
        : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32> -> tensor<?x4x?x8xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$rows, AnyRankedTensor:$cache,
                       AnyRankedTensor:$past, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $rows `into` $cache `after` $past `axis` `=` $axis attr-dict `:`
    type($rows) `,` type($past) `->` type($cache)
  }];
  let hasVerifier = 1;
}

def ActSparse_SliceOp : ActSparse_Op<"slice", [Pure,
    AllElementTypesMatch<["data", "result"]>]> {
  let summary = "ONNX Slice";
  let description = [{
    Along each of `axes` (normalised, distinct), keeps the elements
    `start, start + step, ...` before `end`, where `start` and `end` are the
    matching elements of the 1-D `starts` / `ends` operands: negative values
    count from the end of the axis, and both are clamped to `[0, dim]`, as
    in ONNX. `steps` are non-zero constants; with a negative step the
    elements are taken backwards from `start` down to after `end`, start
    clamped to `[0, dim - 1]` and end to `[-1, dim - 1]`. Other axes are
    kept whole.

    Example:

    ```mlir
    %h = actsparse.slice %x, %starts, %ends, axes = [3], steps = [1]
        : (tensor<1x9x?x64xf32>, tensor<1xi64>, tensor<1xi64>)
        -> tensor<1x9x?x32xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$data, ActSparse_IndexTensor:$starts,
                       ActSparse_IndexTensor:$ends, DenseI64ArrayAttr:$axes,
                       DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `,` $starts `,` $ends `,` `axes` `=` $axes `,` `steps` `=` $steps
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_TriluOp : ActSparse_Op<"trilu", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "ONNX Trilu: keep the upper or lower triangle";
  let description = [{
    For every matrix in the last two dimensions, keeps element `(i, j)` when
    `j - i >= k` (`upper`) or `j - i <= k` (lower) and sets the others to
    zero. `k` is an optional scalar i64 operand (0 when absent). Exported
    decoders build their causal mask with it.

    Example:

    ```mlir
    %m = actsparse.trilu %x upper : tensor<?x?xf32>
    %n = actsparse.trilu %x, %k : tensor<?x?xf32>, tensor<i64>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       Optional<0DTensorOf<[I64]>>:$k, UnitAttr:$upper);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`,` $k^)? (`upper` $upper^)? attr-dict `:` type($input)
    (`,` type($k)^)?
  }];
  let hasVerifier = 1;
}

def ActSparse_ScatterNdOp : ActSparse_Op<"scatter_nd", [Pure,
    AllTypesMatch<["data", "result"]>]> {
  let summary = "ONNX ScatterND";
  let description = [{
    A copy of `data` in which, for every index tuple `indices[q..., :]` (of
    length `k`), the slice `data[indices[q..., :], ...]` is replaced by
    `updates[q..., ...]`, in order; with `reduction` (`sum`, `prod`, `max`
    or `min`, ONNX's add, mul, max, min) it is combined with it instead. `updates` has shape
    `indices.shape[:-1] + data.shape[k:]`. Negative indices count from the
    end; an index outside the data is reported to the runtime, which fails
    the call, as for `actsparse.gather`.

    Example:

    ```mlir
    %r = actsparse.scatter_nd %mask, %idx, %upd
        : (tensor<1x1x?x?xf32>, tensor<1x1x?x?x4xi64>, tensor<1x1x?x?xf32>)
        -> tensor<1x1x?x?xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$data, RankedTensorOf<[I64]>:$indices,
                       AnyRankedTensor:$updates,
                       OptionalAttr<ActSparse_ReduceKind>:$reduction);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices `,` $updates (`reduction` $reduction^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_CastOp : ActSparse_Op<"cast", [Pure]> {
  let summary = "ONNX Cast: convert the element type";
  let description = [{
    Converts every element to the result's element type with ONNX `Cast`
    semantics (float to integer truncates toward zero; to `i1`, non-zero is
    true). Integers are signed unless `from_unsigned` (the input's) or
    `to_unsigned` (the result's) says otherwise: signless tensors carry
    ONNX's unsigned types.

    Example:

    ```mlir
    %f = actsparse.cast %i : tensor<?xi64> to tensor<?xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, UnitAttr:$from_unsigned,
                       UnitAttr:$to_unsigned);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape computations
//===----------------------------------------------------------------------===//

def ActSparse_ShapeOp : ActSparse_Op<"shape", [Pure]> {
  let summary = "ONNX Shape: the dimensions of a tensor as a 1-D i64 tensor";
  let description = [{
    Returns dimensions `start ..< end` of `input` (ONNX 15 `start`/`end`,
    normalised by the importer; the whole shape when absent).

    Example:

    ```mlir
    %s = actsparse.shape %x : tensor<?x?x64xf32> -> tensor<3xi64>
    %t = actsparse.shape %x [1 : 3] : tensor<?x?x64xf32> -> tensor<2xi64>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, OptionalAttr<I64Attr>:$start,
                       OptionalAttr<I64Attr>:$end);
  let results = (outs RankedTensorOf<[I64]>:$result);
  let assemblyFormat = [{
    $input (`[` $start^ `:` $end `]`)? attr-dict `:` type($input) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def ActSparse_ConstantOfShapeOp : ActSparse_Op<"constant_of_shape", [Pure]> {
  let summary = "ONNX ConstantOfShape: a tensor filled with one value";
  let description = [{
    A tensor whose dimensions are the elements of the 1-D `shape` operand,
    every element equal to the one-element `value`.

    Example:

    ```mlir
    %z = actsparse.constant_of_shape %s, value = dense<0> : tensor<1xi64>
        : (tensor<2xi64>) -> tensor<?x?xi64>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I64]>:$shape, ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $shape `,` `value` `=` $value attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ActSparse_RangeOp : ActSparse_Op<"range", [Pure,
    AllElementTypesMatch<["start", "limit", "delta", "result"]>]> {
  let summary = "ONNX Range: start, start + delta, ... up to limit";
  let description = [{
    The 1-D tensor `start + i * delta` for `i` in
    `0 ..< max(ceil((limit - start) / delta), 0)`; the operands are scalars.

    Example:

    ```mlir
    %r = actsparse.range %start, %limit, %delta
        : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    ```
  }];
  let arguments = (ins 0DTensorOf<[AnyFloat, AnySignlessInteger]>:$start,
                       0DTensorOf<[AnyFloat, AnySignlessInteger]>:$limit,
                       0DTensorOf<[AnyFloat, AnySignlessInteger]>:$delta);
  let results = (outs 1DTensorOf<[AnyFloat, AnySignlessInteger]>:$result);
  let assemblyFormat = [{
    $start `,` $limit `,` $delta attr-dict `:`
    functional-type(operands, results)
  }];
}

#endif // ACTSPARSE_DIALECT_ACTSPARSEOPS_TD
