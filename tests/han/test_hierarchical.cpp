// Attention pooling of hierarchical attention: fp64 gradchecks of every pooling kind with padding,
// equal scores give the average, the softmax-state form merged over a split of the positions
// (kernels/softmax_merge.h) equals pooling them all, and bad shapes name the mechanism.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/hierarchical.h"
#include "framework/core/autograd/gradcheck.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "kernels/softmax_merge.h"
#include "tests/test_util/compare.h"

namespace attnscale::attention {
namespace {

// Rows of lengths 4, 2 and 1 out of 4 positions.
Tensor padding_mask() {
  return Tensor::from(std::vector<double>{1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 4});
}

using test::max_abs_diff;

class PoolingGradcheck : public ::testing::TestWithParam<PoolingKind> {};

TEST_P(PoolingGradcheck, InputsAndParametersWithPadding) {
  Generator gen(3);
  const AttentionPooling pool(5, 4, GetParam(), gen, DType::f64);
  Tensor h = Tensor::randn({3, 4, 5}, gen, DType::f64);
  h.set_requires_grad(true);
  const Tensor mask = padding_mask();
  std::vector<Tensor> inputs{h};
  for (const Tensor& p : pool.parameters()) inputs.push_back(p);
  const auto result = autograd::gradcheck([&](const std::vector<Tensor>&) { return pool.forward(h, mask); }, inputs);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST_P(PoolingGradcheck, PartialStateIncludingAFullyPaddedRow) {
  if (GetParam() == PoolingKind::max) GTEST_SKIP() << "max pooling has no softmax state";
  Generator gen(4);
  const AttentionPooling pool(3, 4, GetParam(), gen, DType::f64);
  Tensor h = Tensor::randn({2, 3, 3}, gen, DType::f64);
  h.set_requires_grad(true);
  const Tensor mask = Tensor::from(std::vector<double>{1, 1, 0, 0, 0, 0}, {2, 3});
  std::vector<Tensor> inputs{h};
  for (const Tensor& p : pool.parameters()) inputs.push_back(p);
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>&) {
        const PooledState s = pool.partial(h, mask);
        // The empty row's lse (about -1e30) is left out: a finite difference cannot resolve it.
        return concat({reshape(s.out, {-1}), narrow(s.lse, 0, 0, 1)}, 0);
      },
      inputs);
  EXPECT_TRUE(result.ok) << result.report;
  const PooledState s = pool.partial(h, mask);
  EXPECT_EQ(max_abs_diff(narrow(s.out, 0, 1, 1), Tensor::zeros({1, 3}, DType::f64)), 0.0);
  EXPECT_LT(s.lse.to_vector<double>()[1], -1e29);
}

INSTANTIATE_TEST_SUITE_P(Kinds, PoolingGradcheck,
                         ::testing::Values(PoolingKind::attention, PoolingKind::average, PoolingKind::max));

TEST(AttentionPooling, EqualScoresGiveTheAverage) {
  Generator gen(5);
  AttentionPooling attention(6, 4, PoolingKind::attention, gen, DType::f64);
  const AttentionPooling average(6, 4, PoolingKind::average, gen, DType::f64);
  // A zero context vector makes every score 0.
  for (const auto& [name, p] : attention.named_parameters())
    if (name == "context") std::fill_n(p.detach().data<double>(), 4, 0.0);
  const Tensor h = Tensor::randn({3, 4, 6}, gen, DType::f64), mask = padding_mask();
  const Tensor expected = div(sum(mul(h, unsqueeze(mask, 2)), {1}), unsqueeze(sum(mask, {1}), 1));
  EXPECT_LT(max_abs_diff(attention.forward(h, mask), expected), 1e-14);
  EXPECT_LT(max_abs_diff(average.forward(h, mask), expected), 1e-14);
  const auto w = attention.weights(h, mask).to_vector<double>();
  EXPECT_DOUBLE_EQ(w[4], 0.5);   // row 1: two valid positions
  EXPECT_DOUBLE_EQ(w[6], 0.0);   // padding
}

TEST(AttentionPooling, MaxIgnoresPadding) {
  Generator gen(6);
  const AttentionPooling pool(2, 1, PoolingKind::max, gen, DType::f64);
  const Tensor h = Tensor::from(std::vector<double>{1, -5, 3, -2, 9, 9, /**/ -1, -1, -3, 0, 7, 7}, {2, 3, 2});
  const Tensor mask = Tensor::from(std::vector<double>{1, 1, 0, 1, 1, 0}, {2, 3});
  EXPECT_EQ(pool.forward(h, mask).to_vector<double>(), (std::vector<double>{3, -2, -1, 0}));
}

TEST(AttentionPooling, MergedPartialStatesEqualPoolingEverything) {
  Generator gen(7);
  const AttentionPooling pool(5, 3, PoolingKind::attention, gen, DType::f64);
  const Tensor h = Tensor::randn({3, 4, 5}, gen, DType::f64), mask = padding_mask();
  const Tensor whole = pool.forward(h, mask);
  // Positions {0, 1} and {2, 3} pooled apart (row 2 is empty in the second part), then merged.
  const PooledState a = pool.partial(narrow(h, 1, 0, 2).contiguous(), narrow(mask, 1, 0, 2).contiguous());
  const PooledState b = pool.partial(narrow(h, 1, 2, 2).contiguous(), narrow(mask, 1, 2, 2).contiguous());
  std::vector<double> out = a.out.to_vector<double>(), lse = a.lse.to_vector<double>();
  const auto out_b = b.out.to_vector<double>(), lse_b = b.lse.to_vector<double>();
  kernels::merge_softmax_states<double>(out, lse, out_b, lse_b, 5);
  EXPECT_LT(max_abs_diff(Tensor::from(out, {3, 5}), whole), 1e-14);
  EXPECT_LT(max_abs_diff(Tensor::from(lse, {3}), pool.partial(h, mask).lse), 1e-12);
}

TEST(AttentionPooling, BadShapesNameTheMechanism) {
  Generator gen(8);
  const AttentionPooling pool(4, 3, PoolingKind::attention, gen);
  try {
    pool.forward(Tensor::zeros({2, 4}));
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[hierarchical_attention]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pool.forward(Tensor::zeros({2, 3, 4}), Tensor::ones({2, 4})), UsageError);
  EXPECT_THROW(AttentionPooling(4, 3, PoolingKind::max, gen).partial(Tensor::zeros({2, 3, 4})), UsageError);
}

}  // namespace
}  // namespace attnscale::attention
