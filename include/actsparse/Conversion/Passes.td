//===- Passes.td - actsparse lowering passes ---------------*- tablegen -*-===//
//
// Lowering from the actsparse graph IR to upstream MLIR, and from there (by
// pipelines in C++) to the LLVM dialect.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_CONVERSION_PASSES_TD
#define ACTSPARSE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToLinalg : Pass<"actsparse-lower-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower actsparse graph ops to linalg, tensor, arith and math";
  let description = [{
    Every actsparse graph op becomes tensor-level upstream IR: elementwise
    ops and broadcasting become `linalg.generic` with broadcasting indexing
    maps, MatMul one `linalg.generic` with a reduction dimension, Softmax,
    ReduceMean and LayerNormalization reductions plus elementwise generics,
    Gather a generic that extracts from the table (an index outside the
    table is reported to the runtime through
    `actsparse_rt_index_out_of_range` and never read), Reshape a
    `tensor.reshape` whose ONNX 0 / -1 entries are resolved at run time,
    Concat a chain of `tensor.insert_slice`.

    ONNX broadcasting is resolved statically: a dimension that is statically
    1 broadcasts; dynamic dimensions are assumed to agree at run time.

    `actsparse.weight` ops become trailing arguments of their function, one
    per distinct name, each tagged `{actsparse.weight = "name"}`, and every
    function gets `llvm.emit_c_interface`: this is the entry ABI that the
    runtime calls (`runtime/include/actsparse/runtime/Abi.h`).

    Example:

    ```mlir
    %w = actsparse.weight "w" : tensor<4x5xf32>
    %y = actsparse.relu %x : tensor<?x4xf32>
    ```

    becomes a function argument `%w: tensor<4x5xf32> {actsparse.weight =
    "w"}` and a `linalg.generic` computing `select(x > 0, x, 0)`.

    With `panels` (the default), a weight [K, N] whose every use is the
    right operand of a projection the runtime's matmul kernel computes is
    laid out for the GEMM once, by the loader, instead of being packed on
    every call: the argument becomes its strips,
    `tensor<ceil(N/16) x K x 16 x f32>` tagged `{actsparse.weight_panels =
    N}`, and those generics read `W[n floordiv 16, k, n mod 16]` and call
    `actsparse_rt_matmul_panels_f32`.

    With `row-groups` (the default), quantized rows `[N, B] i8` whose every
    use is the quantized matmul kernel are laid out once, by the loader, in
    groups of eight rows (runtime/include/actsparse/runtime/Quant.h): the
    argument becomes `tensor<ceil(N/8) x 8B x i8>` tagged
    `{actsparse.weight_row_groups = {rows = N, kind = "KIND"}}`, and those
    calls go to `actsparse_rt_matmul_q_groups_f32`.
  }];
  let options = [
    Option<"panels", "panels", "bool", /*default=*/"true",
           "Lay out weights that only feed the matmul kernel as GEMM strips">,
    Option<"rowGroups", "row-groups", "bool", /*default=*/"true",
           "Lay out quantized weights that only feed the quantized matmul "
           "kernel in groups of eight rows">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
    "::mlir::bufferization::BufferizationDialect"
  ];
}

