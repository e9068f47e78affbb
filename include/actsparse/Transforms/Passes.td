//===- Passes.td - actsparse passes ------------------------*- tablegen -*-===//
//
// Every actsparse pass is declared here, with its options and the dialects it
// creates, so that sparse-opt, sparse-run and other compilers register the
// same passes and the pass reference is generated from one place.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TRANSFORMS_PASSES_TD
#define ACTSPARSE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Graph clean-up
//===----------------------------------------------------------------------===//

def RaiseActivations : Pass<"actsparse-raise-activations"> {
  let summary = "Recognise decomposed GELU and SiLU and replace them by "
                "named activation ops";
  let description = [{
    ONNX opsets up to 17 have no GELU or SiLU op, so exporters write them out
    as elementwise arithmetic. This pass finds those expressions and replaces
    each by one `actsparse.gelu` or `actsparse.silu`, which is what FFN
    recognition and relufication look for:

    - SiLU: `x * sigmoid(x)` (either operand order);
    - exact GELU: `0.5 * x * (1 + erf(x / sqrt(2)))`, in any association and
      operand order of the products, with `x / sqrt(2)` also accepted as
      `x * (1 / sqrt(2))`;
    - tanh GELU (`gelu_new`):
      `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))` with `x^3`
      as `Pow(x, 3)` or as a product of three `x`.

    Scalar constants match within a relative tolerance of 1e-4 (exporters
    round them to fp32). A candidate whose broadcasting would change the
    shape of `x` is left alone.

    Example:

    ```mlir
    %s = actsparse.sigmoid %x : tensor<4xf32>
    %y = actsparse.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    ```

    becomes

    ```mlir
    %y = actsparse.silu %x : tensor<4xf32>
    ```
  }];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

#endif // ACTSPARSE_TRANSFORMS_PASSES_TD
