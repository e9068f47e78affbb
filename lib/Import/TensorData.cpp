//===- TensorData.cpp - bytes of an ONNX tensor ---------------------------===//

#include "TensorData.h"

std::string
mlir::actsparse::onnx_import::inlineTensorBytes(const onnx::TensorProto &t,
                                                std::string &bytes) {
  using TP = onnx::TensorProto;
  if (t.has_raw_data()) {
    bytes += t.raw_data();
    return "";
  }
  auto append = [&](const auto &field, auto tag) {
    using T = decltype(tag);
    for (auto v : field) {
      T x = static_cast<T>(v);
      bytes.append(reinterpret_cast<const char *>(&x), sizeof(T));
    }
  };
  switch (t.data_type()) {
  case TP::FLOAT: append(t.float_data(), float()); break;
  case TP::DOUBLE: append(t.double_data(), double()); break;
  case TP::INT64: append(t.int64_data(), int64_t()); break;
  case TP::UINT32: append(t.uint64_data(), uint32_t()); break;
  case TP::UINT64: append(t.uint64_data(), uint64_t()); break;
  case TP::INT32: append(t.int32_data(), int32_t()); break;
  case TP::INT8: append(t.int32_data(), int8_t()); break;
  case TP::INT16: append(t.int32_data(), int16_t()); break;
  case TP::UINT8:
  case TP::BOOL: append(t.int32_data(), uint8_t()); break;
  case TP::FLOAT16:
  case TP::BFLOAT16:
  case TP::UINT16: append(t.int32_data(), uint16_t()); break;
  default:
    return "has an element type whose typed field is not read";
  }
  return "";
}
