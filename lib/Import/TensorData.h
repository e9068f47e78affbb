//===- TensorData.h - bytes of an ONNX tensor -------------------*- C++ -*-===//
//
// The bytes of a TensorProto held inside its message, shared by the importer
// (initializers, Constant nodes) and the TensorProto file reader.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_LIB_IMPORT_TENSORDATA_H
#define ACTSPARSE_LIB_IMPORT_TENSORDATA_H

#include "onnx/onnx_pb.h"

#include <cstdint>
#include <string>

namespace mlir::actsparse::onnx_import {

/// Appends to `bytes` the little-endian elements of `t` from raw_data or
/// from its typed field (int32_data packs the narrow integer, boolean and
/// 16-bit float types). Returns an error message, empty on success; the
/// caller checks the byte count against the shape.
std::string inlineTensorBytes(const onnx::TensorProto &t, std::string &bytes);

} // namespace mlir::actsparse::onnx_import

#endif // ACTSPARSE_LIB_IMPORT_TENSORDATA_H
