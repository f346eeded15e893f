// tests/test_util/compare.h, the comparison every test uses: a NaN on either side fails a test
// whether it expects the values close or apart, and equal infinities compare equal.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "tests/test_util/compare.h"

namespace attnscale::test {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Compare, NanOnEitherSideFailsAClosenessCheck) {
  const std::vector<double> good{1.0, 2.0, 3.0}, with_nan{1.0, kNan, 3.0};
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(max_abs_diff(with_nan, good), 1.0), "");
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(max_abs_diff(good, with_nan), 1.0), "");
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(max_abs_diff(with_nan, with_nan), 1.0), "");
  // ... and a check that expects a difference: NaN is no evidence of one.
  EXPECT_NONFATAL_FAILURE(EXPECT_GT(max_abs_diff(with_nan, good), 1e-6), "");
  const WorstDiff worst = worst_diff(std::vector<double>{kNan, 0.0, 9.0}, std::vector<double>{0.0, 0.0, 0.0});
  EXPECT_TRUE(std::isnan(worst.diff));
  EXPECT_EQ(worst.at, 0u) << "the first NaN is reported, not the largest finite difference";
}

TEST(Compare, NanInTensorsFails) {
  const Tensor a = Tensor::from(std::vector<double>{0.5, kNan}, {2});
  const Tensor b = Tensor::from(std::vector<float>{0.5f, 1.0f}, {2});
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(max_abs_diff(a, b), 1.0), "");
  EXPECT_NONFATAL_FAILURE(EXPECT_LE(max_abs_diff(b, a), 1.0), "");
}

TEST(Compare, NanLaterInALoopIsNotForgotten) {
  double worst = 0;
  for (const double d : {0.1, kNan, 0.2, 0.0}) worst = worse(worst, d);
  EXPECT_TRUE(std::isnan(worst));
}

TEST(Compare, InfinitiesAndFiniteValues) {
  EXPECT_EQ(max_abs_diff(std::vector<double>{-kInf, 1.0}, std::vector<double>{-kInf, 1.25}), 0.25);
  EXPECT_EQ(max_abs_diff(std::vector<double>{-kInf}, std::vector<double>{0.0}), kInf);
  EXPECT_EQ(max_abs_diff(std::vector<double>{kInf}, std::vector<double>{-kInf}), kInf);
  const WorstDiff worst = worst_diff(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2.5, 3.1});
  EXPECT_EQ(worst.diff, 0.5);
  EXPECT_EQ(worst.at, 1u);
}

TEST(Compare, ShapeMismatchFails) {
  EXPECT_NONFATAL_FAILURE(max_abs_diff(Tensor::zeros({2, 3}, DType::f64), Tensor::zeros({3, 2}, DType::f64)),
                          "shapes differ");
  EXPECT_NONFATAL_FAILURE(max_abs_diff(std::vector<double>{1.0}, std::vector<double>{1.0, 2.0}), "sizes differ");
}

}  // namespace
}  // namespace attnscale::test
