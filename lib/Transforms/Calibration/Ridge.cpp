//===- Ridge.cpp - ridge regression towards a prior, for the repair -------===//

#include "Ridge.h"

#include <cmath>

namespace mlir::actsparse::calibration {

Eigen::MatrixXd solveRidge(const Eigen::Ref<const Eigen::MatrixXd> &a,
                           const Eigen::Ref<const Eigen::MatrixXd> &y,
                           const Eigen::Ref<const Eigen::MatrixXd> &prior,
                           double strength) {
  Eigen::MatrixXd r = y - a * prior;
  bool primal = a.cols() <= a.rows();
  Eigen::MatrixXd gram = primal ? Eigen::MatrixXd(a.transpose() * a)
                                : Eigen::MatrixXd(a * a.transpose());
  double lambda = strength * gram.trace() / double(a.cols());
  if (lambda <= 0.0)
    lambda = 1e-6;
  gram.diagonal().array() += lambda;
  if (primal)
    return prior + gram.ldlt().solve(a.transpose() * r);
  return prior + a.transpose() * gram.ldlt().solve(r);
}

RidgeFit fitRidge(const Eigen::Ref<const Eigen::MatrixXd> &a,
                  const Eigen::Ref<const Eigen::MatrixXd> &y,
                  const Eigen::Ref<const Eigen::MatrixXd> &prior,
                  double strength) {
  if (strength < 0.0) {
    Eigen::Index n = a.rows(), fit = n - n / 5;
    double best = INFINITY;
    for (double candidate : kRidgeCandidates) {
      Eigen::MatrixXd w =
          solveRidge(a.topRows(fit), y.topRows(fit), prior, candidate);
      double err = (a.bottomRows(n - fit) * w - y.bottomRows(n - fit)).norm();
      if (err < best) {
        best = err;
        strength = candidate;
      }
    }
  }
  return {solveRidge(a, y, prior, strength), strength};
}

} // namespace mlir::actsparse::calibration
