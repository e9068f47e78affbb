//===- RidgeTest.cpp - the least-squares core of the repair ---------------===//
//
// Small cases are worked by hand in the comments; larger ones are checked
// against the textbook closed form P + (A^T A + lambda I)^-1 A^T (Y - A P),
// computed here with a full inverse.
//
//===----------------------------------------------------------------------===//

#include "Ridge.h"

#include <gtest/gtest.h>

#include <random>

using namespace mlir::actsparse::calibration;
using Eigen::MatrixXd;

namespace {

MatrixXd random(int rows, int cols, std::mt19937 &rng) {
  std::normal_distribution<double> normal;
  MatrixXd m(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      m(r, c) = normal(rng);
  return m;
}

MatrixXd closedForm(const MatrixXd &a, const MatrixXd &y, const MatrixXd &p,
                    double strength) {
  // trace(A^T A) = trace(A A^T) = |A|_F^2.
  double lambda = strength * a.squaredNorm() / double(a.cols());
  MatrixXd g = a.transpose() * a +
               lambda * MatrixXd::Identity(a.cols(), a.cols());
  return p + g.inverse() * a.transpose() * (y - a * p);
}

TEST(Ridge, OneColumnByHand) {
  // A = [1; 1], Y = [1; 3]: A^T A = 2, A^T Y = 4.
  MatrixXd a(2, 1), y(2, 1);
  a << 1, 1;
  y << 1, 3;
  MatrixXd zero = MatrixXd::Zero(1, 1), two = MatrixXd::Constant(1, 1, 2.0);
  // strength 1: lambda = 1 * 2 / 1 = 2, W = 4 / (2 + 2) = 1.
  EXPECT_NEAR(solveRidge(a, y, zero, 1.0)(0, 0), 1.0, 1e-12);
  // strength 0: lambda 1e-6, W = 4 / (2 + 1e-6), the least-squares mean 2.
  EXPECT_NEAR(solveRidge(a, y, zero, 0.0)(0, 0), 2.0, 1e-6);
  // Prior 2 is already the least-squares answer: A^T (Y - 2A) = 0.
  EXPECT_NEAR(solveRidge(a, y, two, 1.0)(0, 0), 2.0, 1e-12);
}

TEST(Ridge, DualByHand) {
  // One row, two columns: the dual system. A = [1 1], Y = [2], strength 2:
  // A A^T = 2, lambda = 2 * 2 / 2 = 2, W = A^T (2 + 2)^-1 2 = [0.5; 0.5];
  // the primal (A^T A + 2 I) W = A^T Y, [[3 1] [1 3]] W = [2 2], agrees.
  MatrixXd a(1, 2), y(1, 1);
  a << 1, 1;
  y << 2;
  MatrixXd w = solveRidge(a, y, MatrixXd::Zero(2, 1), 2.0);
  EXPECT_NEAR(w(0, 0), 0.5, 1e-12);
  EXPECT_NEAR(w(1, 0), 0.5, 1e-12);
}

TEST(Ridge, PrimalAndDualMatchTheClosedForm) {
  std::mt19937 rng(7);
  for (auto [rows, cols] : {std::pair{40, 6}, std::pair{5, 12}}) {
    MatrixXd a = random(rows, cols, rng), y = random(rows, 3, rng),
             p = random(cols, 3, rng);
    for (double strength : {0.01, 0.3, 3.0})
      EXPECT_LT((solveRidge(a, y, p, strength) -
                 closedForm(a, y, p, strength)).norm(),
                1e-9)
          << rows << "x" << cols << " strength " << strength;
  }
}

TEST(Ridge, HeldOutChoiceFollowsTheData) {
  std::mt19937 rng(11);
  MatrixXd a = random(200, 10, rng), p = MatrixXd::Zero(10, 2);
  // Exact linear data far from the prior: the weakest pull fits best.
  MatrixXd exact = a * random(10, 2, rng);
  RidgeFit fit = fitRidge(a, exact, p, -1.0);
  EXPECT_EQ(fit.strength, kRidgeCandidates[0]);
  EXPECT_LT((fit.solution - closedForm(a, exact, p, fit.strength)).norm(),
            1e-9);
  // Noise unrelated to A: staying near the prior (0) predicts held-out rows
  // best, so the strongest pull wins.
  MatrixXd noise = random(200, 2, rng);
  EXPECT_EQ(fitRidge(a, noise, p, -1.0).strength,
            kRidgeCandidates[std::size(kRidgeCandidates) - 1]);
  // A given strength is used as is.
  EXPECT_EQ(fitRidge(a, noise, p, 0.5).strength, 0.5);
}

} // namespace
