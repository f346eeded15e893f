// The kernels' vectorised exp: relative error against std::exp in double, exact zeros for -inf
// and far-negative inputs (masked scores must vanish), and tails that are not whole vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/vec_exp.h"
#include "tests/test_util/compare.h"

namespace attnscale::test {
namespace {

TEST(VecExp, RelativeErrorBelowTwoUlpOverTheSoftmaxRange) {
  std::vector<float> x;
  for (float v = -87.0f; v <= 10.0f; v += 0.0137f) x.push_back(v);
  std::vector<float> y(x.size());
  kernels::cpu::exp_array(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    worst = test::worse(worst, test::abs_diff(y[i], want) / want);
  }
  EXPECT_LT(worst, 2.5e-7) << "worst relative error " << worst;
}

TEST(VecExp, MinusInfinityAndFarNegativeGiveExactZero) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1000.0f, -90.0f, 0.0f, -inf, 1.0f, -88.0f};  // 7: a tail
  std::vector<float> shift(x.size(), 0.0f), sum(x.size(), 0.0f);
  kernels::cpu::exp_shift_accumulate(x.data(), shift.data(), sum.data(),
                                     static_cast<int64_t>(x.size()));
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[2], 0.0f);
  EXPECT_EQ(x[3], 1.0f);
  EXPECT_EQ(x[4], 0.0f);
  EXPECT_NEAR(x[5], std::exp(1.0f), 1e-6);
  EXPECT_EQ(x[6], 0.0f);
  EXPECT_EQ(sum[3], 1.0f);
  // exp(x * scale - shift) on a tail of 19 values.
  std::vector<float> z(19);
  for (int i = 0; i < 19; ++i) z[i] = static_cast<float>(i) - 9.0f;
  kernels::cpu::exp_scale_shift(z.data(), 0.5f, 2.0f, 19);
  for (int i = 0; i < 19; ++i)
    EXPECT_NEAR(z[i], std::exp((i - 9.0) * 0.5 - 2.0), 1e-6 * std::exp((i - 9.0) * 0.5 - 2.0));
}

}  // namespace
}  // namespace attnscale::test
