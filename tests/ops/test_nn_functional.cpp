// cross_entropy against numpy values and finite differences; dropout's mask statistics, its
// gradient and its independence from the thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "kernels/philox.h"
#include "tests/ops/ops_test_util.h"

namespace attnscale {
namespace {

using test::expect_gradcheck;
using test::expect_usage_error;
using test::ids;
using test::input;

// Reference values from numpy (/usr/bin/python3): lse(x) - x[target] per row.
const std::vector<double> kLogits = {1, 2, 3, 1, 1, 1, 0.5, -1, 2};
const std::vector<double> kRowLoss = {0.40760596444438013, 1.0986122886681096, 3.241311296657157};

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(CrossEntropy, MatchesNumpyForEachReduction) {
  const Tensor logits = Tensor::from(kLogits, {3, 3});
  const Tensor targets = ids({2, 0, 1}, {3});
  expect_near_all(cross_entropy(logits, targets, -100, Reduction::none).to_vector<double>(), kRowLoss, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, targets, -100, Reduction::sum).item(), 4.747529549769647, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, targets).item(), 1.5825098499232155, 1e-12);
}

TEST(CrossEntropy, GradientOfMeanMatchesNumpy) {
  Tensor logits = Tensor::from(kLogits, {3, 3}).set_requires_grad();
  cross_entropy(logits, ids({2, 0, 1}, {3})).backward();
  expect_near_all(logits.grad().to_vector<double>(),
                  {0.030010191056793492, 0.08157615701826591, -0.11158634807505934, -0.2222222222222222,
                   0.11111111111111112, 0.11111111111111112, 0.05843013071334555, -0.3202958089097709,
                   0.26186567819642526},
                  1e-12);
}

TEST(CrossEntropy, MeanCountsOnlyTargetsNotIgnored) {
  const Tensor logits = Tensor::from(kLogits, {3, 3});
  const Tensor loss = cross_entropy(logits, ids({2, -100, 1}, {3}));
  EXPECT_NEAR(loss.item(), (kRowLoss[0] + kRowLoss[2]) / 2, 1e-12);
  const Tensor custom = cross_entropy(logits, ids({7, 0, 7}, {3}), 7, Reduction::none);
  expect_near_all(custom.to_vector<double>(), {0, kRowLoss[1], 0}, 1e-12);
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndGradientNotNan) {
  Tensor logits = Tensor::from(kLogits, {3, 3}).set_requires_grad();
  const Tensor loss = cross_entropy(logits, ids({-100, -100, -100}, {3}));
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  for (double g : logits.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  const Tensor logits = Tensor::from(std::vector<float>{1000.0f, 0.0f, -1000.0f, 0.0f}, {2, 2});
  const auto losses = cross_entropy(logits, ids({1, 0}, {2}), -100, Reduction::none).to_vector<float>();
  EXPECT_FLOAT_EQ(losses[0], 1000.0f);
  EXPECT_FLOAT_EQ(losses[1], 1000.0f);
}

TEST(CrossEntropy, Float32AgreesWithFloat64) {
  const Tensor logits = test::input({6, 11}, 30, -4.0, 4.0).detach();
  const Tensor targets = ids({0, 10, 3, -100, 5, 5}, {6});
  const double f64 = cross_entropy(logits, targets).item();
  const double f32 = cross_entropy(logits.to(DType::f32), targets).item();
  EXPECT_NEAR(f32, f64, 1e-5);
}

TEST(Gradcheck, CrossEntropyEveryReductionAndLeadingAxes) {
  const Tensor targets = ids({3, -100, 0, 4, 4, 1}, {2, 3});
  for (Reduction r : {Reduction::none, Reduction::sum, Reduction::mean})
    expect_gradcheck([&](const auto& x) { return cross_entropy(x[0], targets, -100, r); }, {input({2, 3, 5}, 31, -3, 3)});
  expect_gradcheck([](const auto& x) { return cross_entropy(transpose(x[0], 0, 1), ids({1, 0, 2}, {3})); },
                   {input({4, 3}, 32)});
}

TEST(CrossEntropyErrors, NameTargetShapeAndClasses) {
  const Tensor logits = Tensor::zeros({3, 5});
  expect_usage_error([&] { cross_entropy(logits, ids({0, 5, 1}, {3})); },
                     {"[cross_entropy]", "target 5", "position 1", "5 classes"});
  expect_usage_error([&] { cross_entropy(logits, ids({0, 1}, {2})); }, {"[cross_entropy]", "[2]", "[3, 5]"});
  expect_usage_error([&] { cross_entropy(logits, Tensor::zeros({3})); }, {"[cross_entropy]", "int64"});
}

// ---- dropout ----

TEST(Dropout, IdentityInEvalModeOrWithZeroProbability) {
  Generator gen(1);
  const Tensor x = Tensor::ones({4, 4});
  EXPECT_TRUE(dropout(x, 0.5, gen, false).same(x));
  EXPECT_TRUE(dropout(x, 0.0, gen, true).same(x));
  EXPECT_EQ(gen.offset(), 0u) << "an identity dropout must not consume random numbers";
  expect_usage_error([&] { dropout(x, 1.5, gen, true); }, {"[dropout]", "1.5"});
}

TEST(Dropout, KeepsAboutOneMinusPAndScalesThem) {
  const int64_t n = 200'001;  // not a multiple of 4: the last Philox block is partial
  Generator gen(7);
  const double p = 0.3;
  const auto out = dropout(Tensor::ones({n}, DType::f64), p, gen, true).to_vector<double>();
  int64_t kept = 0;
  for (double v : out) {
    if (v != 0.0) {
      EXPECT_NEAR(v, 1.0 / (1.0 - p), 1e-15);
      ++kept;
    }
  }
  const double sigma = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(kept), n * (1 - p), 5 * sigma);
}

