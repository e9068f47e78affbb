//===- Abi.h - the entry ABI between generated code and the runtime ---*- C++ -*-===//
//
// The single source of truth for how the runtime calls a lowered model.
// The lowering (--actsparse-lower-to-linalg) gives `func.func @main`
// `llvm.emit_c_interface`; for execution it is renamed `actsparse_graph`
// and, after LLVM lowering, wrapped (Entry.h):
//
//   void actsparse_entry(void **params);   // calls
//   void _mlir_ciface_actsparse_graph(Results *results, Desc *in0, ...,
//                                     Desc *inN, Desc *w0, ..., Desc *wM);
//
// with params[0] = results and params[1..] the descriptor pointers.
//   - in0..inN are the graph inputs in ONNX order (attribute actsparse.name);
//   - w0..wM are the weights, one per distinct weight-pack tensor, in the
//     order of the function's arguments tagged actsparse.weight = "name";
//   - Results is the struct of the result descriptors, in ONNX output order.
// Every descriptor is MLIR's ranked memref descriptor (below), row-major with
// identity layout, but for in-place caches and their past inputs (strided
// views of the caller's buffers). Result buffers are allocated by generated
// code through _mlir_memref_to_llvm_alloc; the caller owns them and frees
// `allocated` with _mlir_memref_to_llvm_free.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_ABI_H
#define ACTSPARSE_RUNTIME_ABI_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

/// A rank-2 f32 memref descriptor, as MLIR's C interface passes it.
struct ActSparseMemRef2DF32 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

/// A rank-3 f32 memref descriptor (weights prepacked as GEMM strips).
struct ActSparseMemRef3DF32 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
};

/// A rank-4 f32 memref descriptor (attention's [batch, heads, rows, cols]).
struct ActSparseMemRef4DF32 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[4];
  int64_t strides[4];
};

