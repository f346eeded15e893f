// The float32 paths use their own vectorisable exp and normal CDF (kernels/cpu/vec_math.h); these
// tests hold them to libm in double precision over the whole useful range.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "framework/core/ops/ops.h"
#include "kernels/cpu/vec_math.h"
#include "tests/test_util/compare.h"

namespace attnscale {
namespace {

// n points evenly spaced in [low, high], as float32 (the inputs themselves are exact floats).
std::vector<float> grid(float low, float high, int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = low + (high - low) * static_cast<float>(i) / static_cast<float>(n - 1);
  return v;
}

TEST(FloatKernels, ExpWithinTwoUlpOfLibm) {
  const auto xs = grid(-87.0f, 88.7f, 200'001);
  const auto got = exp(Tensor::from(xs, {static_cast<int64_t>(xs.size())})).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = std::exp(static_cast<double>(xs[i]));
    worst = test::worse(worst, test::abs_diff(got[i], want) / want);
  }
  EXPECT_LT(worst, 2 * std::numeric_limits<float>::epsilon()) << "worst relative error " << worst;
}

TEST(FloatKernels, ExpEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(kernels::vec::exp(inf), inf);
  EXPECT_EQ(kernels::vec::exp(89.0f), inf);
  EXPECT_EQ(kernels::vec::exp(-inf), 0.0f);
  EXPECT_EQ(kernels::vec::exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(kernels::vec::exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(kernels::vec::exp(0.0f), 1.0f);
  // Subnormal results keep their value (about 3 significant digits survive at 1e-42).
  EXPECT_NEAR(kernels::vec::exp(-96.0f), std::exp(-96.0), 1e-3 * std::exp(-96.0));
}

TEST(FloatKernels, GeluAndItsGradientMatchDoublePrecision) {
  const auto xs = grid(-12.0f, 12.0f, 48'001);
  const int64_t n = static_cast<int64_t>(xs.size());
  Tensor x32 = Tensor::from(xs, {n}).set_requires_grad();
  Tensor x64 = x32.detach().to(DType::f64).set_requires_grad();
  const Tensor y32 = gelu(x32), y64 = gelu(x64);
  sum(y32).backward();
  sum(y64).backward();
  const auto v32 = y32.to_vector<double>(), v64 = y64.to_vector<double>();
  const auto g32 = x32.grad().to_vector<double>(), g64 = x64.grad().to_vector<double>();
  double worst_value = 0, worst_grad = 0;
  for (int64_t i = 0; i < n; ++i) {
    // Values relative to themselves: the negative tail, where gelu = x Phi(x) is tiny, keeps its
    // relative accuracy too (the rest, ~1e-5 at |x| = 12, is float rounding of x^2 inside exp).
    worst_value = test::worse(worst_value, test::abs_diff(v32[i], v64[i]) / std::max(std::abs(v64[i]), 1e-30));
    // The gradient Phi(x) + x phi(x) crosses zero near x = -0.75, so it is measured against the
    // size of its two terms.
    const double x = xs[i], phi = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    const double scale = 0.5 * std::erfc(-x / std::sqrt(2.0)) + std::abs(x * phi);
    worst_grad = test::worse(worst_grad, test::abs_diff(g32[i], g64[i]) / std::max(scale, 1e-30));
  }
  std::printf("gelu float32 vs float64: worst relative error value %.3g, gradient %.3g\n", worst_value, worst_grad);
  EXPECT_LT(worst_value, 2e-5);
  EXPECT_LT(worst_grad, 2e-5);
}

TEST(FloatKernels, SoftmaxSigmoidSiluMatchDoublePrecision) {
  Generator gen(3);
  const Tensor x64 = Tensor::rand({64, 129}, gen, DType::f64, -30.0, 30.0);
  const Tensor x32 = x64.to(DType::f32);
  for (auto op : {+[](const Tensor& t) { return softmax(t, -1); }, +[](const Tensor& t) { return log_softmax(t, -1); },
                  +[](const Tensor& t) { return sigmoid(t); }, +[](const Tensor& t) { return silu(t); }}) {
    const auto a = op(x32).to_vector<double>(), b = op(x64).to_vector<double>();
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = test::worse(worst, test::abs_diff(a[i], b[i]) / std::max(1.0, std::abs(b[i])));
    EXPECT_LT(worst, 1e-5);
  }
}

}  // namespace
}  // namespace attnscale
