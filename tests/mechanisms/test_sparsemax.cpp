// Sparsemax (1602.02068) as an op and as the normaliser of scaled dot-product attention: values by
// hand, gradchecks, the general path against plain ops, and "all scores equal gives uniform".
#include <gtest/gtest.h>

#include "framework/attention/scaled_dot_product.h"
#include "framework/core/ops/ops.h"
#include "framework/core/ops/sparsemax.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

std::vector<double> sparsemax_of(const std::vector<double>& z) {
  return sparsemax(Tensor::from(z, {1, static_cast<int64_t>(z.size())})).to_vector<double>();
}

TEST(Sparsemax, ValuesByHand) {
  // z = (1, 0.5, -1): support {1, 0.5} since 1 + 2 * 0.5 > 1.5 but 1 + 3 * (-1) < 0.5; tau = 0.25.
  const auto p = sparsemax_of({1.0, 0.5, -1.0});
  EXPECT_NEAR(p[0], 0.75, 1e-15);
  EXPECT_NEAR(p[1], 0.25, 1e-15);
  EXPECT_EQ(p[2], 0.0);
  // A wide gap puts all mass on the top entry; equal entries share it evenly.
  EXPECT_EQ(sparsemax_of({3.0, 0.0, 0.0}), (std::vector<double>{1.0, 0.0, 0.0}));
  for (const double x : sparsemax_of({2.0, 2.0, 2.0, 2.0})) EXPECT_NEAR(x, 0.25, 1e-15);
  // -inf is masked.
  const auto masked = sparsemax_of({0.0, -INFINITY, 0.0});
  EXPECT_NEAR(masked[0], 0.5, 1e-15);
  EXPECT_EQ(masked[1], 0.0);
}

TEST(Sparsemax, AnyAxisAndGradcheck) {
  const Tensor x = input({3, 4, 5}, 1, -1.5, 1.5);
  EXPECT_LT(max_abs_diff(sparsemax(x, 1), transpose(sparsemax(transpose(x, 1, 2), -1), 1, 2)), 1e-15);
  const auto rows = sum(sparsemax(x, 1), {1}).to_vector<double>();
  for (const double r : rows) EXPECT_NEAR(r, 1.0, 1e-12);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return sparsemax(in[0], 1); }, {x});
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return sparsemax(in[0], -1); }, {input({4, 6}, 2, -2, 2)});
}

struct SparsemaxCase {
  Tensor q, k, v;
  AttentionSpec spec;
};

// B=2, 4 query heads over 2 key/value heads, causal, one padded key in the second sequence.
SparsemaxCase gqa_case(uint64_t seed) {
  SparsemaxCase c{input({2, 4, 5, 3}, seed, -2, 2), input({2, 2, 5, 3}, seed + 1, -2, 2),
                  input({2, 2, 5, 2}, seed + 2), {}};
  c.spec.mask.causal = true;
  c.spec.k_valid = {1, 1, 1, 1, 1, 1, 1, 0, 1, 1};
  return c;
}

TEST(SparsemaxAttention, GeneralPathMatchesPlainOps) {
  const SparsemaxCase c = gqa_case(3);
  const attention::ScaledDotProductOptions fused{kernels::Normalizer::sparsemax, true};
  const attention::ScaledDotProductOptions plain{kernels::Normalizer::sparsemax, false};
  const Tensor y1 = attention::scaled_dot_product_attention(c.q, c.k, c.v, c.spec, fused);
  std::vector<Tensor> grads1;
  Generator gw(4);
  const Tensor w = Tensor::randn(y1.shape(), gw, DType::f64);
  sum(mul(y1, w)).backward();
  for (const Tensor* t : {&c.q, &c.k, &c.v}) grads1.push_back(t->grad()), t->zero_grad();
  const Tensor y2 = attention::scaled_dot_product_attention(c.q, c.k, c.v, c.spec, plain);
  sum(mul(y2, w)).backward();
  EXPECT_LT(max_abs_diff(y1, y2), 1e-12);
  EXPECT_LT(max_abs_diff(grads1[0], c.q.grad()), 1e-12);
  EXPECT_LT(max_abs_diff(grads1[1], c.k.grad()), 1e-12);
  EXPECT_LT(max_abs_diff(grads1[2], c.v.grad()), 1e-12);
}

TEST(SparsemaxAttention, Gradcheck) {
  const SparsemaxCase c = gqa_case(5);
  test::expect_gradcheck(
      [&](const std::vector<Tensor>& in) { return sparsemax_attention(in[0], in[1], in[2], c.spec); },
      {c.q, c.k, c.v});
}

TEST(SparsemaxAttention, EqualScoresGiveTheUniformMeanOfAllowedValues) {
  // q = 0 makes every score equal: sparsemax is uniform over the allowed keys, so causal query i
  // reads the mean of v[0..i].
  const Tensor q = Tensor::zeros({1, 1, 4, 2}, DType::f64), k = input({1, 1, 4, 2}, 6).detach();
  const Tensor v = Tensor::from(std::vector<double>{1, 2, 3, 4}, {1, 1, 4, 1});
  AttentionSpec spec;
  spec.mask.causal = true;
  for (const bool fused : {true, false}) {
    const auto out = attention::scaled_dot_product_attention(q, k, v, spec, {kernels::Normalizer::sparsemax, fused})
                         .to_vector<double>();
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], (i + 2) / 2.0, 1e-14) << "fused " << fused << " row " << i;
  }
}

TEST(SparsemaxAttention, FullyMaskedRowIsZero) {
  const Tensor q = input({1, 1, 2, 2}, 7).detach(), k = input({1, 1, 2, 2}, 8).detach();
  const Tensor v = input({1, 1, 2, 3}, 9).detach();
  AttentionSpec spec;
  spec.k_valid = {0, 0};
  for (const bool fused : {true, false}) {
    const Tensor out = attention::scaled_dot_product_attention(q, k, v, spec, {kernels::Normalizer::sparsemax, fused});
    for (const double x : out.to_vector<double>()) EXPECT_EQ(x, 0.0);
  }
}

}  // namespace
}  // namespace attnscale
