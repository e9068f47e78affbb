//===- Ridge.h - ridge regression towards a prior, for the repair ---------===//
//
// The least-squares core of --actsparse-calibrate's repair, kept apart from
// the pass so it can be tested on its own (unittests/RidgeTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_RIDGE_H
#define ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_RIDGE_H

#include <Eigen/Dense>

namespace mlir::actsparse::calibration {

/// W = argmin |A W - Y|^2 + lambda |W - P|^2 with
/// lambda = strength * trace(G) / columns(A), where G is the smaller of
/// A^T A (primal, columns x columns) and A A^T (dual, rows x rows); both
/// have the same trace. Solved as W = P + D, D the ridge solution for the
/// residual R = Y - A P: (A^T A + lambda) D = A^T R, or in the dual
/// D = A^T (A A^T + lambda)^-1 R, so the system is never larger than
/// min(rows, columns). A zero lambda becomes 1e-6.
Eigen::MatrixXd solveRidge(const Eigen::Ref<const Eigen::MatrixXd> &a,
                           const Eigen::Ref<const Eigen::MatrixXd> &y,
                           const Eigen::Ref<const Eigen::MatrixXd> &prior,
                           double strength);

/// The strengths `fitRidge` chooses from.
inline constexpr double kRidgeCandidates[] = {0.01, 0.03, 0.1, 0.3, 1.0, 3.0};

struct RidgeFit {
  Eigen::MatrixXd solution;
  double strength = 0.0;
};

/// solveRidge on all rows with `strength`, or, when `strength` < 0, with
/// the candidate whose fit on the first 80 % of the rows has the smallest
/// error on the last 20 % (the first such candidate on ties).
RidgeFit fitRidge(const Eigen::Ref<const Eigen::MatrixXd> &a,
                  const Eigen::Ref<const Eigen::MatrixXd> &y,
                  const Eigen::Ref<const Eigen::MatrixXd> &prior,
                  double strength);

} // namespace mlir::actsparse::calibration

#endif // ACTSPARSE_LIB_TRANSFORMS_CALIBRATION_RIDGE_H
