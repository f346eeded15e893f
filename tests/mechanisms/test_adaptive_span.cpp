// Adaptive attention span (1905.07799): the soft span mask against a loop over the paper's
// formula, skipped keys change nothing, full spans equal causal attention, gradchecks of the layer
// (spans included) and the span penalty.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/adaptive_span.h"
#include "framework/attention/scaled_dot_product.h"
#include "framework/core/ops/ops.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

// a_tr = m(t - r) exp(s_tr) / sum_q m(t - q) exp(s_tq), m(x) = clamp((R + z - x) / R, 0, 1), r <= t.
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<double>& z,
                              double ramp, double scale) {
  const int64_t b = q.shape()[0], h = q.shape()[1], n = q.shape()[2], d = q.shape()[3], dv = v.shape()[3];
  const auto qv = q.to_vector<double>(), kv = k.to_vector<double>(), vv = v.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(b * h * n * dv), 0.0);
  for (int64_t bh = 0; bh < b * h; ++bh)
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> w(static_cast<size_t>(t + 1));
      double total = 0;
      for (int64_t r = 0; r <= t; ++r) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += qv[(bh * n + t) * d + c] * kv[(bh * n + r) * d + c];
        const double m = std::clamp((ramp + z[bh % h] - static_cast<double>(t - r)) / ramp, 0.0, 1.0);
        w[r] = m * std::exp(s * scale);
        total += w[r];
      }
      for (int64_t r = 0; r <= t; ++r)
        for (int64_t c = 0; c < dv; ++c) out[(bh * n + t) * dv + c] += w[r] / total * vv[(bh * n + r) * dv + c];
    }
  return out;
}

TEST(AdaptiveSpan, SoftMaskMatchesThePaperFormula) {
  const Tensor q = input({2, 2, 9, 3}, 1, -2, 2), k = input({2, 2, 9, 3}, 2, -2, 2), v = input({2, 2, 9, 2}, 3);
  const std::vector<double> z{1.5, 4.25};
  const double ramp = 2.0, scale = 0.7;
  const auto expected = reference(q, k, v, z, ramp, scale);
  const Tensor spans = Tensor::from(z, {2});
  // Window 9 scores every key; window ceil(R + max z) = 7 skips exactly the keys whose mask is 0.
  for (const int64_t window : {9, 7}) {
    const auto got = attention::AdaptiveSpanAttention::attend(q, k, v, spans, ramp, window, scale).to_vector<double>();
    EXPECT_LT(max_abs_diff(got, expected), 1e-12) << "window " << window;
  }
}

TEST(AdaptiveSpan, FullSpansEqualCausalAttention) {
  const Tensor q = input({1, 2, 6, 4}, 4), k = input({1, 2, 6, 4}, 5), v = input({1, 2, 6, 3}, 6);
  AttentionSpec spec;
  spec.mask.causal = true;
  spec.scale = 0.5;
  const Tensor expected = attention::scaled_dot_product_attention(q, k, v, spec);
  const Tensor got = attention::AdaptiveSpanAttention::attend(q, k, v, Tensor::from(std::vector<double>{6, 6}, {2}),
                                                              1.0, 6, 0.5);
  EXPECT_LT(max_abs_diff(got, expected), 1e-12);
  // A window of one key: every query reads its own value.
  const Tensor own = attention::AdaptiveSpanAttention::attend(q, k, v, Tensor::from(std::vector<double>{0, 0}, {2}),
                                                              0.5, 1, 0.5);
  EXPECT_LT(max_abs_diff(own, v), 1e-15);
}

attention::AdaptiveSpanOptions small_options() {
  attention::AdaptiveSpanOptions o;
  o.d_model = 8, o.n_heads = 2, o.max_span = 8, o.ramp = 2.0, o.init_span = 0.3, o.penalty = 0.5;
  return o;
}

TEST(AdaptiveSpan, LayerGradcheckIncludingSpans) {
  // z = 2.4 tokens, R = 2: the mask's kinks (0 and 1) lie between integer distances, so central
  // differences see a smooth function.
  Generator gen(7);
  attention::AdaptiveSpanAttention layer(small_options(), gen, DType::f64);
  EXPECT_EQ(layer.window(), 5);  // ceil(2 + 2.4)
  const Tensor pos = Tensor::arange(7);
  test::expect_module_gradcheck(layer, {input({1, 7, 8}, 8)},
                                [&](const std::vector<Tensor>& in) { return layer.forward(in[0], pos); });
}

TEST(AdaptiveSpan, PenaltyAndItsProjectedGradient) {
  Generator gen(9);
  attention::AdaptiveSpanAttention layer(small_options(), gen, DType::f64);
  // (penalty / H) * sum_h z_h = 0.5 / 2 * 2 * 2.4.
  const Tensor loss = layer.auxiliary_loss();
  EXPECT_NEAR(loss.item(), 1.2, 1e-12);
  loss.backward();
  Tensor span;
  for (const auto& p : layer.named_parameters())
    if (p.name == "span") span = p.tensor;
  ASSERT_TRUE(span.defined());
  for (const double g : span.grad().to_vector<double>()) EXPECT_NEAR(g, 0.5 / 2 * 8, 1e-12);
  // Below 0 the penalty would push the span further out of range: no gradient passes.
  span.fill_(-0.1);
  span.zero_grad();
  layer.auxiliary_loss().backward();
  for (const double g : span.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
  EXPECT_EQ(layer.window(), 2);  // z = 0: the ramp alone
}

TEST(AdaptiveSpan, BadOptionsNameTheOption) {
  Generator gen(10);
  auto o = small_options();
  o.init_span = 1.5;
  test::expect_error([&] { attention::AdaptiveSpanAttention(o, gen); }, {"[adaptive_span]", "init_span"});
  o = small_options();
  o.ramp = 0;
  test::expect_error([&] { attention::AdaptiveSpanAttention(o, gen); }, {"[adaptive_span]", "ramp"});
  attention::AdaptiveSpanAttention layer(small_options(), gen);
  test::expect_error([&] { layer.forward(Tensor::zeros({1, 3, 8}), Tensor::from(std::vector<int64_t>{0, 2, 3}, {3})); },
                     {"[adaptive_span]", "consecutive"});
}

}  // namespace
}  // namespace attnscale