/// A rank-2 i8 memref descriptor: a quantized weight's rows (Quant.h).
struct ActSparseMemRef2DI8 {
  int8_t *allocated;
  int8_t *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

/// Runtime functions generated code may call.
extern "C" {
/// C[M, N] += A[M, K] * W[K, N]: the dense projections with a weight on the
/// right (linalg library call "actsparse_rt_matmul_f32"), threaded over the
/// runtime's thread pool and vectorized for the host CPU.
void _mlir_ciface_actsparse_rt_matmul_f32(ActSparseMemRef2DF32 *a,
                                          ActSparseMemRef2DF32 *w,
                                          ActSparseMemRef2DF32 *c);

/// C[M, N] += A[M, K] * W[N, K]^T: the same for a weight stored transposed
/// (linalg library call "actsparse_rt_matmul_nt_f32"), as exports write a
/// classifier tied to the embedding: MatMul(x, Transpose(embedding)).
void _mlir_ciface_actsparse_rt_matmul_nt_f32(ActSparseMemRef2DF32 *a,
                                             ActSparseMemRef2DF32 *w,
                                             ActSparseMemRef2DF32 *c);

/// C[M, N] += A[M, K] * W[K, N] for W prepacked (linalg library call
/// "actsparse_rt_matmul_panels_f32"): `w` is [ceil(N / 16), K, 16], strip s
/// holding columns 16 s .. 16 s + 15 of every row (kStripWidth), zero past
/// N, as the weight loader lays out weights whose signature line says
/// `panels N` (layOutWeight in Entry.h). Prefill multiplies the strips
/// without packing them; decode reads each strip once, contiguously.
/// Strips of another shape fail the call (reportRuntimeError).
void _mlir_ciface_actsparse_rt_matmul_panels_f32(ActSparseMemRef2DF32 *a,
                                                 ActSparseMemRef3DF32 *w,
                                                 ActSparseMemRef2DF32 *c);

/// C = A * W instead of C += A * W, for each of the three kernels above
/// ("set" variants, same operands; C's prior contents are never read).
/// --actsparse-lower-library-calls calls them for a product into a buffer
/// the generated code had just filled with zeros, and drops the fill: the
/// same bits (the first partial sum is added to 0), without a pass over C
/// on the calling thread.
void _mlir_ciface_actsparse_rt_matmul_set_f32(ActSparseMemRef2DF32 *a,
                                              ActSparseMemRef2DF32 *w,
                                              ActSparseMemRef2DF32 *c);
void _mlir_ciface_actsparse_rt_matmul_nt_set_f32(ActSparseMemRef2DF32 *a,
                                                 ActSparseMemRef2DF32 *w,
                                                 ActSparseMemRef2DF32 *c);
void _mlir_ciface_actsparse_rt_matmul_panels_set_f32(ActSparseMemRef2DF32 *a,
                                                     ActSparseMemRef3DF32 *w,
                                                     ActSparseMemRef2DF32 *c);

/// Runs task(ctx, t, T) for every chunk t < T of an outlined kernel
/// (--actsparse-parallel-kernel-calls): T is the thread pool's size and the
/// chunks run on its threads, the caller taking chunk 0, when `work` (the
/// product of the kernel's loop ranges) is at least
/// kMinParallelKernelWork and the caller is not itself one of the pool's
/// chunks; otherwise task(ctx, 0, 1), the whole kernel, on the calling
/// thread. The chunks write disjoint elements.
void actsparse_rt_parallel_for(void (*task)(void *, int64_t, int64_t),
                               void *ctx, int64_t work);

/// C[b, h] += A[b, h] * W[b, h] for every batch and head of rank-4 f32
/// memrefs, C [B, H, M, N], A [., ., M, K], W [., ., K, N]: attention's P·V
/// (library call "actsparse_rt_batch_matmul_f32"). A batch or head
/// dimension of size 1 in A or W is broadcast. Each slice goes to the
/// matmul kernel above.
void _mlir_ciface_actsparse_rt_batch_matmul_f32(ActSparseMemRef4DF32 *a,
                                                ActSparseMemRef4DF32 *w,
                                                ActSparseMemRef4DF32 *c);

/// The same with W stored [., ., N, K] and read transposed: attention's
/// Q·Kᵀ over the KV cache (library call "actsparse_rt_batch_matmul_nt_f32").
void _mlir_ciface_actsparse_rt_batch_matmul_nt_f32(ActSparseMemRef4DF32 *a,
                                                   ActSparseMemRef4DF32 *w,
                                                   ActSparseMemRef4DF32 *c);

/// C = A * W for the two batched kernels above ("set" variants, as for the
/// matmul kernels): attention's scores and its output, whose buffers the
/// generated code would otherwise fill with zeros first, a pass over a
/// [B, H, T, T] buffer per layer in a prefill.
void _mlir_ciface_actsparse_rt_batch_matmul_set_f32(ActSparseMemRef4DF32 *a,
                                                    ActSparseMemRef4DF32 *w,
                                                    ActSparseMemRef4DF32 *c);
void _mlir_ciface_actsparse_rt_batch_matmul_nt_set_f32(
    ActSparseMemRef4DF32 *a, ActSparseMemRef4DF32 *w, ActSparseMemRef4DF32 *c);

/// Y[M, N] = X[M, K] * dequantize(W)ᵀ for W [N, B] the quantized rows of
/// kind `kind` (Quant.h: 0 q8_0, 1 q4_0, 2 q4_1; B = quantRowBytes(kind,
/// K)): every projection by an actsparse.dequantize'd weight. Y is
/// overwritten. A kind or row size the kernel does not know fails the call.
void _mlir_ciface_actsparse_rt_matmul_q_f32(int64_t kind,
                                            ActSparseMemRef2DF32 *x,
                                            ActSparseMemRef2DI8 *w,
                                            ActSparseMemRef2DF32 *y);

/// The same for W laid out in groups of eight rows (Quant.h,
/// groupQuantizedRows): W [ceil(N / 8), 8 B], as the weight loader lays out
/// weights whose signature line says `groups N KIND` (layOutWeight in
/// Entry.h). Decode reads each group once and takes eight rows' dot
/// products in the lanes of one vector.
void _mlir_ciface_actsparse_rt_matmul_q_groups_f32(int64_t kind,
                                                   ActSparseMemRef2DF32 *x,
                                                   ActSparseMemRef2DI8 *w,
                                                   ActSparseMemRef2DF32 *y);

/// y[r, :] = softmax(x[r, :]) for every row of f32 [R, C] memrefs: every
/// f32 actsparse.softmax over its last axis, the other axes flattened into
/// rows. Vectorized, exp included (glibc's vector expf).
void _mlir_ciface_actsparse_rt_softmax_f32(ActSparseMemRef2DF32 *x,
                                           ActSparseMemRef2DF32 *y);

/// Called by every lowered actsparse.ffn with the block's input rows
/// x[T, D], neuron rows h[T, H] (T tokens, in sequence order) and the rows
/// r[T, E] of the residual stream its output is added to (0 x E when it is
/// not added to anything), before the down projection. Forwards them to the
/// observer set with setFfnObserver() (FfnStats.h); without one it returns
/// at once.
void _mlir_ciface_actsparse_rt_ffn_probe(int64_t layer, ActSparseMemRef2DF32 *x,
                                         ActSparseMemRef2DF32 *h,
                                         ActSparseMemRef2DF32 *r);

/// Y[T, E] = the actsparse.sparse_ffn block on input rows X[T, D] (Y is
/// overwritten; the down bias is added by generated code): `bundle` is the
/// block's H x S bundle rows (FfnBundle.h), `config` an FfnKernelConfig
/// word, `threshold` the magnitude threshold (0: none). `g` [T, H] are the
/// gate pre-activations when the gate is apart (FfnKernelConfig::gatePre),
/// else 0 x 0. With a low-rank predictor, `a` [D, r], `b` [r, H] and `c`
/// [1, H] give the scores (x a) b + c; otherwise they are 0 x 0. `r` are
/// the residual rows, as for the FFN probe, which the kernel calls in the
/// probe's place.
void _mlir_ciface_actsparse_rt_sparse_ffn_f32(
    int64_t layer, int64_t config, float threshold, ActSparseMemRef2DF32 *x,
    ActSparseMemRef2DF32 *bundle, ActSparseMemRef2DF32 *g,
    ActSparseMemRef2DF32 *a,
    ActSparseMemRef2DF32 *b, ActSparseMemRef2DF32 *c,
    ActSparseMemRef2DF32 *r, ActSparseMemRef2DF32 *y);

/// The same on a quantized bundle: H rows of S bytes (FfnBundle.h), its
/// format in `config`. A bundle whose rows do not fit the block fails the
/// call.
void _mlir_ciface_actsparse_rt_sparse_ffn_q_f32(
    int64_t layer, int64_t config, float threshold, ActSparseMemRef2DF32 *x,
    ActSparseMemRef2DI8 *bundle, ActSparseMemRef2DF32 *g,
    ActSparseMemRef2DF32 *a,
    ActSparseMemRef2DF32 *b, ActSparseMemRef2DF32 *c,
    ActSparseMemRef2DF32 *r, ActSparseMemRef2DF32 *y);

/// A Gather read index `index` of an axis of `size` entries (a token id
/// outside the vocabulary, a position past the model's context). Generated
/// code reads entry 0 instead and carries on; the runtime fails the call.
void actsparse_rt_index_out_of_range(int64_t index, int64_t size);

/// An elementwise operand's dimension is `got` at run time where the
/// broadcast needs `expected` (a dimension the importer could not infer,
/// which ONNX would broadcast from 1). Generated code reads a placeholder
/// instead, never out of bounds; the runtime fails the call.
void actsparse_rt_shape_mismatch(int64_t got, int64_t expected);

/// A Reshape whose shape comes from the graph at run time asks for an
/// impossible shape: `elements` in the tensor, `requested` elements in the
/// target shape (-1 when a dimension is negative other than one -1, the
/// product overflows, or a -1 cannot be inferred). Generated code reshapes
/// to [elements, 1, ...] instead; the runtime fails the call.
void actsparse_rt_invalid_reshape(int64_t elements, int64_t requested);

/// An actsparse.kv_append found the cache view the runtime lent it of the
/// wrong size: dimension `dim` is `size` where the past and new rows need
/// `needed`. Generated code writes nothing; the runtime fails the call.
void actsparse_rt_kv_cache_mismatch(int64_t dim, int64_t size,
                                    int64_t needed);

/// Every buffer generated code allocates or frees (MLIR's generic
/// allocation functions): buffers of the runtime's pool (BufferPool.h),
/// recycled by size class; an allocation that fails ends the model call at
/// once (runGuarded) instead of returning null. Buffers of these functions
/// are freed with _mlir_memref_to_llvm_free, never with free().
void *_mlir_memref_to_llvm_alloc(size_t size);
void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size);
void _mlir_memref_to_llvm_free(void *ptr);
}

