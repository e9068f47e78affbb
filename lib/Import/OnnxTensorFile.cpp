//===- OnnxTensorFile.cpp - ONNX TensorProto files ------------------------===//

#include "actsparse/Import/OnnxTensorFile.h"
#include "TensorData.h"

#include <cstring>
#include <fstream>

namespace rt = ::actsparse::runtime;

rt::Status mlir::actsparse::readOnnxTensorFile(const std::string &path,
                                               std::string &name,
                                               rt::Tensor &tensor,
                                               std::optional<rt::DType> expected) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return rt::Status::error("cannot open '" + path + "'");
  onnx::TensorProto t;
  if (!t.ParseFromIstream(&in))
    return rt::Status::error("'" + path + "' is not a serialized TensorProto");
  auto bad = [&](const std::string &why) {
    return rt::Status::error("'" + path + "': tensor '" + t.name() + "' " +
                             why);
  };
  int32_t dataType = t.data_type();
  if (dataType == onnx::TensorProto::UINT16 && expected == rt::DType::BF16)
    dataType = onnx::TensorProto::BFLOAT16;
  size_t eltSize = rt::dtypeSize(dataType);
  if (eltSize == 0)
    return bad("has element type " + std::to_string(dataType) +
               ", which the runtime does not have");
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return bad("keeps its data in an external file");
  std::vector<int64_t> shape;
  uint64_t elements = 1;
  for (int64_t d : t.dims()) {
    // The bytes are already in memory: a shape claiming more than they
    // hold is refused before anything is allocated for it.
    if (d < 0 || __builtin_mul_overflow(elements, uint64_t(d), &elements) ||
        elements > (uint64_t(1) << 40))
      return bad("has a negative or oversized dimension");
    shape.push_back(d);
  }
  std::string bytes;
  if (std::string e = onnx_import::inlineTensorBytes(t, bytes); !e.empty())
    return bad(e);
  if (bytes.size() != elements * eltSize)
    return bad("holds " + std::to_string(bytes.size()) +
               " bytes but its shape and type need " +
               std::to_string(elements * eltSize));
  tensor = rt::Tensor(static_cast<rt::DType>(dataType), shape);
  std::memcpy(tensor.data(), bytes.data(), bytes.size());
  name = t.name();
  return {};
}
