#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/multi_head.h"
#include "framework/attention/mask_builder.h"
#include "framework/train/from_config.h"
#include "framework/attention/scaled_dot.h"
#include "framework/core/autograd/gradcheck.h"
#include "framework/nn/layers.h"
#include "framework/nn/rope.h"
#include "framework/core/ops/norm.h"
#include "framework/core/ops/ops.h"
#include "tests/test_util/compare.h"

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

TEST(Layers, NormOpsCheckTheirWeights) {
  const Tensor x = Tensor::zeros({3, 6}, DType::f64);
  try {
    layer_norm(x, Tensor::ones({5}, DType::f64), Tensor::zeros({6}, DType::f64), 1e-5);
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[layer_norm] weight and bias must be float64 [6] like the input's last axis, "
                                         "got float64 [5]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(rms_norm(x, Tensor::ones({6}, DType::f32), 1e-6), UsageError);
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
  kernels::Mask causal;
  causal.causal = true;
  const Tensor bias =
      attention::mask_bias(causal, kernels::Positions::contiguous(-1, 1), kernels::Positions::contiguous(0, 2), DType::f64);
  const Tensor masked = attention::scaled_dot_attention_plain(q, k, v, bias, 1.0);
  EXPECT_EQ(masked.item(), 0.0);
}

TEST(Attention, MultiHeadGqaGradcheck) {
  Generator gen(11);
  attention::MultiHeadOptions o{8, 4, 2, 10000.0, {}, false, 0.0, kernels::Normalizer::softmax, nullptr};
  o.mask.causal = true;
  attention::MultiHeadAttention mha(o, gen, DType::f64);
  const Tensor pos = Tensor::arange(5);
  check_module(mha, input({2, 5, 8}, 12), [&](const Tensor& x) { return mha.forward(x, pos); });
}

TEST(Attention, CausalOutputIgnoresFutureTokens) {
  Generator gen(13);
  attention::MultiHeadOptions o{8, 2, 0, 10000.0, {}, true, 0.0, kernels::Normalizer::softmax, nullptr};
  o.mask.causal = true;
  attention::MultiHeadAttention mha(o, gen, DType::f64);
  Tensor x = input({1, 4, 8}, 14).detach();
  const auto before = mha.forward(x, Tensor::arange(4)).to_vector<double>();
  x.data<double>()[3 * 8] += 1.0;  // change the last token
  const auto after = mha.forward(x, Tensor::arange(4)).to_vector<double>();
  for (int i = 0; i < 3 * 8; ++i) EXPECT_DOUBLE_EQ(before[i], after[i]);
}

}  // namespace
}  // namespace attnscale

namespace attnscale {
namespace {

// The fused kernel path and the plain-ops path agree on outputs and on every gradient, for each
// mask the config can build.
TEST(Attention, FusedMatchesPlainForEveryConfigMask) {
  for (const auto mask_kind : {config::Mask::causal, config::Mask::window, config::Mask::block_sparse}) {
    AttentionConfig cfg;
    cfg.mask = mask_kind;
    cfg.window = 3;
    cfg.block_size = 2;
    cfg.sparse_stride = 2;
    const kernels::Mask mask = train::causal_lm_mask(cfg, 7, 1);
    Generator g1(21), g2(21);
    attention::MultiHeadAttention plain({8, 4, 2, 10000.0, mask, false, 0.0, kernels::Normalizer::softmax, nullptr}, g1, DType::f64);
    attention::MultiHeadAttention fused({8, 4, 2, 10000.0, mask, true, 0.0, kernels::Normalizer::softmax, nullptr}, g2, DType::f64);
    const Tensor x1 = input({2, 7, 8}, 22), x2 = x1.detach().clone().set_requires_grad();
    const Tensor pos = Tensor::arange(7);
    const Tensor y1 = plain.forward(x1, pos), y2 = fused.forward(x2, pos);
    Generator gw(23);
    const Tensor w = Tensor::randn(y1.shape(), gw, DType::f64);
    sum(mul(y1, w)).backward();
    sum(mul(y2, w)).backward();
    EXPECT_LT(test::max_abs_diff(y1, y2), 1e-12) << config::to_string(mask_kind);
    EXPECT_LT(test::max_abs_diff(x1.grad(), x2.grad()), 1e-12) << config::to_string(mask_kind);
    const auto p1 = plain.named_parameters(), p2 = fused.named_parameters();
    for (size_t i = 0; i < p1.size(); ++i)
      EXPECT_LT(test::max_abs_diff(p1[i].tensor.grad(), p2[i].tensor.grad()), 1e-12) << p1[i].name;
  }
}

TEST(Attention, CompactPositionsFindsStridedRuns) {
  const std::vector<int64_t> zigzag{0, 1, 2, 9, 10, 11}, striped{1, 4, 7, 10};
  EXPECT_EQ(kernels::Positions::compact(zigzag).runs().size(), 2u);
  ASSERT_EQ(kernels::Positions::compact(striped).runs().size(), 1u);
  EXPECT_EQ(kernels::Positions::compact(striped).runs()[0].stride, 3);
  EXPECT_EQ(kernels::Positions::compact(striped).at(3), 10);
  EXPECT_EQ(kernels::Positions::compact(std::vector<int64_t>{0, 3, 6, 7, 8}).runs().size(), 2u);
}

}  // namespace
}  // namespace attnscale