namespace actsparse::runtime {

/// Version of this interface, recorded in every compiled model's signature
/// (Entry.h); shared libraries built for another version are refused.
/// 2: the FFN probe also receives the residual rows.
/// 3: the transposed-weight matmul, the shape-mismatch report, checked
///    allocations.
/// 4: the sparse FFN kernel.
/// 5: the run-time Reshape check.
/// 6: in-place KV caches (cache parameters between the inputs and the
///    weights) and their size check.
/// 7: the batched (attention) matmul kernels and the softmax kernel.
/// 8: the quantized matmul kernel (i8 weights).
/// 9: the sparse FFN kernel on quantized bundles, and with the gate apart.
/// 10: weights laid out as GEMM strips (the panels kernel).
/// 11: quantized weights laid out in groups of rows (the groups kernel).
/// 12: the f32 matmul kernels' "set" variants (C = A W).
/// 13: outlined kernels in chunks on the pool (actsparse_rt_parallel_for).
/// 14: the batched matmul kernels' "set" variants.
constexpr int kAbiVersion = 14;

/// Work (loop iterations) from which an outlined kernel runs in chunks on
/// the pool: below it, waking the other threads costs about what they
/// would save. The environment variable ACTSPARSE_PARALLEL_KERNEL_WORK
/// overrides it (tests set 1 to split every kernel).
constexpr int64_t kMinParallelKernelWork = 1 << 15;

/// Columns of one strip of a weight laid out for the GEMM
/// (actsparse_rt_matmul_panels_f32; the runtime's GEMM panel width).
constexpr int64_t kStripWidth = 16;

/// Symbol names of the functions above, for JIT symbol registration.
inline const char *kIndexOutOfRangeSymbol = "actsparse_rt_index_out_of_range";
inline const char *kShapeMismatchSymbol = "actsparse_rt_shape_mismatch";
inline const char *kInvalidReshapeSymbol = "actsparse_rt_invalid_reshape";
inline const char *kKvCacheMismatchSymbol = "actsparse_rt_kv_cache_mismatch";
inline const char *kAllocSymbol = "_mlir_memref_to_llvm_alloc";
inline const char *kAlignedAllocSymbol = "_mlir_memref_to_llvm_aligned_alloc";
inline const char *kFreeSymbol = "_mlir_memref_to_llvm_free";
inline const char *kMatMulSymbol = "_mlir_ciface_actsparse_rt_matmul_f32";
inline const char *kMatMulNtSymbol =
    "_mlir_ciface_actsparse_rt_matmul_nt_f32";
inline const char *kMatMulPanelsSymbol =
    "_mlir_ciface_actsparse_rt_matmul_panels_f32";
inline const char *kMatMulSetSymbol = "_mlir_ciface_actsparse_rt_matmul_set_f32";
inline const char *kMatMulNtSetSymbol =
    "_mlir_ciface_actsparse_rt_matmul_nt_set_f32";
inline const char *kMatMulPanelsSetSymbol =
    "_mlir_ciface_actsparse_rt_matmul_panels_set_f32";
inline const char *kParallelForFunction = "actsparse_rt_parallel_for";
inline const char *kFfnProbeSymbol = "_mlir_ciface_actsparse_rt_ffn_probe";
inline const char *kSparseFfnSymbol =
    "_mlir_ciface_actsparse_rt_sparse_ffn_f32";
inline const char *kSparseFfnQuantSymbol =
    "_mlir_ciface_actsparse_rt_sparse_ffn_q_f32";
/// The function names the lowering declares for the sparse FFN kernel, on
/// f32 and on quantized bundles.
inline const char *kSparseFfnFunction = "actsparse_rt_sparse_ffn_f32";
inline const char *kSparseFfnQuantFunction = "actsparse_rt_sparse_ffn_q_f32";
/// The function name the lowering declares for the FFN probe.
inline const char *kFfnProbeFunction = "actsparse_rt_ffn_probe";
/// The library-call name the lowering attaches to such matmuls.
inline const char *kMatMulLibraryCall = "actsparse_rt_matmul_f32";
inline const char *kMatMulNtLibraryCall = "actsparse_rt_matmul_nt_f32";
inline const char *kMatMulPanelsLibraryCall = "actsparse_rt_matmul_panels_f32";
/// The functions --actsparse-lower-library-calls calls instead of those three
/// when the product's output was just filled with zeros.
inline const char *kMatMulSetFunction = "actsparse_rt_matmul_set_f32";
inline const char *kMatMulNtSetFunction = "actsparse_rt_matmul_nt_set_f32";
inline const char *kMatMulPanelsSetFunction =
    "actsparse_rt_matmul_panels_set_f32";
inline const char *kBatchMatMulLibraryCall = "actsparse_rt_batch_matmul_f32";
inline const char *kBatchMatMulNtLibraryCall =
    "actsparse_rt_batch_matmul_nt_f32";
inline const char *kBatchMatMulSetFunction =
    "actsparse_rt_batch_matmul_set_f32";
inline const char *kBatchMatMulNtSetFunction =
    "actsparse_rt_batch_matmul_nt_set_f32";
inline const char *kQuantMatMulFunction = "actsparse_rt_matmul_q_f32";
inline const char *kQuantMatMulSymbol = "_mlir_ciface_actsparse_rt_matmul_q_f32";
inline const char *kQuantMatMulGroupsFunction =
    "actsparse_rt_matmul_q_groups_f32";
inline const char *kQuantMatMulGroupsSymbol =
    "_mlir_ciface_actsparse_rt_matmul_q_groups_f32";
inline const char *kSoftmaxFunction = "actsparse_rt_softmax_f32";
inline const char *kSoftmaxSymbol = "_mlir_ciface_actsparse_rt_softmax_f32";
inline const char *kBatchMatMulSymbol =
    "_mlir_ciface_actsparse_rt_batch_matmul_f32";
inline const char *kBatchMatMulNtSymbol =
    "_mlir_ciface_actsparse_rt_batch_matmul_nt_f32";
inline const char *kBatchMatMulSetSymbol =
    "_mlir_ciface_actsparse_rt_batch_matmul_set_f32";
inline const char *kBatchMatMulNtSetSymbol =
    "_mlir_ciface_actsparse_rt_batch_matmul_nt_set_f32";

/// log(sum_i exp(x[i])) over a row of n floats, shifted by its maximum, with
/// the softmax kernel's vector expf and a double sum: a row's negative
/// log-likelihood is logSumExp(row, n) - row[token] (--perplexity).
double logSumExp(const float *x, int64_t n);

/// Threads the runtime's kernels use (default: all cores).
void setNumThreads(int threads);
int numThreads();

/// Allocations generated code has made through the runtime since the
/// process started (buffers of intermediate tensors), and those of them
/// that the buffer pool could not serve from freed buffers (calls of the
/// system's allocator).
uint64_t generatedCodeAllocations();
uint64_t generatedCodeSystemAllocations();

/// Tells glibc's malloc to serve blocks of up to 32 MiB from the heap
/// instead of fresh mmaps, and to keep up to 64 MiB of freed memory. Decode
/// allocates tensors that grow with the position (the KV cache): each was
/// above the previous size, so malloc's adaptive threshold never caught up,
/// and every step mapped and page-faulted them anew. Tools call this once
/// at start; a program embedding the runtime decides for itself.
void keepTensorsInHeap();

/// The first out-of-range report since the last call, cleared by reading.
/// Returns false when there was none.
bool takeIndexOutOfRange(int64_t &index, int64_t &size);
/// The same for shape-mismatch reports.
bool takeShapeMismatch(int64_t &got, int64_t &expected);

/// A kernel that fails on input it cannot control (a weight read from
/// flash failing) records why here, zeroes its output and makes the calls
/// after it do nothing; invokeEntry then discards the results and returns
/// the message. The first report is kept until taken.
void reportRuntimeError(const std::string &message);
bool runtimeErrorPending();
bool takeRuntimeError(std::string &message);

/// Calls `entry(params)`; returns false, with the size that could not be
/// allocated, when an allocation of generated code failed (the call is
/// abandoned there: buffers it had allocated are not freed).
bool runGuarded(void (*entry)(void **), void **params, uint64_t &failedBytes);

/// Prefix of MLIR's C interface functions, and the name the graph function
/// gets before lowering (a shared library must not define `main`).
inline const char *kEntryPrefix = "_mlir_ciface_";
inline const char *kGraphSymbol = "actsparse_graph";
/// Prefix of the outlined loop nests (--actsparse-outline-kernels), which
/// code generation vectorizes for the host CPU.
inline const char *kKernelPrefix = "actsparse_kernel_";

/// A rank-R memref descriptor laid out as the LLVM lowering expects:
///   void *allocated; void *aligned; int64_t offset;
///   int64_t sizes[R]; int64_t strides[R];
/// Stored as 64-bit words so any rank fits one contiguous buffer.
class MemRefDescriptor {
public:
  explicit MemRefDescriptor(int64_t rank) : words_(3 + 2 * rank, 0) {}

