//===- OnnxTensorFile.h - ONNX TensorProto files ----------------*- C++ -*-===//
//
// Reads a serialized onnx.TensorProto, the format of the input_N.pb and
// output_N.pb files of ONNX's backend tests, into a runtime tensor.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_IMPORT_ONNXTENSORFILE_H
#define ACTSPARSE_IMPORT_ONNXTENSORFILE_H

#include "actsparse/runtime/Tensor.h"

#include <optional>
#include <string>

namespace mlir::actsparse {

/// Reads the TensorProto in `path` into `tensor` and its name (often empty)
/// into `name`. Every element type the runtime has (DType) is read, from
/// raw_data or from the typed fields; other types, external data and
/// tensors whose fields do not hold their shape's bytes are errors.
/// `expected`, when given, is the type the caller needs: a UINT16 tensor
/// is then read as BF16, as ONNX's backend tests store bfloat16 data
/// (numpy has no bfloat16).
::actsparse::runtime::Status
readOnnxTensorFile(const std::string &path, std::string &name,
                   ::actsparse::runtime::Tensor &tensor,
                   std::optional<::actsparse::runtime::DType> expected = {});

} // namespace mlir::actsparse

#endif // ACTSPARSE_IMPORT_ONNXTENSORFILE_H
