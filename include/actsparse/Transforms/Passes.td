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

//===----------------------------------------------------------------------===//
// Sparsity
//===----------------------------------------------------------------------===//

def FuseFfn : Pass<"actsparse-fuse-ffn"> {
  let summary = "Recognise feed-forward blocks and fold each into one "
                "actsparse.ffn";
  let description = [{
    Finds the FFN blocks of imported transformers and replaces each chain by
    one `actsparse.ffn`, the op relufication, calibration and the sparse
    kernels work on. Recognised shapes (`W` are weight-pack tensors or IR
    constants, biases are optional and may be on either side of their Add):

    - plain: `down(act(x * W_up + b_up)) + b_down` (GPT-2, OPT);
    - gated (GLU): `down(act(x * W_gate) * (x * W_up))`, the product in either
      order (Llama SwiGLU, GeGLU);

    with `act` one of ReLU, SiLU, exact GELU and tanh GELU. Decomposed SiLU
    and GELU are named first (the patterns of
    `--actsparse-raise-activations` run in the same rewrite).

    The pass leaves a chain alone when it is not a block of its own: a
    projection without a weight on the right (attention scores), an
    intermediate value with another user (a MatMul read by a residual or a
    second consumer), gate and up reading different inputs, shapes that do
    not chain (`D x H`, `D x H`, `H x E`), or mixed element types. After
    fusion the blocks of each function are numbered in program order
    (`layer = N`), which is how runtime statistics name them.

    Example:

    ```mlir
    %g = actsparse.matmul %x, %w1 : (tensor<?x64xf32>, tensor<64x172xf32>) -> tensor<?x172xf32>
    %a = actsparse.silu %g : tensor<?x172xf32>
    %u = actsparse.matmul %x, %w3 : (tensor<?x64xf32>, tensor<64x172xf32>) -> tensor<?x172xf32>
    %h = actsparse.mul %a, %u : (tensor<?x172xf32>, tensor<?x172xf32>) -> tensor<?x172xf32>
    %y = actsparse.matmul %h, %w2 : (tensor<?x172xf32>, tensor<172x64xf32>) -> tensor<?x64xf32>
    ```

    becomes

    ```mlir
    %y = actsparse.ffn %x up %w3 gate %w1 down %w2 activation = silu layer = 0
        : (tensor<?x64xf32>, tensor<64x172xf32>, tensor<64x172xf32>,
           tensor<172x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

def Relufy : Pass<"actsparse-relufy"> {
  let summary = "Replace FFN activations by ReLU variants whose outputs are "
                "exactly zero for most neurons";
  let description = [{
    Changes the activation of every `actsparse.ffn` (run
    `--actsparse-fuse-ffn` first) to ReLU and records the activation the
    model was trained with as `original`, which calibration uses as its
    reference. In a gated block the ReLU replaces the activation of the
    gate projection (`relu(x W_gate) * (x W_up)`), so a neuron is zero
    whenever its gate is negative; `drelu` also applies ReLU to the up
    projection (dReLU, TurboSparse), zeroing a neuron when either input is
    negative.

    Modes:

    - `relu`: stage 1 of "ReLU Strikes Back": `relu(g)`;
    - `shifted-relu`: `relu(g - b)` with `b = shift` for every layer;
      `--actsparse-calibrate` can then set `b` per layer or per neuron for a
      target sparsity;
    - `fatrelu`: FATReLU (ProSparse, ONNX `ThresholdedRelu`): `relu(g)` where
      `relu(g) >= threshold`, else 0;
    - `threshold`: no swap: the trained activation stays and outputs with
      `|act(g)| < threshold` become 0, the training-free thresholding of TEAL
      and CATS (`drelu` does not apply).

    With `threshold-on=neuron`, `fatrelu` and `threshold` compare the neuron
    `|act(g) * u|` (the value the down projection multiplies) instead of
    `|act(g)|`: for the same sparsity it drops the neurons that contribute
    least (`threshold_on = neuron` on the block).

    `stage2` also inserts a ReLU after each normalisation layer (LayerNorm,
    or decomposed RMSNorm / LayerNorm) whose output feeds an FFN block or an
    attention projection, stage 2 of "ReLU Strikes Back"; the final
    normalisation before the LM head stays untouched.

    The model changes: without calibration (and, usually, fine-tuning) its
    accuracy drops. `docs/Sparsity.md` measures by how much.

    Example: `--actsparse-relufy="mode=fatrelu threshold=0.05"` turns
    `activation = silu` into `activation = relu threshold = 5.000000e-02
    original = silu`.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"relu\"",
           "relu, shifted-relu, fatrelu or threshold">,
    Option<"shift", "shift", "double", /*default=*/"0.0",
           "shifted-relu: the shift b of relu(x - b), the same for every "
           "layer">,
    Option<"threshold", "threshold", "double", /*default=*/"0.0",
           "fatrelu and threshold: activations whose magnitude is below "
           "this are set to 0">,
    Option<"thresholdOn", "threshold-on", "std::string",
           /*default=*/"\"activation\"",
           "fatrelu and threshold: compare the activation (|act(g)|) or the "
           "neuron (|act(g) * u|) with the threshold">,
    Option<"drelu", "drelu", "bool", /*default=*/"false",
           "gated blocks: ReLU on the up projection too (dReLU)">,
    Option<"stage2", "stage2", "bool", /*default=*/"false",
           "also insert ReLU after the normalisations feeding attention "
           "projections and FFN blocks">
  ];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

def KvCacheInPlace : Pass<"actsparse-kv-cache-in-place", "::mlir::ModuleOp"> {
  let summary = "Append each step's keys and values into runtime-owned "
                "caches instead of concatenating them with the past";
  let description = [{
    Decoder exports carry the KV cache through the graph: each layer returns
    `present = Concat(past, new)` and the caller feeds it back as the next
    step's `past`, so every step copies the whole cache, twice (the Concat,
    and the result handed back).

    For each result of `@main` that is such a Concat of an argument (the
    past) and new rows, also used inside the graph (by attention), this pass
    adds an argument, the cache, named like the result and tagged
    `actsparse.kv_cache = {past = "NAME", axis = N}`; replaces the Concat by
    `actsparse.kv_append` into it; and removes the result. The runtime owns
    one buffer per cache, sized to the context: it passes `past` as a view
    of the buffer's leading rows and the cache as a view that also covers
    the rows the step appends. Nothing is copied, and the values are the
    Concat's.

    A Concat whose result the graph does not use otherwise is left alone.

    Example:

    ```mlir
    func.func @main(%past: tensor<1x4x?x8xf32> {actsparse.name = "past_key_values.0.key"}, ...)
        -> (..., tensor<1x4x?x8xf32> {actsparse.name = "present.0.key"}) {
      %present = actsparse.concat %past, %new axis = 2 : ...
      ... uses of %present ...
      return ..., %present
    }
    ```

    becomes

    ```mlir
    func.func @main(%past: ..., %cache: tensor<1x4x?x8xf32>
        {actsparse.name = "present.0.key",
         actsparse.kv_cache = {axis = 2 : i64, past = "past_key_values.0.key"}})
        -> (...) {
      %present = actsparse.kv_append %new into %cache after %past axis = 2 : ...
      ... uses of %present ...
      return ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

def GroupQueryAttention : Pass<"actsparse-group-query-attention"> {
  let summary = "Read shared key/value heads once per group instead of "
                "copying them for every query head";
  let description = [{
    Grouped-query attention exports repeat each key/value head for the
    query heads that share it (transformers' `repeat_kv`, llama2.c's
    export): `Reshape(Expand(Unsqueeze(kv, 2), [B, Hkv, G, S, D]),
    [B, Hkv * G, S, D])`, a copy of the whole KV cache per layer and step,
    before the attention matmuls read it.

    This pass rewrites `MatMul(A, repeated)` and
    `MatMul(A, Transpose(repeated, [0, 1, 3, 2]))`, with `A` of shape
    `[B, Hkv * G, T, K]`, into `MatMul(Reshape(A, [0, Hkv, -1, 0]), kv)`
    (or its transpose) reshaped back to `[0, Hkv * G, -1, 0]`: the `G`
    query heads of a group become `G * T` rows against their one key/value
    head. Reshapes of row-major tensors move no data, and each result is
    the same sum of the same products in the same order.

    A repeat with `G = 1` (exports write `repeat_kv` for plain multi-head
    attention too) is replaced by `kv` itself, whatever reads it: on a
    KV-cache view the Reshape would otherwise copy the whole cache.

    Matched when the head counts are static, `Hkv * G` equals the repeated
    tensor's head count, and the Expand only broadcasts the unit dimension;
    the Reshape must merge the head and group dimensions (the only reshape
    of that result an attention export writes).

    PyTorch's export of `scaled_dot_product_attention` (transformers'
    default; SmolLM2's export) scales the transposed keys by a one-element
    factor before the product: `MatMul(A, Mul(Transpose(repeated), s))`.
    The pass rebuilds it as `MatMul(A, Transpose(repeat of Mul(kv, s)))`,
    which the rewrite above then takes: scaling commutes exactly with the
    copy and the transpose, so every product is the same, and per step the
    keys are scaled once per KV head instead of being repeated, transposed
    and scaled for every query head.
  }];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

def LastPositionLogits : Pass<"actsparse-last-position-logits",
                              "::mlir::ModuleOp"> {
  let summary = "Compute the logits of the last position only, as "
                "generation needs";
  let description = [{
    A decoder export computes `logits` for every position of its input,
    but generation samples from the last one only: in a prompt of T tokens,
    the classifier's other T - 1 rows are thrown away. The classifier is a
    large product (SmolLM2: 49,152 x 576, a fifth of the model's
    multiply-adds per token).

    When result `logits` of `@main` is `actsparse.matmul %x, %w` with `%x`
    of shape `[B, S, K]` and `%w` of shape `[K, V]`, and nothing else reads
    the product, this pass multiplies only the last position:
    `%x` becomes `actsparse.gather %x, [-1], axis = 1` (ONNX Gather: the
    last row, `[B, 1, K]`; an input without positions is an index error at
    run time, not a read out of bounds) and the result becomes `[B, 1, V]`.
    That row is the sum of the same products as before; the kernel that
    multiplies one row may add them in another order than the prefill
    GEMM (float rounding).

    The static `1` in the result type is how a runtime tells such a model
    from one that returns every position: sparse-run applies this pass
    when it compiles IR for generation, not for `--perplexity` or the
    `--check-*` modes, which read every position (`--all-logits` turns it
    off), and refuses to score perplexity with a model compiled with it.
    Other logits (no such product, another reader, another rank) are left
    as they are.

    Example:

    ```mlir
    %logits = actsparse.matmul %h, %w
        : (tensor<?x?x64xf32>, tensor<64x512xf32>) -> tensor<?x?x512xf32>
    return %logits : tensor<?x?x512xf32>
    ```

    becomes

    ```mlir
    %last = actsparse.constant dense<-1> : tensor<1xi64>
    %row = actsparse.gather %h, %last, axis = 1
        : (tensor<?x?x64xf32>, tensor<1xi64>) -> tensor<?x1x64xf32>
    %logits = actsparse.matmul %row, %w
        : (tensor<?x1x64xf32>, tensor<64x512xf32>) -> tensor<?x1x512xf32>
    return %logits : tensor<?x1x512xf32>
    ```
  }];
  let dependentDialects = ["::mlir::actsparse::ActSparseDialect"];
}

#endif // ACTSPARSE_TRANSFORMS_PASSES_TD
