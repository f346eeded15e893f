// The visual sentinel (1612.01887): the gate and context by hand, the paper's two forms of the
// context agree, gradchecks of the sentinel, the attention, the LSTM cell and the whole captioner.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/sentinel.h"
#include "framework/models/captioner.h"
#include "framework/models/lstm_cell.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

Tensor parameter(const nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.name == name) return p.tensor;
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

TEST(Sentinel, GateAndContextByHand) {
  // W_v = W_g = W_s = I, w_h = (1, 1). Regions e1, e2; h = 0; s = 0:
  //   z_i = tanh(1) + tanh(0) = t for both regions, sentinel score tanh(0) + tanh(0) = 0,
  //   beta = 1 / (2 e^t + 1), context = (1 - beta) * mean(e1, e2).
  Generator gen(1);
  attention::SentinelAttention att(2, 2, gen, DType::f64);
  for (const char* w : {"w_v.weight", "w_g.weight", "w_s.weight"})
    parameter(att, w).copy_(Tensor::from(std::vector<double>{1, 0, 0, 1}, {2, 2}));
  parameter(att, "w_h.weight").copy_(Tensor::from(std::vector<double>{1, 1}, {1, 2}));
  const Tensor regions = Tensor::from(std::vector<double>{1, 0, 0, 1}, {1, 2, 2});
  const Tensor h = Tensor::zeros({1, 2}, DType::f64), s = Tensor::zeros({1, 2}, DType::f64);
  const auto out = att.forward(regions, att.project_regions(regions), h, s);
  const double t = std::tanh(1.0), beta = 1.0 / (2 * std::exp(t) + 1);
  EXPECT_NEAR(out.beta.item(), beta, 1e-15);
  for (const double a : out.alpha.to_vector<double>()) EXPECT_NEAR(a, 0.5, 1e-15);
  for (const double c : out.context.to_vector<double>()) EXPECT_NEAR(c, (1 - beta) * 0.5, 1e-15);
  // Without a sentinel the gate is 0 and the context is the regions' soft attention.
  const auto plain = att.forward(regions, att.project_regions(regions), h, Tensor());
  EXPECT_EQ(plain.beta.item(), 0.0);
  for (const double c : plain.context.to_vector<double>()) EXPECT_NEAR(c, 0.5, 1e-15);
}

TEST(Sentinel, ContextIsTheExtendedSoftmaxReadOut) {
  // Eq. 11 as written (beta s + (1 - beta) c) equals sum_i alpha_hat_i v_i + alpha_hat_{k+1} s,
  // since alpha_hat_i = (1 - beta) alpha_i.
  Generator gen(2);
  attention::SentinelAttention att(4, 3, gen, DType::f64);
  const Tensor regions = input({2, 5, 4}, 3).detach(), h = input({2, 4}, 4).detach(), s = input({2, 4}, 5).detach();
  const auto out = att.forward(regions, att.project_regions(regions), h, s);
  const Tensor one_minus_beta = sub(Tensor::scalar(1.0, DType::f64), unsqueeze(out.beta, 1));
  const Tensor alpha_hat = mul(out.alpha, one_minus_beta);  // [B, k]
  const Tensor expected = add(squeeze(matmul(unsqueeze(alpha_hat, 1), regions), 1), mul(unsqueeze(out.beta, 1), s));
  EXPECT_LT(max_abs_diff(out.context, expected), 1e-14);
  const auto sums = sum(alpha_hat, {1}).to_vector<double>(), betas = out.beta.to_vector<double>();
  for (size_t i = 0; i < sums.size(); ++i) EXPECT_NEAR(sums[i] + betas[i], 1.0, 1e-14);
}

TEST(Sentinel, Gradchecks) {
  Generator gen(6);
  attention::SentinelAttention att(3, 2, gen, DType::f64);
  test::expect_module_gradcheck(att, {input({2, 4, 3}, 7), input({2, 3}, 8), input({2, 3}, 9)},
                                [&](const std::vector<Tensor>& in) {
                                  const auto o = att.forward(in[0], att.project_regions(in[0]), in[1], in[2]);
                                  return concat({o.context, unsqueeze(o.beta, 1), o.alpha}, 1);
                                });
  attention::VisualSentinel sentinel(5, 3, gen, DType::f64);
  test::expect_module_gradcheck(sentinel, {input({2, 5}, 10), input({2, 3}, 11), input({2, 3}, 12)},
                                [&](const std::vector<Tensor>& in) { return sentinel.forward(in[0], in[1], in[2]); });
  models::LstmCell cell(3, 2, gen, DType::f64);
  test::expect_module_gradcheck(cell, {input({2, 3}, 13), input({2, 2}, 14), input({2, 2}, 15)},
                                [&](const std::vector<Tensor>& in) {
                                  const models::LstmState next = cell.forward(in[0], {in[1], in[2]});
                                  return concat({next.h, next.c}, 1);
                                });
}

TEST(LstmCell, OneStepByHand) {
  // Zero weights, gate biases (i, f, g, o) = (0, 0, b, 0): c' = c / 2 + tanh(b) / 2, h' = tanh(c') / 2.
  Generator gen(16);
  models::LstmCell cell(1, 1, gen, DType::f64);
  parameter(cell, "gates.weight").fill_(0.0);
  parameter(cell, "gates.bias").copy_(Tensor::from(std::vector<double>{0, 0, 0.7, 0}, {4}));
  const models::LstmState next = cell.forward(Tensor::ones({1, 1}, DType::f64),
                                              {Tensor::zeros({1, 1}, DType::f64), Tensor::full({1, 1}, 0.4, DType::f64)});
  const double c = 0.2 + std::tanh(0.7) / 2;
  EXPECT_NEAR(next.c.item(), c, 1e-15);
  EXPECT_NEAR(next.h.item(), std::tanh(c) / 2, 1e-15);
}

TEST(Captioner, GradcheckAndGreedyStartsLikeTeacherForcing) {
  for (const bool with_sentinel : {true, false}) {
    Generator gen(17);
    models::Captioner model({6, 4, 3, with_sentinel}, gen, DType::f64);
    const Tensor features = input({2, 3, 4}, 18);
    const Tensor words = Tensor::from(std::vector<int64_t>{1, 3, 1, 5}, {2, 2});
    test::expect_module_gradcheck(model, {features}, [&](const std::vector<Tensor>& in) {
      const auto out = model.forward(in[0], words);
      return concat({reshape(out.logits, {2, -1}), out.beta}, 1);
    });
    // Greedy decoding feeds back its own argmax: with inputs bos + those words, teacher forcing
    // gives the same logits.
    model.eval();
    const auto greedy = model.generate(features.detach(), 1, 3);
    const auto ids = argmax(greedy.logits, -1).to_vector<int64_t>();
    const Tensor fed = Tensor::from(std::vector<int64_t>{1, ids[0], ids[1], 1, ids[3], ids[4]}, {2, 3});
    EXPECT_LT(max_abs_diff(model.forward(features.detach(), fed).logits, greedy.logits), 1e-12);
    if (!with_sentinel) {
      for (const double b : greedy.beta.to_vector<double>()) EXPECT_EQ(b, 0.0);
    }
  }
}

}  // namespace
}  // namespace attnscale
