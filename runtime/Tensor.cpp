//===- Tensor.cpp - host tensors and reference files ----------------------===//

#include "actsparse/runtime/Tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace actsparse::runtime {

/// Words of storage for `bytes` of data: rounded up, and one word past.
static size_t storageWords(size_t bytes) { return (bytes + 7) / 8 + 1; }

Tensor::Tensor(DType dtype, std::vector<int64_t> shape)
    : dtype(dtype), shape(std::move(shape)) {
  storage.assign(storageWords(byteSize()), 0);
}

Tensor Tensor::uninitialized(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.storage.resize(storageWords(t.byteSize()));
  // The bytes past the data are zero, as in a zero-filled tensor.
  std::memset(static_cast<char *>(t.data()) + t.byteSize(), 0,
              t.storage.size() * sizeof(uint64_t) - t.byteSize());
  return t;
}

uint64_t Tensor::numElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t k = shape.size(); k-- > 1;)
    strides[k - 1] = strides[k] * shape[k];
  return strides;
}

void copyLeadingRows(void *dst, int64_t dstRows, const void *src,
                     int64_t srcRows, int64_t rows,
                     const std::vector<int64_t> &shape, int axis,
                     size_t elementSize) {
  // One block per index of the dimensions before the axis.
  int64_t outer = 1, inner = elementSize;
  for (int k = 0; k < axis; ++k)
    outer *= shape[k];
  for (size_t k = axis + 1; k < shape.size(); ++k)
    inner *= shape[k];
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(static_cast<char *>(dst) + o * dstRows * inner,
                static_cast<const char *>(src) + o * srcRows * inner,
                rows * inner);
}

double elementAsDouble(const Tensor &t, uint64_t i) {
  switch (t.dtype) {
  case DType::F32: return t.as<float>()[i];
  case DType::F64: return t.as<double>()[i];
  case DType::F16: return double(t.as<_Float16>()[i]);
  case DType::BF16: {
    uint32_t bits = uint32_t(t.as<uint16_t>()[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case DType::U8: return t.as<uint8_t>()[i];
  case DType::I8: return t.as<int8_t>()[i];
  case DType::Bool: return t.as<uint8_t>()[i] != 0;
  case DType::I16: return t.as<int16_t>()[i];
  case DType::U16: return t.as<uint16_t>()[i];
  case DType::U32: return t.as<uint32_t>()[i];
  case DType::U64: return double(t.as<uint64_t>()[i]);
  case DType::I32: return t.as<int32_t>()[i];
  case DType::I64: return double(t.as<int64_t>()[i]);
  }
  return std::nan("");
}

static bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 ||
         t == DType::BF16;
}

TensorComparison compareTensors(const Tensor &got, const Tensor &want,
                                double atol, double rtol) {
  TensorComparison c;
  bool floats = isFloat(want.dtype);
  for (uint64_t i = 0; i < want.numElements(); ++i) {
    bool ok;
    double g = elementAsDouble(got, i), w = elementAsDouble(want, i);
    if (!floats) {
      // Integers compare exactly, whatever their width.
      // 64-bit integers compare as bits: doubles lose their low bits.
      bool wide = want.dtype == DType::I64 || want.dtype == DType::U64;
      ok = wide ? got.as<int64_t>()[i] == want.as<int64_t>()[i] : g == w;
      c.maxAbsError = std::max(c.maxAbsError, std::fabs(g - w));
    } else if (std::isnan(w) || std::isnan(g)) {
      ok = std::isnan(w) && std::isnan(g);
    } else if (std::isinf(w) || std::isinf(g)) {
      ok = g == w;
    } else {
      double err = std::fabs(g - w);
      c.maxAbsError = std::max(c.maxAbsError, err);
      ok = err <= atol + rtol * std::fabs(w);
    }
    if (!ok && c.mismatches++ == 0) {
      std::ostringstream s;
      s.precision(9);
      s << "element " << i << ": got " << g << ", expected " << w;
      c.firstMismatch = s.str();
    }
  }
  return c;
}

int Executable::inputIndex(const std::string &name) const {
  for (size_t i = 0; i < inputSpecs().size(); ++i)
    if (inputSpecs()[i].name == name)
      return i;
  return -1;
}

int Executable::outputIndex(const std::string &name) const {
  for (size_t i = 0; i < outputSpecs().size(); ++i)
    if (outputSpecs()[i].name == name)
      return i;
  return -1;
}

Status readReferenceFile(const std::string &path,
                         std::vector<NamedTensor> &tensors) {
  std::ifstream in(path);
  if (!in)
    return Status::error("cannot open reference file '" + path + "'");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream header(line);
    NamedTensor t;
    std::string dtype;
    int64_t rank;
    if (line.size() > 4096)
      line = line.substr(0, 4096) + "...";
    if (!(header >> t.role >> t.name >> dtype >> rank) || rank < 0 ||
        rank > 64)
      return Status::error(path + ": bad tensor header '" + line + "'");
    std::vector<int64_t> shape(rank);
    for (int64_t &d : shape)
      if (!(header >> d) || d < 0)
        return Status::error(path + ": bad shape for '" + t.name + "'");
    DType dt;
    if (dtype == "f32")
      dt = DType::F32;
    else if (dtype == "i64")
      dt = DType::I64;
    else
      return Status::error(path + ": unsupported dtype " + dtype);
    if (!std::getline(in, line))
      return Status::error(path + ": values of '" + t.name + "' missing");
    // Every value takes at least two characters of the line (digit and
    // separator), which bounds what the shape may claim before anything is
    // allocated for it.
    uint64_t elements = 1;
    for (int64_t d : shape)
      if (__builtin_mul_overflow(elements, uint64_t(d), &elements))
        elements = UINT64_MAX;
    if (elements > line.size() / 2 + 1)
      return Status::error(path + ": too few values for '" + t.name + "'");
    t.tensor = Tensor(dt, shape);
    std::istringstream values(line);
    for (uint64_t i = 0; i < t.tensor.numElements(); ++i) {
      bool ok = dt == DType::F32 ? bool(values >> t.tensor.as<float>()[i])
                                 : bool(values >> t.tensor.as<int64_t>()[i]);
      if (!ok)
        return Status::error(path + ": too few values for '" + t.name + "'");
    }
    tensors.push_back(std::move(t));
  }
  return {};
}

} // namespace actsparse::runtime
