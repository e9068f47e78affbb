//===- Calibration.td - the calibration pass ---------------*- tablegen -*-===//
//
// Declared apart from Passes.td because it runs compiled code: its library
// links the lowering and the runtime (see Calibration.h).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TRANSFORMS_CALIBRATION_TD
#define ACTSPARSE_TRANSFORMS_CALIBRATION_TD

include "mlir/Pass/PassBase.td"

def Calibrate : Pass<"actsparse-calibrate", "::mlir::ModuleOp"> {
  let summary = "Set FFN thresholds or shifts for a target sparsity, and "
                "refit down projections, from calibration tokens";
  let description = [{
    Compiles the module exactly as `sparse-run` does (JIT), runs it over the
    token sequences of `tokens` and records, through the runtime's FFN probe,
    the input of every `actsparse.ffn` for every token. Then, layer by layer,
    with the block's weights read from the weight pack:

    - `tune=threshold` sets the magnitude threshold of the activation output
      (`|act(g)| < T` becomes 0) to the `target-sparsity` quantile of the
      recorded outputs: FATReLU on a relufied block, TEAL / CATS-style
      thresholding on a SiLU or GELU block that was never relufied;
      with `threshold-on=neuron` the threshold compares the neuron
      `|act(g) * u|` instead (`threshold_on = neuron` on the block), which
      drops the neurons that contribute least and costs far less accuracy
      for the same sparsity (`docs/Sparsity.md`);
    - `tune=shift` (ReLU blocks) sets the shift `b` of `relu(g - b)` to the
      quantile of the pre-activation, one `b` per layer or, with
      `granularity=neuron`, one per neuron;
    - `repair` refits the down projection by ridge-regularised least squares,
      `W = argmin |H W - Y|^2 + lambda |W - W_down|^2`, where `H` are the
      block's new neurons on the calibration inputs and `Y` the block's
      output with the activation it was trained with (`original`, see
      `--actsparse-relufy`). The refitted matrices are written, with every
      tensor of the input pack, to `output-pack`, which the module then
      names. `lambda` is `ridge` times the mean diagonal of `H^T H` (the
      system solved is the smaller of the primal, neurons x neurons, and
      the dual, tokens x tokens); by
      default `ridge` is chosen per block: fitted on the first 80 % of the
      calibration tokens, the candidate with the smallest error on the last
      20 % wins, then the block is refitted on all of them. `repair-bias`
      also fits a bias (stored as the block's `down_bias`). A refitted
      weight records the trained one it replaces (`actsparse.refit_of`), so
      calibrating a repaired model again targets, and regularises towards,
      the model as trained, and gives what one calibration of the original
      model would.

    With `sequential` (the default) the blocks are calibrated in order: the
    model is compiled and run again before each block, so block `i` sees the
    inputs that the already calibrated blocks `< i` produce, and its repair
    target is the original block applied to the original model's inputs
    (recorded once from the model with every relufication undone), which
    lets the refit absorb drift from earlier layers. With `target=residual`
    (the default) the target also includes the difference between the
    original model's residual stream and this model's, at the Add the block's
    output goes to (the probe reports that stream), so each block also
    cancels what earlier changes left in the stream; a block whose output
    is not added to anything keeps the plain target. `sequential=false`
    records the module once as given and fits every block to its own
    original output on those inputs: one compile instead of one per block.

    Progress goes to stderr; `report` names a file that receives the
    per-layer table (sparsity before and after, threshold or shift, and the
    relative output error of the block before and after repair).

    Example:

    ```
    sparse-opt model.onnx --weight-pack model.pack --actsparse-fuse-ffn \
      --actsparse-relufy --actsparse-calibrate="tokens=calib.txt \
      target-sparsity=0.7 repair=true output-pack=model.cal.pack \
      report=calib.txt.report" -o model.mlir
    ```
  }];
  let options = [
    Option<"tokens", "tokens", "std::string", /*default=*/"",
           "calibration token ids: one sequence per line (starting with "
           "BOS), ids separated by spaces or commas">,
    ListOption<"targetSparsity", "target-sparsity", "double",
               "fraction of neurons to make zero per block: one value for "
               "every block, or one per block in program order (0: do not "
               "tune)">,
    Option<"tune", "tune", "std::string", /*default=*/"\"threshold\"",
           "what reaches the target: threshold (any activation) or shift "
           "(ReLU blocks)">,
    Option<"thresholdOn", "threshold-on", "std::string", /*default=*/"\"\"",
           "tune=threshold: what the threshold compares: activation "
           "(|act(g)|, TEAL / CATS) or neuron (|act(g) * u|); default: what "
           "the block already says, else activation">,
    Option<"granularity", "granularity", "std::string", /*default=*/"\"layer\"",
           "tune=shift: one shift per layer or per neuron">,
    Option<"repair", "repair", "bool", /*default=*/"false",
           "refit every down projection by least squares">,
    Option<"repairBias", "repair-bias", "bool", /*default=*/"false",
           "repair: also fit a bias of the down projection (added to the "
           "block's down_bias; regularised towards 0)">,
    Option<"target", "target", "std::string", /*default=*/"\"residual\"",
           "repair with sequential=true: fit the block's original output "
           "plus the drift of the residual stream it is added to (residual), "
           "or the block's original output only (block)">,
    Option<"ridge", "ridge", "double", /*default=*/"-1",
           "repair: strength of the pull towards the original down "
           "projection; negative: chosen per block among 0.01 ... 3 by the "
           "error on held-out calibration tokens">,
    Option<"outputPack", "output-pack", "std::string", /*default=*/"",
           "repair: the weight pack to write (all tensors plus the refitted "
           "ones); the module names it as given">,
    Option<"weights", "weights", "std::string", /*default=*/"",
           "the module's weight pack (default: the one the module names)">,
    Option<"report", "report", "std::string", /*default=*/"",
           "write the per-layer report to this file">,
    Option<"sequential", "sequential", "bool", /*default=*/"true",
           "fit block i on the inputs of the model with blocks < i already "
           "calibrated, against the original model's block outputs (one "
           "compile and run per block); false: one recording for all">,
    Option<"optLevel", "opt-level", "unsigned", /*default=*/"0",
           "LLVM optimisation level (0-3) of the calibration runs' code: "
           "it runs briefly, so compile time matters more than speed">,
    Option<"cache", "cache", "bool", /*default=*/"true",
           "compile the recording runs' code through the object cache "
           "($ACTSPARSE_CACHE/objects, else ~/.cache/actsparse/objects, as "
           "sparse-run), so that the same models are not compiled twice">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "no progress or report on stderr">
  ];
}

def BundleFfn : Pass<"actsparse-bundle-ffn", "::mlir::ModuleOp"> {
  let summary = "Store each FFN block's weights neuron by neuron (row-column "
                "bundles) and make it an actsparse.sparse_ffn";
  let description = [{
    Replaces every `actsparse.ffn` whose parameters are weight-pack tensors
    or f32 constants by an `actsparse.sparse_ffn` computing the same block
    on one neuron-major tensor: row `i` holds neuron `i`'s gate row, up row
    and down column, then its gate bias, up bias and shift when the block
    has them (a scalar shift is stored in every row), padded to a 64-byte
    multiple (`FfnBundle.h`). The bundles are written, with layout 1
    (`docs/WeightPack.md`), to `output-pack`, together with every tensor of
    the input pack that the module still uses; weights that only the
    bundled blocks used are left out unless `keep-unbundled` is set, so no
    weight is stored twice. The module then names the new pack.

    `predictor=exact-gate` also marks blocks whose zeros the gate decides
    (ReLU, shifted ReLU, FATReLU; not a threshold on the neuron) so that
    the kernel computes every gate first and reads the up row and down
    column of active neurons only; `--actsparse-insert-predictors` adds
    learned predictors instead.

    `gates=apart` takes the gate projection of such gated blocks out of the
    rows: the block gets `gate_pre = x W_gate + gate_bias - shift`, computed
    by an ordinary `actsparse.matmul` (which `--actsparse-quantize` then
    quantizes like any projection), and its rows hold up, down and the up
    bias. The exact gate then reads one contiguous gate matrix, and a row
    only for an active neuron, also on flash, where the gates stay in DRAM.
    Blocks whose gate does not decide their zeros keep it, with a remark.
    Predictors are fitted on blocks whose rows hold their gate.

    Run it after relufication and calibration (which work on
    `actsparse.ffn`). Blocks it cannot bundle (an operand that is neither a
    weight nor a constant, a non-f32 type, dynamic feature sizes) are left
    as they are, with a remark.

    Example:

    ```
    sparse-opt model.mlir --actsparse-bundle-ffn="output-pack=model.bundled.pack predictor=exact-gate" -o model.sparse.mlir
    ```
  }];
  let options = [
    Option<"outputPack", "output-pack", "std::string", /*default=*/"\"\"",
           "the weight pack to write (bundles plus the tensors the module "
           "still uses); the module names it as given">,
    Option<"weights", "weights", "std::string", /*default=*/"\"\"",
           "the module's weight pack (default: the one the module names)">,
    Option<"predictor", "predictor", "std::string", /*default=*/"\"none\"",
           "none (compute every neuron) or exact-gate (gate-decided blocks: "
           "up and down for active neurons only)">,
    Option<"gates", "gates", "std::string", /*default=*/"\"bundled\"",
           "bundled (gate rows in the bundle rows) or apart (gate-decided "
           "gated blocks: the gate projection stays a dense matrix before "
           "the block)">,
    Option<"keepUnbundled", "keep-unbundled", "bool", /*default=*/"false",
           "also keep the bundled blocks' original tensors in the pack">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "no progress on stderr">
  ];
}

def InsertPredictors : Pass<"actsparse-insert-predictors",
                            "::mlir::ModuleOp"> {
  let summary = "Give each sparse FFN block a low-rank predictor of its "
                "active neurons, trained on calibration tokens";
  let description = [{
    Runs the module (compiled as `sparse-run` would) over `tokens`, records
    the input `x` of every `actsparse.sparse_ffn` whose gate decides its
    zeros, and fits, per block, a rank-`rank` predictor of the gate's
    pre-activation: the reduced-rank regression `g ~ x A B` with `A = W V`,
    `B = V^T`, where `W` is the gate projection and `V` the top `rank`
    right singular vectors of `X W` on the first 80 % of the recorded
    tokens (the best rank-`rank` fit of the gate on those inputs). A neuron
    is predicted active when its score `(x A) B + c > 0`, where `c` folds in
    the gate bias, the shift, the threshold and a margin chosen, on the
    last 20 % of the tokens (held out), so that the predictor finds
    `target-recall` of the neurons that are really active.

    The kernel then reads the bundle rows of predicted neurons only and
    computes them exactly; a neuron the predictor misses is taken as 0,
    which is the only way the predicted block differs from the exact one.
    Blocks whose zeros the gate does not decide (SiLU or GELU, a threshold
    on the neuron) are left alone with a remark.

    `A`, `B` and `c` go to `output-pack` with every tensor of the input
    pack. Progress goes to stderr; `report` names a file for the per-layer
    table: rank, predictor bytes (and their share of the block's), the
    recall and precision reached on the held-out tokens, the predicted and
    the exact density.

    Example:

    ```
    sparse-opt model.sparse.mlir --actsparse-insert-predictors="tokens=calib.txt rank=32 target-recall=0.99 output-pack=model.pred.pack report=pred.txt" -o model.pred.mlir
    ```
  }];
  let options = [
    Option<"tokens", "tokens", "std::string", /*default=*/"\"\"",
           "calibration token ids: one sequence per line, ids separated by "
           "spaces or commas">,
    Option<"rank", "rank", "unsigned", /*default=*/"32",
           "rank of each predictor (at most the block's input width)">,
    Option<"targetRecall", "target-recall", "double", /*default=*/"0.99",
           "fraction of the truly active neurons, on held-out tokens, that "
           "the predictor must find (0 < target-recall <= 1)">,
    Option<"outputPack", "output-pack", "std::string", /*default=*/"\"\"",
           "the weight pack to write (every input tensor plus the "
           "predictors); the module names it as given">,
    Option<"weights", "weights", "std::string", /*default=*/"\"\"",
           "the module's weight pack (default: the one the module names)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "write the per-layer table to this file">,
    Option<"optLevel", "opt-level", "unsigned", /*default=*/"0",
           "LLVM optimisation level (0-3) of the recording run's code">,
    Option<"cache", "cache", "bool", /*default=*/"true",
           "compile the recording runs' code through the object cache "
           "($ACTSPARSE_CACHE/objects, else ~/.cache/actsparse/objects, as "
           "sparse-run), so that the same models are not compiled twice">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "no progress or table on stderr">
  ];
}

def Quantize : Pass<"actsparse-quantize", "::mlir::ModuleOp"> {
  let summary = "Store the projection weights as block-quantized rows "
                "(q8_0, q4_0, q4_1) or 16-bit floats (f16, bf16)";
  let description = [{
    Every f32 weight-pack matrix that MatMuls read as their right operand,
    directly, through a `Transpose` (a classifier tied to the embedding) or
    as an `actsparse.ffn` parameter, is quantized round-to-nearest into rows
    of 32-weight blocks (`runtime/include/actsparse/runtime/Quant.h`, the
    formats of llama.cpp's types of the same names) and read through
    `actsparse.dequantize` (`f16` and `bf16` round each weight to the
    16-bit float, with no scale): `MatMul(x, W)` becomes
    `MatMul(x, Transpose(Dequantize(Q)))`, which the lowering turns into the
    runtime's quantized kernel. The classifier (the projection whose result
    the graph returns) gets `classifier-type`, every other projection
    `type`. Uses of a weight other than as a MatMul operand (an embedding's
    Gather) keep the f32 tensor. The quantized tensors (layouts 2-4 and
    8-9 of `docs/WeightPack.md`) and every tensor the module still uses go to
    `output-pack`, which the module then names.

    Bundled FFN blocks (`actsparse.sparse_ffn`) keep their bundles: each
    bundle row's gate row, up row and down column are quantized in `type`
    and stored as one byte row (layouts 5-7 and 10-11), scalars kept in
    f32, and the
    block gets `quant = type`. The sparse kernel then reads a neuron's
    quantized row, so skipped neurons and smaller rows save together. Run
    it after `--actsparse-bundle-ffn` and `--actsparse-insert-predictors`
    (predictors are fitted on the f32 bundles).

    Example:

    ```
    sparse-opt model.mlir --actsparse-quantize="type=q4_0 output-pack=model.q4.pack" -o model.q4.mlir
    ```
  }];
  let options = [
    Option<"type", "type", "std::string", /*default=*/"\"q8_0\"",
           "the projections' format: q8_0 (8.5 bits a weight), q4_0 (4.5), "
           "q4_1 (5), f16 or bf16 (16); int8 and int4 name q8_0 and q4_0">,
    Option<"classifierType", "classifier-type", "std::string",
           /*default=*/"\"\"",
           "the classifier's format: one of type's, or f32 to keep it "
           "(default: q8_0, or type when it is f16 or bf16)">,
    Option<"outputPack", "output-pack", "std::string", /*default=*/"\"\"",
           "the weight pack to write (quantized tensors plus the tensors the "
           "module still uses); the module names it as given">,
    Option<"weights", "weights", "std::string", /*default=*/"\"\"",
           "the module's weight pack (default: the one the module names)">,
    Option<"quiet", "quiet", "bool", /*default=*/"false",
           "no progress on stderr">
  ];
}

#endif // ACTSPARSE_TRANSFORMS_CALIBRATION_TD
