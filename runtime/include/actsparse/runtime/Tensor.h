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
#include <string>
#include <vector>

namespace actsparse::runtime {

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// 64-byte aligned storage (vector of aligned words).
  std::vector<uint64_t> storage;

  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> shape);

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
};

/// A compiled model as the runtime sees it: named inputs and outputs and a
/// call. Implemented by the JIT (mlir::actsparse::CompiledModel) so that
/// the generation loop in the runtime needs no MLIR.
class Executable {
public:
  virtual ~Executable() = default;
  virtual const std::vector<TensorSpec> &inputSpecs() const = 0;
  virtual const std::vector<TensorSpec> &outputSpecs() const = 0;
  /// Runs with `inputs` in inputSpecs() order.
  virtual Status run(const std::vector<const Tensor *> &inputs,
                     std::vector<Tensor> &outputs) = 0;

  int inputIndex(const std::string &name) const;
  int outputIndex(const std::string &name) const;
};

struct NamedTensor {
  std::string role; ///< "input" or "output"
  std::string name;
  Tensor tensor;
};

/// Reads a reference file; f32 and i64 tensors only.
Status readReferenceFile(const std::string &path,
                         std::vector<NamedTensor> &tensors);

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_TENSOR_H
