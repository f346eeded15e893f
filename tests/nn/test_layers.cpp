#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/multi_head.h"
#include "framework/attention/scaled_dot.h"
#include "framework/autograd/gradcheck.h"
#include "framework/nn/layers.h"
#include "framework/nn/rope.h"
#include "framework/ops/ops.h"

namespace attnscale {
namespace {

Tensor input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f64, -1.0, 1.0).set_requires_grad();
}

// Checks d(module(x))/d(x and every parameter) by finite differences.
template <typename Forward>
void check_module(const nn::Module& m, Tensor x, Forward forward) {
  std::vector<Tensor> inputs{x};
  for (const auto& p : m.named_parameters()) inputs.push_back(p.tensor);
  const auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return forward(in[0]); }, inputs);
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Layers, LinearGradcheck) {
  Generator gen(1);
  nn::Linear lin(4, 3, true, gen, DType::f64);
  check_module(lin, input({2, 5, 4}, 2), [&](const Tensor& x) { return lin.forward(x); });
}

TEST(Layers, NormsGradcheck) {
  nn::LayerNorm ln(6, 1e-5, DType::f64);
  check_module(ln, input({3, 6}, 3), [&](const Tensor& x) { return ln.forward(x); });
  nn::RMSNorm rms(6, 1e-6, DType::f64);
  check_module(rms, input({3, 6}, 4), [&](const Tensor& x) { return rms.forward(x); });
}

TEST(Layers, LayerNormValues) {
  nn::LayerNorm ln(4, 0.0, DType::f64);
  const Tensor y = ln.forward(Tensor::from(std::vector<double>{1, 2, 3, 4}, {1, 4}));
  const double sd = std::sqrt(1.25);
  const auto v = y.to_vector<double>();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(v[i], (i + 1 - 2.5) / sd, 1e-12);
}

TEST(Layers, MLPGradcheck) {
  Generator gen(5);
  nn::MLP mlp(4, 8, nn::Activation::gelu, gen, DType::f64);
  check_module(mlp, input({2, 4}, 6), [&](const Tensor& x) { return mlp.forward(x); });
}

TEST(Layers, NamedParametersAreHierarchical) {
  Generator gen(7);
  nn::MLP mlp(4, 8, nn::Activation::relu, gen);
  std::vector<std::string> names;
  for (const auto& p : mlp.named_parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(mlp.parameter_count(), 4 * 8 + 8 + 8 * 4 + 4);
}

TEST(Rope, GradcheckAndRelativePositions) {
  const Tensor pos = Tensor::from(std::vector<int64_t>{5, 6, 9}, {3});
  const auto r = autograd::gradcheck([&](const auto& x) { return nn::apply_rope(x[0], pos); }, {input({2, 3, 8}, 8)});
  EXPECT_TRUE(r.ok) << r.report;

  // <rope(q, a), rope(k, b)> depends only on a - b: shifting both positions changes nothing.
  const Tensor q = input({1, 8}, 9).detach(), k = input({1, 8}, 10).detach();
  auto dot_at = [&](int64_t a, int64_t b) {
    const Tensor qa = nn::apply_rope(q, Tensor::from(std::vector<int64_t>{a}, {1}));
    const Tensor kb = nn::apply_rope(k, Tensor::from(std::vector<int64_t>{b}, {1}));
    return sum(mul(qa, kb)).item();
  };
  EXPECT_NEAR(dot_at(3, 1), dot_at(1003, 1001), 1e-9);
  EXPECT_GT(std::abs(dot_at(3, 1) - dot_at(3, 2)), 1e-6);
}

TEST(Attention, PlainMatchesDefinitionAndMasksRows) {
  // One query attending to two keys: the output is the softmax-weighted mean of the values.
  const Tensor q = Tensor::from(std::vector<double>{1, 0}, {1, 1, 1, 2});
  const Tensor k = Tensor::from(std::vector<double>{1, 0, 0, 1}, {1, 1, 2, 2});
  const Tensor v = Tensor::from(std::vector<double>{10, 20}, {1, 1, 2, 1});
  const double w = std::exp(1.0) / (std::exp(1.0) + 1.0);
  EXPECT_NEAR(attention::scaled_dot_attention_plain(q, k, v, Tensor(), 1.0).item(), 10 * w + 20 * (1 - w), 1e-12);
  // q_offset = -1: the query precedes both keys, so its row is fully masked -> zero, not NaN.
  const Tensor masked = attention::scaled_dot_attention_plain(q, k, v, attention::causal_bias(1, 2, -1, DType::f64), 1.0);
  EXPECT_EQ(masked.item(), 0.0);
}

TEST(Attention, MultiHeadGqaGradcheck) {
  Generator gen(11);
  attention::MultiHeadAttention mha({8, 4, 2, 10000.0, true}, gen, DType::f64);
  const Tensor pos = Tensor::arange(5);
  check_module(mha, input({2, 5, 8}, 12), [&](const Tensor& x) { return mha.forward(x, pos); });
}

TEST(Attention, CausalOutputIgnoresFutureTokens) {
  Generator gen(13);
  attention::MultiHeadAttention mha({8, 2, 0, 10000.0, true}, gen, DType::f64);
  Tensor x = input({1, 4, 8}, 14).detach();
  const auto before = mha.forward(x, Tensor::arange(4)).to_vector<double>();
  x.data<double>()[3 * 8] += 1.0;  // change the last token
  const auto after = mha.forward(x, Tensor::arange(4)).to_vector<double>();
  for (int i = 0; i < 3 * 8; ++i) EXPECT_DOUBLE_EQ(before[i], after[i]);
}

}  // namespace
}  // namespace attnscale