TEST(Dropout, MaskIsPhiloxWordOfElementIndex) {
  // The documented mapping (kernels/dropout.h): element i = 64 g + e is kept iff word e / 16 of the
  // block for counter offset + 16 g + e % 16 is at least p * 2^32.
  const int64_t n = 1000 + 3;
  Generator gen(77);
  gen.reserve(12);  // start at a nonzero offset
  const uint64_t first = gen.offset();
  const auto out = dropout(Tensor::ones({n}), 0.5, gen, true).to_vector<float>();
  EXPECT_EQ(gen.offset(), first + 16 * ((n + 63) / 64));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = i / 64, e = i % 64;
    const bool kept = kernels::philox_block(77, first + 16 * g + e % 16)[e / 16] >= (uint64_t{1} << 31);
    ASSERT_EQ(out[i], kept ? 2.0f : 0.0f) << "element " << i;
  }
}

TEST(Dropout, ProbabilityOneDropsEverything) {
  Generator gen(3);
  for (float v : dropout(Tensor::ones({1000}), 1.0, gen, true).to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Dropout, MaskDependsOnlyOnSeedAndOffset) {
  const Tensor x = Tensor::ones({1000});
  Generator a(11), b(11);
  const auto first = dropout(x, 0.5, a, true).to_vector<float>();
  const auto second = dropout(x, 0.5, a, true).to_vector<float>();
  EXPECT_NE(first, second) << "the generator must advance between calls";
  b.set_state(11, 0);
  EXPECT_EQ(dropout(x, 0.5, b, true).to_vector<float>(), first);
  EXPECT_EQ(dropout(x, 0.5, b, true).to_vector<float>(), second);
}

TEST(Dropout, SameMaskForOneAndTwoThreads) {
  const int saved = omp_get_max_threads();
  const Tensor x = Tensor::ones({1 << 18});  // large enough for the parallel path
  omp_set_num_threads(1);
  Generator one(5);
  const auto single = dropout(x, 0.25, one, true).to_vector<float>();
  omp_set_num_threads(2);
  Generator two(5);
  const auto dual = dropout(x, 0.25, two, true).to_vector<float>();
  omp_set_num_threads(saved);
  EXPECT_EQ(single, dual);
}

TEST(Dropout, GradientIsTheScaledMask) {
  Generator gen(9);
  Tensor x = Tensor::ones({257}, DType::f64).set_requires_grad();
  const Tensor out = dropout(x, 0.4, gen, true);
  sum(out).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), out.detach().to_vector<double>());  // x = 1, so out is the scaled mask
}

TEST(Gradcheck, Dropout) {
  // A fresh generator per call gives the same mask each time, as finite differences need.
  expect_gradcheck(
      [](const auto& x) {
        Generator gen(21);
        return dropout(transpose(x[0], 0, 1), 0.5, gen, true);
      },
      {input({5, 7}, 33)});
}

}  // namespace
}  // namespace attnscale
