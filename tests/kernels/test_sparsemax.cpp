// Sparsemax against an independent projection onto the simplex (bisection on tau) and its
// Jacobian against finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/sparsemax.h"

namespace attnscale::test {
namespace {

// Projection onto the simplex by bisection: tau with sum max(z - tau, 0) = 1.
std::vector<double> project_onto_simplex(const std::vector<double>& z) {
  double lo = -1e300, hi = 1e300;
  bool any = false;
  for (const double x : z)
    if (std::isfinite(x)) {
      lo = any ? std::min(lo, x - 1) : x - 1;
      hi = any ? std::max(hi, x) : x;
      any = true;
    }
  std::vector<double> p(z.size(), 0.0);
  if (!any) return p;
  for (int it = 0; it < 200; ++it) {
    const double tau = 0.5 * (lo + hi);
    double sum = 0;
    for (const double x : z) sum += std::isfinite(x) ? std::max(x - tau, 0.0) : 0.0;
    (sum > 1 ? lo : hi) = tau;
  }
  const double tau = 0.5 * (lo + hi);
  for (size_t i = 0; i < z.size(); ++i) p[i] = std::isfinite(z[i]) ? std::max(z[i] - tau, 0.0) : 0;
  return p;
}

std::vector<double> sparsemax(const std::vector<double>& z) {
  std::vector<double> p(z.size()), scratch(z.size());
  kernels::sparsemax_forward<double>(z, p, scratch);
  return p;
}

TEST(Sparsemax, MatchesProjectionOntoSimplex) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 1 + rng() % 40;
    const double spread = trial % 2 ? 0.3 : 4.0;  // dense and sparse supports
    std::normal_distribution<double> dist(0.0, spread);
    std::vector<double> z(n);
    for (auto& x : z) x = dist(rng);
    if (trial % 5 == 0 && n > 2) z[1] = -std::numeric_limits<double>::infinity();  // masked
    const auto want = project_onto_simplex(z);
    const auto got = sparsemax(z);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-12) << "trial " << trial << " entry " << i;
      EXPECT_GE(got[i], 0.0);
      sum += got[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(Sparsemax, FloatAgreesWithDouble) {
  const std::vector<double> z = {0.3, -1.2, 0.9, 0.85, 2.0, 1.7, -0.1};
  const auto want = sparsemax(z);
  std::vector<float> zf(z.begin(), z.end()), p(z.size()), scratch(z.size());
  kernels::sparsemax_forward<float>(zf, p, scratch);
  for (size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(p[i], want[i], 1e-6) << i;
}

TEST(Sparsemax, FullyMaskedRowIsZeroAndLargeGapIsOneHot) {
  const double inf = std::numeric_limits<double>::infinity();
  for (const double x : sparsemax({-inf, -inf, -inf})) EXPECT_EQ(x, 0.0);
  const auto p = sparsemax({0.0, 5.0, 1.0});
  EXPECT_EQ(p[0], 0.0);
  EXPECT_EQ(p[1], 1.0);
  EXPECT_EQ(p[2], 0.0);
}

TEST(Sparsemax, JacobianMatchesFiniteDifferences) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> dist(0.0, 1.0);
  int checked = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 2 + rng() % 12;
    std::vector<double> z(n), g(n);
    for (auto& x : z) x = dist(rng);
    for (auto& x : g) x = dist(rng);
    const auto p = sparsemax(z);
    // Keep away from the kinks: no entry within 1e-4 of the threshold.
    std::vector<double> scratch(n);
    const double tau = kernels::sparsemax_threshold<double>(z, scratch);
    bool near_kink = false;
    for (const double x : z) near_kink = near_kink || std::abs(x - tau) < 1e-4;
    if (near_kink) continue;
    ++checked;
    std::vector<double> dz(n);
    kernels::sparsemax_backward<double>(p, g, dz);
    const double h = 1e-6;
    for (size_t j = 0; j < n; ++j) {
      auto zp = z, zm = z;
      zp[j] += h;
      zm[j] -= h;
      const auto pp = sparsemax(zp), pm = sparsemax(zm);
      double numeric = 0;
      for (size_t i = 0; i < n; ++i) numeric += g[i] * (pp[i] - pm[i]) / (2 * h);
      EXPECT_NEAR(dz[j], numeric, 1e-7) << "trial " << trial << " entry " << j;
    }
  }
  EXPECT_GE(checked, 15);  // the kink filter must leave most trials
}

}  // namespace
}  // namespace attnscale::test