def LowerLibraryCalls : Pass<"actsparse-lower-library-calls",
                              "::mlir::ModuleOp"> {
  let summary = "Turn bufferized linalg ops tagged for a runtime kernel into "
                "calls";
  let description = [{
    After bufferization, every `linalg.generic` whose `library_call` is a
    runtime kernel of ActSparse (the `actsparse_rt_matmul*_f32` and
    `actsparse_rt_batch_matmul*_f32` products, `C += A * W`) becomes a
    `func.call` to that kernel,
    declared with `llvm.emit_c_interface` so that it receives memref
    descriptors (runtime/include/actsparse/runtime/Abi.h). Unlike upstream
    `convert-linalg-to-std`, ops without such a tag are left alone.

    A `matmul`, `matmul_nt` or `matmul_panels` product whose output buffer
    (a `memref.alloc`) was filled with `+0.0` earlier in the same block,
    with no other op mentioning the buffer in between, calls the kernel's
    `_set` variant (`C = A * W`) instead, and the fill is erased: the same
    result without a pass over `C` before the call.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def FuseElementwise : Pass<"actsparse-fuse-elementwise",
                            "::mlir::ModuleOp"> {
  let summary = "Fuse chains of elementwise linalg.generic ops on tensors "
                "into their consumers, where nothing is computed twice";
  let description = [{
    The lowering to linalg gives every ONNX op its own `linalg.generic`:
    RMSNorm is a square, a sum, a division, an addition, a square root, a
    reciprocal and two products; attention scales its scores, then adds the
    mask, each a pass over a `[B, H, T, T]` buffer. Each such generic
    becomes its own loop nest, intermediate buffer and outlined kernel
    function, which costs memory traffic when the model runs and code
    generation time when it compiles.

    This pass fuses an elementwise producer (all loops parallel) into the
    `linalg.generic` that reads it, with upstream's elementwise fusion
    (`linalg::fuseElementwiseOps`), when
    - the producer's result has no other use (it would be computed twice);
    - the consumer reads it through a permutation of its loops (a broadcast
      would compute each producer element once per broadcast position:
      RMSNorm's square root once per hidden unit instead of once per row);
    - neither op is tagged with a runtime kernel (`library_call`), whose
      operands `actsparse-lower-library-calls` passes to the kernel as
      they are;
    - neither body has side effects (a Gather's bounds report calls the
      runtime).

    The fused op computes each element with the same operations in the same
    order, so results are bit for bit those of the unfused ops.

    ```mlir
    %s = linalg.generic {...} ins(%x, %scale) outs(%e0) { divf }
    %m = linalg.generic {...} ins(%s, %mask) outs(%e1) { addf }
    ```

    becomes one generic over `%x, %scale, %mask` whose body divides, then
    adds.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def UnshareDestinations : Pass<"actsparse-unshare-destinations",
                                "::mlir::ModuleOp"> {
  let summary = "Give every destination-passing op its own tensor.empty / "
                "linalg.fill init, before bufferization";
  let description = [{
    CSE merges equal `tensor.empty` ops and the `linalg.fill`s that
    initialise reductions, so that in a 30-layer model hundreds of ops
    write into one init value. One-shot bufferization then sees one alias
    set with hundreds of writes and reads: its conflict analysis grows with
    the square of that (23 s of SmolLM2's compile), and every write but one
    gets a copy of the shared buffer. This pass clones each such init (a
    fill together with its `tensor.empty`) for every use but the first,
    right before the user, so each destination is its own allocation.

    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %a = linalg.generic ... outs(%e : tensor<4xf32>)
    %b = linalg.generic ... outs(%e : tensor<4xf32>)
    ```

    becomes two `tensor.empty` ops, one before each generic.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def FreeAfterLastUse : Pass<"actsparse-free-after-last-use"> {
  let summary = "Move each buffer's dealloc to right after its last use";
  let description = [{
    Ownership-based buffer deallocation frees a block's buffers at the end
    of the block. An imported model is one block of thousands of ops, so
    every intermediate buffer of a call stays allocated until the call
    returns: a 256-token prefill of SmolLM2 held 940 MB of activations at
    once, all of it freshly faulted-in memory, where a few megabytes are
    live at any time.

    This pass runs on memrefs, after the deallocations are lowered. It
    moves an unconditional `memref.dealloc %a` of a `memref.alloc` of the
    same block to right after the last op of the block that uses `%a` or
    any value derived from it (a view, a reshape, a cast, a base buffer, or
    any other memref result of an op that takes it; uses inside nested
    regions count for the op that holds them). It leaves the dealloc where
    it is when the buffer's address is taken as an integer (the run-time
    alias checks of conditional deallocations compare such addresses), when
    a derived value is passed to a branch, yield or return, or when a use
    is in another block.

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
    linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
    ... // many ops not touching %a
    memref.dealloc %a : memref<4xf32>
    ```

    moves the dealloc right after the `linalg.copy`.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def SplitDeallocs : Pass<"actsparse-split-deallocs", "::mlir::func::FuncOp"> {
  let summary = "Give each buffer that aliases nothing else in a "
                "bufferization.dealloc a dealloc of its own";
  let description = [{
    Ownership-based deallocation frees a block's buffers with one
    `bufferization.dealloc` at the end of the block. An imported model is
    one block, so that op lists every buffer of the model: 595 for
    stories260K, thousands for SmolLM2. Upstream's
    `buffer-deallocation-simplification` splits the buffers that alias no
    other operand into deallocs of their own, but asks its alias analysis
    about every pair of operands: on SmolLM2 it took 3 to 6 s, half of the
    whole MLIR lowering.

    This pass does the same split in one pass over the operands. It follows
    each operand (and each retained value) through views, casts, reshapes
    and `extract_strided_metadata` to where its memory comes from: an
    allocation (an op with an `Allocate` effect on it), an argument of the
    function, a global, or something else. When nothing is "something
    else", an operand whose allocation no other operand or retained value
    reaches moves to `bufferization.dealloc (%m) if (%c)` right before the
    original op. It aliases no retained value, so the original op's results
    do not change. Distinct allocations never alias, and an allocation made
    inside the function never aliases the function's arguments or a
    global. Upstream's simplification then runs on what is left.

    ```mlir
    %r = bufferization.dealloc (%a, %b, %arg0 : ...) if (%true, %c, %d)
             retain (%ret : ...)
    ```

    with `%a` and `%b` fresh `memref.alloc`s and `%ret` a view of `%b`,
    becomes `bufferization.dealloc (%a : ...) if (%true)` followed by the
    original op on `%b` and `%arg0`.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def OutlineKernels : Pass<"actsparse-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Move each bufferized linalg op into a function of its own, "
                "one function per distinct op";
  let description = [{
    An imported model is one function of thousands of ops, and LLVM's loop
    passes and code generation take time superlinear in a function's size.
    Layers of the same shape repeat the same ops on other buffers. This pass
    moves every linalg op on memrefs into a private function
    `actsparse_kernel_N` that takes the op's operands (and any non-constant
    value its body uses from above; constants are cloned in), and calls it.
    Ops that are identical up to their operands share one function, so a
    30-layer model compiles each kernel once.

    ```mlir
    linalg.generic {...} ins(%a : memref<1x64xf32>) outs(%b : memref<1x64xf32>)
    ```

    becomes `func.call @actsparse_kernel_3(%a, %b)` and, once per distinct
    op, `func.func private @actsparse_kernel_3(%arg0: memref<1x64xf32>,
    %arg1: memref<1x64xf32>)` holding the op. Each kernel carries
    `passthrough = ["noinline"]`, which the lowering to LLVM keeps, so LLVM
    compiles each once.

    First, a `memref.copy` between buffers that are not both dense
    row-major (the past of a KV-cache Concat into a slice of the present)
    becomes a `linalg.copy`: a loop nest whose rows LLVM copies with
    memcpy, where the LLVM lowering would have called MLIR's generic
    `memrefCopy`, which moves one element at a time.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def ParallelKernels : Pass<"actsparse-parallel-kernels", "::mlir::ModuleOp"> {
  let summary = "Let the runtime's threads share an outlined kernel's "
                "leading parallel loops";
  let description = [{
    After `actsparse-outline-kernels`, the loop nests between the runtime's
    kernels (norms, RoPE, activations, residual adds, attention's scaling
    and masking) ran on the calling thread while the pool's other threads
    waited. For every `actsparse_kernel_N` holding one linalg op whose
    first loop is parallel (and whose outputs index every leading parallel
    loop, so no two iterations write one element), this pass moves the op
    into `actsparse_kernel_N_chunk(args..., %work, %t, %T)`: the op as
    `scf.parallel` loops (`linalg-to-parallel-loops`) whose leading parallel
    loops are collapsed into one (all but the innermost when every loop is
    parallel, so that the innermost stays contiguous for the vectorizer)
    and cut to chunk `t` of `T`, `[n t / T, n (t + 1) / T)`. The kernel
    keeps its signature: it computes `%work`, the product of the op's loop
    ranges, and calls the chunk function with `t = 0, T = 1`, which is the
    whole op, so the IR means what it meant.

    `actsparse-parallel-kernel-calls`, on the LLVM dialect, then turns those
    calls into `actsparse_rt_parallel_for` calls, which run the chunks on
    the runtime's threads when the work is large enough.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect"];
}

def ParallelKernelCalls : Pass<"actsparse-parallel-kernel-calls",
                               "::mlir::ModuleOp"> {
  let summary = "Dispatch the chunk functions of parallel kernels through "
                "the runtime's thread pool";
  let description = [{
    On the LLVM dialect, after `actsparse-parallel-kernels` and the lowering:
    each call `@actsparse_kernel_N_chunk(args..., %work, 0, 1)` stores its
    arguments into a stack slot of the caller and becomes
    `actsparse_rt_parallel_for(@actsparse_kernel_N_task, %slot, %work)`;
    `actsparse_kernel_N_task(%slot, %t, %T)` loads them back and calls the
    chunk function for chunk `t` of `T`. The runtime runs every chunk, on
    its threads or, below a minimum of work, on the calling thread alone
    (runtime/include/actsparse/runtime/Abi.h).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def OutlineLayers : Pass<"actsparse-outline-layers", "::mlir::ModuleOp"> {
  let summary = "Move the repeated layers of a model into one function "
                "called once per layer";
  let description = [{
    After `actsparse-outline-kernels`, an imported model's function is
    still thousands of ops of glue per layer: allocations, views, shape
    checks, kernel and runtime calls, deallocations. A 30-layer model
    repeats the same glue 30 times on other buffers, and LLVM's
    optimization and code generation take time superlinear in the size of
    a function: SmolLM2's 174,000-line graph function took most of a
    minute to compile.

    This pass first moves the constants of each function's entry block to
    its start, one op per value (the lowering after the last CSE makes
    copies). It then looks in the block for the longest stretch
    of ops that repeats with one period of at least `min-ops` ops. Ops are
    first compared by a hash of their name, attributes, properties and
    types; the periods voted for by the distances between equal ops are
    tried, and the one that covers the most ops in whole repeats wins. The
    stretch is cut where the fewest values cross the cut. Each repeat is
    then checked op by op against the first: the same ops, attributes,
    properties, types and regions, and each operand either the
    corresponding value of the repeat or the corresponding value from
    before it (the first use fixes the correspondence, so a repeat that
    uses one input where the first uses two does not match). A constant is
    a value, not an identity: each of its uses is an input of its own, so
    that a 1 that is a stride in one place and the layer number in another
    still matches the next layer's 1 and 2. Repeats that
    match become calls of one private function `actsparse_layer_N`, whose
    arguments are the values the repeat uses from before it (inputs that
    are the same constant in every repeat are cloned in instead) and whose
    results are the values used after it. Repeats that do not match (a
    first or last layer that differs) stay where they are. The pass runs
    again on what is left, for a second group of repeats, up to 4 times.

    Semantics do not change: the ops run in the same order on the same
    buffers. A stretch whose stack allocation (`memref.alloca`) is used
    after it is left alone. The functions carry `passthrough =
    ["noinline"]`, so LLVM compiles each once.
  }];
  let options = [
    Option<"minOps", "min-ops", "unsigned", /*default=*/"64",
           "Shortest repeat outlined, in ops of the block">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // ACTSPARSE_CONVERSION_PASSES_TD