  /// Describes a dense row-major buffer of the given shape.
  static MemRefDescriptor forBuffer(void *data, const std::vector<int64_t> &shape) {
    MemRefDescriptor d(shape.size());
    d.words_[0] = reinterpret_cast<uint64_t>(data);
    d.words_[1] = reinterpret_cast<uint64_t>(data);
    int64_t stride = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      d.words_[3 + i] = shape[i];
      d.words_[3 + shape.size() + i] = stride;
      stride *= shape[i];
    }
    return d;
  }

  /// Describes a strided view (strides in elements).
  static MemRefDescriptor forView(void *data, const std::vector<int64_t> &shape,
                                  const std::vector<int64_t> &strides) {
    MemRefDescriptor d(shape.size());
    d.words_[0] = reinterpret_cast<uint64_t>(data);
    d.words_[1] = reinterpret_cast<uint64_t>(data);
    for (size_t i = 0; i < shape.size(); ++i) {
      d.words_[3 + i] = shape[i];
      d.words_[3 + shape.size() + i] = strides[i];
    }
    return d;
  }

  void *data() { return words_.data(); }
  int64_t rank() const { return (words_.size() - 3) / 2; }
  void *allocated() const { return reinterpret_cast<void *>(words_[0]); }
  void *aligned() const { return reinterpret_cast<void *>(words_[1]); }
  int64_t offset() const { return int64_t(words_[2]); }
  int64_t size(int64_t i) const { return int64_t(words_[3 + i]); }
  int64_t stride(int64_t i) const { return int64_t(words_[3 + rank() + i]); }

private:
  std::vector<uint64_t> words_;
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_ABI_H
