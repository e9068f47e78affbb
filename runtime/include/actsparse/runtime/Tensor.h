//===- Tensor.h - host tensors and reference files --------------*- C++ -*-===//
//
// A minimal owned tensor for inputs and outputs of compiled models, and the
// reader of the reference files that scripts/make-fixtures.py writes from
// PyTorch (test/Import/Inputs/*.ref.txt).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_TENSOR_H
#define ACTSPARSE_RUNTIME_TENSOR_H

#include "actsparse/runtime/WeightPack.h"

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace actsparse::runtime {

/// An allocator whose elements start uninitialized when the vector is
/// resized (value-initialization still zeroes, as `assign(n, 0)` does).
template <typename T> struct UninitializedAllocator : std::allocator<T> {
  template <typename U> struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U> &) noexcept {}
  template <typename U> void construct(U *p) noexcept { ::new ((void *)p) U; }
  template <typename U, typename... Args>
  void construct(U *p, Args &&...args) {
    ::new ((void *)p) U(std::forward<Args>(args)...);
  }
};

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Word-aligned storage, one word past the data.
  std::vector<uint64_t, UninitializedAllocator<uint64_t>> storage;

  Tensor() = default;
  /// Zero-filled.
  Tensor(DType dtype, std::vector<int64_t> shape);
  /// Storage left as the allocator gives it, for a buffer the caller
  /// fills before reading (weights read from a pack, a KV cache whose rows
  /// are written before they are read). A large one is then mapped page by
  /// page as it is written, never cleared beforehand.
  static Tensor uninitialized(DType dtype, std::vector<int64_t> shape);

  uint64_t numElements() const;
  size_t byteSize() const { return numElements() * dtypeSize(uint32_t(dtype)); }
  void *data() { return storage.data(); }
  const void *data() const { return storage.data(); }
  template <typename T> T *as() { return reinterpret_cast<T *>(data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(data());
  }
};

/// Name, element type and shape (-1 for a dynamic dimension) of a model
/// input, output or weight.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// A weight whose buffer is laid out for the GEMM: N > 0 when the pack
  /// holds it as [K, N] (row-major) and `shape` is its strips,
  /// [ceil(N / 16), K, 16] (Abi.h, actsparse_rt_matmul_panels_f32). 0: the
  /// buffer is the pack's tensor as stored.
  int64_t panelColumns = 0;
  /// With panelColumns: the pack holds the weight transposed, [N, K] (an
  /// embedding that is also the tied classifier), and `shape` is the
  /// strips of its transpose.
  bool panelsTransposed = false;
  /// A quantized weight laid out in groups of rows: N > 0 when the pack
  /// holds N rows of B bytes ([N, B] i8) of kind `groupKind` (QuantKind in
  /// Quant.h) and `shape` is [ceil(N / 8), 8 B] (Abi.h,
  /// actsparse_rt_matmul_q_groups_f32). 0: as stored.
  int64_t groupRows = 0;
  int64_t groupKind = 0;
};

/// A KV cache the model appends to in place (--actsparse-kv-cache-in-place):
/// the output `tensor` names, `present = Concat(past, new rows)` along
/// `axis`, is not returned by the model but written into a buffer the
/// caller lends it.
struct CacheSpec {
  TensorSpec tensor; ///< the output it stands for (e.g. present.0.key)
  int past = -1;     ///< the input holding its leading rows
  int axis = 0;
};

/// A caller's buffer lent to a model as an in-place cache: `shape` covers
/// the past rows and the rows the call appends (`pastRows` + new along the
/// cache's axis), `strides` (in elements) are the buffer's, which may hold
/// more rows. The cache's past input is the view of its first `pastRows`.
struct CacheView {
  void *data = nullptr;
  std::vector<int64_t> shape, strides;
  int64_t pastRows = 0;
};

/// Strides (in elements) of a dense row-major tensor of `shape`.
std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &shape);

/// Copies the first `rows` entries along `axis` from `src` to `dst`, two
/// dense buffers of `shape` except along `axis`, where they hold `srcRows`
/// and `dstRows` entries: a cache moved to a buffer of another capacity.
void copyLeadingRows(void *dst, int64_t dstRows, const void *src,
                     int64_t srcRows, int64_t rows,
                     const std::vector<int64_t> &shape, int axis,
                     size_t elementSize);

/// A compiled model as the runtime sees it: named inputs and outputs and a
/// call. Implemented by the JIT (mlir::actsparse::CompiledModel) so that
/// the generation loop in the runtime needs no MLIR.
class Executable {
public:
  virtual ~Executable() = default;
  virtual const std::vector<TensorSpec> &inputSpecs() const = 0;
  /// Every output of the graph, in-place caches included (last).
  virtual const std::vector<TensorSpec> &outputSpecs() const = 0;
  /// Runs with `inputs` in inputSpecs() order. In-place caches are
  /// computed into fresh tensors (a copy of the past each): their outputs
  /// come back like any other.
  virtual Status run(const std::vector<const Tensor *> &inputs,
                     std::vector<Tensor> &outputs) = 0;

  /// The in-place caches, in the order runWithCaches() takes them.
  virtual const std::vector<CacheSpec> &cacheSpecs() const {
    static const std::vector<CacheSpec> none;
    return none;
  }
  /// Runs with every in-place cache lent in `caches`, without copying it;
  /// the past inputs (entries of `inputs`) are not read, and the outputs
  /// of the caches are left empty (the rows are in the caller's buffers).
  virtual Status runWithCaches(const std::vector<const Tensor *> &inputs,
                               const std::vector<CacheView> &caches,
                               std::vector<Tensor> &outputs) {
    (void)inputs, (void)caches, (void)outputs;
    return Status::error("this model has no in-place caches");
  }

  int inputIndex(const std::string &name) const;
  int outputIndex(const std::string &name) const;
};

struct NamedTensor {
  std::string role; ///< "input" or "output"
  std::string name;
  Tensor tensor;
};

/// Element `i` of a tensor of any DType, as a double (exact for every type
/// but i64 / u64 values beyond 2^53).
double elementAsDouble(const Tensor &t, uint64_t i);

/// How a computed tensor compares with its expected value.
struct TensorComparison {
  uint64_t mismatches = 0; ///< elements outside the tolerance
  double maxAbsError = 0;  ///< over the pairs of finite values or integers
  /// The first mismatch: "element 12: got 1.5, expected 2".
  std::string firstMismatch;
};

/// Compares `got` with `want`, which share dtype and shape (the caller
/// checks): floats pass when |got - want| <= atol + rtol * |want| (numpy's
/// allclose, the rule of ONNX's backend tests), a NaN only against a NaN and
/// an infinity only against itself; integers and booleans must be equal.
TensorComparison compareTensors(const Tensor &got, const Tensor &want,
                                double atol, double rtol);

/// Reads a reference file; f32 and i64 tensors only.
Status readReferenceFile(const std::string &path,
                         std::vector<NamedTensor> &tensors);

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_TENSOR_H
