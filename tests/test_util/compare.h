// The one element-wise comparison of every test: the worst |a - b| between two tensors or vectors,
// where a NaN is never lost. `std::max(worst, std::abs(a - b))` drops a NaN (NaN < x is false), so a
// NaN output would pass `EXPECT_LE(worst, tol)`; here the worst difference becomes NaN, which fails
// both `EXPECT_LE(d, tol)` and `EXPECT_GT(d, tol)`.
//
//   EXPECT_LE(test::max_abs_diff(fused_out, plain_out), 1e-12) << "out";
//   double worst = 0;
//   for (...) if (!padding) worst = test::worse(worst, test::abs_diff(got[i], want[i]));
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::test {

// |a - b|: 0 for equal values (equal infinities, such as the lse of fully masked rows, included),
// +inf where only one side is infinite, NaN where either side is NaN.
inline double abs_diff(double a, double b) { return a == b ? 0.0 : std::abs(a - b); }

// The larger of two differences; a NaN on either side wins and stays.
inline double worse(double worst, double diff) {
  if (std::isnan(worst) || std::isnan(diff)) return std::numeric_limits<double>::quiet_NaN();
  return diff > worst ? diff : worst;
}

struct WorstDiff {
  double diff = 0;    // NaN when any element is NaN on either side
  std::size_t at = 0;  // the first NaN, else the largest difference
};

// Worst element of |a - b| (sizes must match: a test failure and NaN otherwise).
inline WorstDiff worst_diff(std::span<const double> a, std::span<const double> b) {
  EXPECT_EQ(a.size(), b.size()) << "compared sizes differ";
  if (a.size() != b.size()) return {std::numeric_limits<double>::quiet_NaN(), 0};
  WorstDiff worst;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = abs_diff(a[i], b[i]);
    if (std::isnan(d)) return {d, i};
    if (d > worst.diff) worst = {d, i};
  }
  return worst;
}

inline double max_abs_diff(std::span<const double> a, std::span<const double> b) { return worst_diff(a, b).diff; }

// The values of any tensor as fp64, in row-major order.
inline std::vector<double> f64_values(const Tensor& t) {
  return t.detach().to(DType::f64).contiguous().to_vector<double>();
}

// Worst |a - b| over two tensors of the same shape (a test failure and NaN otherwise).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape())) << "compared shapes differ";
  if (a.shape() != b.shape()) return std::numeric_limits<double>::quiet_NaN();
  return max_abs_diff(f64_values(a), f64_values(b));
}

}  // namespace attnscale::test
