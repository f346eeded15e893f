// Scaled dot-product, self and multi-head attention: the one dispatch function against the
// definition, one-head MHA equals scaled dot-product attention over its projections, the
// registered mechanisms' option checks.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/scaled_dot_product.h"
#include "framework/core/ops/ops.h"
#include "framework/train/mechanisms/registry.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

attention::MultiHeadOptions heads(int64_t d_model, int64_t n_heads, int64_t n_kv_heads, double rope_theta,
                                  kernels::Normalizer normalizer = kernels::Normalizer::softmax) {
  attention::MultiHeadOptions o;
  o.d_model = d_model, o.n_heads = n_heads, o.n_kv_heads = n_kv_heads, o.rope_theta = rope_theta;
  o.normalizer = normalizer;
  return o;
}

TEST(ScaledDotProduct, MatchesTheDefinitionOnEveryPath) {
  // Two keys, one query: softmax weights by hand (scale 1/sqrt(2)).
  const Tensor q = Tensor::from(std::vector<double>{1, 1}, {1, 1, 1, 2});
  const Tensor k = Tensor::from(std::vector<double>{2, 0, 0, 0}, {1, 1, 2, 2});
  const Tensor v = Tensor::from(std::vector<double>{10, 20}, {1, 1, 2, 1});
  const double s0 = 2 / std::sqrt(2.0), w0 = std::exp(s0) / (std::exp(s0) + 1.0);
  for (const bool fused : {true, false}) {
    const double out = attention::scaled_dot_product_attention(q, k, v, {}, {kernels::Normalizer::softmax, fused}).item();
    EXPECT_NEAR(out, 10 * w0 + 20 * (1 - w0), 1e-12) << "fused " << fused;
  }
}

TEST(ScaledDotProduct, KeyPaddingAndSegmentsOnThePlainPathMatchTheKernel) {
  const Tensor q = input({2, 2, 3, 4}, 1), k = input({2, 1, 5, 4}, 2), v = input({2, 1, 5, 3}, 3);
  AttentionSpec spec;
  spec.k_valid = {1, 1, 0, 1, 1, 1, 0, 1, 1, 1};
  spec.q_segment = {0, 0, 1, 0, 1, 1};
  spec.k_segment = {0, 0, 0, 1, 1, 0, 0, 1, 1, 1};
  const Tensor fused = attention::scaled_dot_product_attention(q, k, v, spec, {kernels::Normalizer::softmax, true});
  const Tensor plain = attention::scaled_dot_product_attention(q, k, v, spec, {kernels::Normalizer::softmax, false});
  EXPECT_LT(max_abs_diff(fused, plain), 1e-12);
  test::expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return attention::scaled_dot_product_attention(in[0], in[1], in[2], spec, {kernels::Normalizer::softmax, false});
      },
      {q, k, v});
}

TEST(MultiHead, OneHeadEqualsScaledDotProductOverItsProjections) {
  Generator gen(4);
  attention::MultiHeadOptions o = heads(6, 1, 0, 0.0);  // one head, no rotary embedding
  o.mask.causal = true;
  attention::MultiHeadAttention mha(o, gen, DType::f64);
  const Tensor x = input({2, 5, 6}, 5).detach();
  const auto params = mha.named_parameters();  // q_proj, k_proj, v_proj, o_proj weights
  auto project = [&](size_t i) { return unsqueeze(matmul(x, transpose(params[i].tensor, 0, 1)), 1); };
  AttentionSpec spec;
  spec.mask.causal = true;
  const Tensor sdpa = attention::scaled_dot_product_attention(project(0), project(1), project(2), spec, {});
  const Tensor expected = matmul(squeeze(sdpa, 1), transpose(params[3].tensor, 0, 1));
  EXPECT_LT(max_abs_diff(mha.forward(x, Tensor::arange(5)), expected), 1e-12);
}

TEST(MultiHead, SparsemaxNormalizerGradcheck) {
  Generator gen(6);
  attention::MultiHeadOptions o = heads(8, 2, 1, 10000.0, kernels::Normalizer::sparsemax);
  o.mask.causal = true;
  attention::MultiHeadAttention mha(o, gen, DType::f64);
  const Tensor pos = Tensor::arange(4);
  test::expect_module_gradcheck(mha, {input({1, 4, 8}, 7, -2, 2)},
                                [&](const std::vector<Tensor>& in) { return mha.forward(in[0], pos); });
}

// Each registered TransformerLM mechanism's factory refuses options that do not fit it, naming itself.
void build(std::string_view mechanism, const attention::MultiHeadOptions& h, Generator& gen) {
  const train::Mechanism* m = train::find_mechanism(mechanism, config::ModelType::transformer_lm);
  EXPECT_NE(m, nullptr) << mechanism;
  models::TransformerLMOptions options;
  m->transformer_lm(Config{}, options);
  options.make_attention(h, gen, DType::f32);
}

TEST(SelfAttentionFactory, OptionsThatDoNotFitNameTheMechanism) {
  Generator gen(8);
  attention::MultiHeadOptions h = heads(8, 2, 0, 10000.0);
  h.mask.causal = true;
  test::expect_error([&] { build("scaled_dot_product", h, gen); }, {"[scaled_dot_product]", "n_heads = 1"});
  h.n_kv_heads = 1;
  test::expect_error([&] { build("self", h, gen); }, {"[self]", "n_kv_heads"});
  test::expect_error([&] { build("multi_head_latent", h, gen); }, {"[multi_head_latent]", "n_kv_heads"});
  h.n_kv_heads = 0;
  test::expect_error([&] { build("sparse", h, gen); }, {"[sparse]", "block_sparse", "sparsemax"});
  h.normalizer = kernels::Normalizer::sparsemax;
  test::expect_error([&] { build("adaptive", h, gen); }, {"[adaptive_span]", "normalizer"});
  h.normalizer = kernels::Normalizer::softmax;
  h.mask.window = kernels::Window{3, 0};
  test::expect_error([&] { build("adaptive", h, gen); }, {"[adaptive_span]", "mask"});
  test::expect_error(
      [&] {
        attention::MultiHeadAttention mha(heads(8, 3, 0, 10000.0), gen);
      },
      {"[multi_head]", "not divisible"});
}

}  // namespace
}  // namespace attnscale
