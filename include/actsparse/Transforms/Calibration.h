//===- Calibration.h - calibrating sparse FFNs on real tokens --*- C++ -*-===//
//
// --actsparse-calibrate runs the module through the same compiled code as
// sparse-run, so it lives in its own library (ActSparseCalibration) that
// links the lowering and the runtime; ActSparseTransforms stays free of
// both.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TRANSFORMS_CALIBRATION_H
#define ACTSPARSE_TRANSFORMS_CALIBRATION_H

#include "mlir/Pass/Pass.h"

namespace mlir::actsparse {

#define GEN_PASS_DECL_CALIBRATE
#define GEN_PASS_DECL_BUNDLEFFN
#define GEN_PASS_DECL_INSERTPREDICTORS
#define GEN_PASS_DECL_QUANTIZE
#include "actsparse/Transforms/Calibration.h.inc"

/// Registers --actsparse-calibrate, --actsparse-bundle-ffn,
/// --actsparse-insert-predictors and --actsparse-quantize.
void registerCalibrationPasses();

/// Where a module's weight pack really is while a tool is still writing it:
/// sparse-opt imports ONNX into a pack it commits only when every pass has
/// succeeded, so the module's `actsparse.weight_pack` reference does not
/// name a file yet. Calibration looks the reference up here first.
void setWeightPackLocation(StringRef reference, StringRef path);

} // namespace mlir::actsparse

#endif // ACTSPARSE_TRANSFORMS_CALIBRATION_H
