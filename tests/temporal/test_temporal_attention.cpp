// Temporal attention (attention/temporal.h) and TemporalAttentionNet (models/temporal_net.h): reads
// against Yao et al.'s formula written with loops (b_a included), padded time steps, fp64 gradient
// checks, greedy decoding against teacher forcing, and errors naming the mechanism and option.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/attention/temporal.h"
#include "framework/models/temporal_net.h"
#include "tests/memory/memory_test_util.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using attention::TemporalAttention;
using testing::expect_gradcheck;
using testing::expect_near_all;
using testing::random_f64;

TEST(TemporalAttention, MatchesYaoEtAlWithBiasAndPadding) {
  constexpr int64_t batch = 2, steps = 4, features = 3, query_dim = 2, attn = 5;
  Generator gen(1);
  TemporalAttention attention(query_dim, features, attn, gen, DType::f64);
  const auto w_a = testing::parameter_values(attention, "score.query_proj.weight");  // [A, Dq]
  const auto u_a = testing::parameter_values(attention, "score.key_proj.weight");  // [A, F + 1]: the last column is b_a
  const auto w = testing::parameter_values(attention, "score.v.weight");           // [1, A]
  const Tensor v = random_f64({batch, steps, features}, 2, false), h = random_f64({batch, query_dim}, 3, false);
  const std::vector<int64_t> lengths = {4, 3};
  const auto memory = attention.prepare_features(v, testing::i64(lengths, {batch}));
  Generator unused(0);
  const auto read = attention.forward(h, memory, 0, unused);
  const auto vv = v.to_vector<double>(), hh = h.to_vector<double>();
  std::vector<double> weights, context;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> e(static_cast<size_t>(steps), 0.0);
    double total = 0;
    for (int64_t i = 0; i < lengths[b]; ++i) {
      double score = 0;
      for (int64_t a = 0; a < attn; ++a) {
        double pre = u_a[a * (features + 1) + features];  // b_a
        for (int64_t q = 0; q < query_dim; ++q) pre += w_a[a * query_dim + q] * hh[b * query_dim + q];
        for (int64_t f = 0; f < features; ++f) pre += u_a[a * (features + 1) + f] * vv[(b * steps + i) * features + f];
        score += w[a] * std::tanh(pre);
      }
      e[i] = std::exp(score);
      total += e[i];
    }
    for (auto& x : e) weights.push_back(x / total);
    for (int64_t f = 0; f < features; ++f) {
      double phi = 0;
      for (int64_t i = 0; i < steps; ++i) phi += weights[b * steps + i] * vv[(b * steps + i) * features + f];
      context.push_back(phi);
    }
  }
  expect_near_all(read.weights, weights, 1e-14, "alpha");
  expect_near_all(read.context, context, 1e-14, "phi");
  EXPECT_EQ(weights[7], 0.0) << "padded time step";
}

TEST(TemporalAttention, Gradcheck) {
  Generator gen(2);
  TemporalAttention attention(3, 2, 4, gen, DType::f64);
  const Tensor lengths = testing::i64({3, 2}, {2});
  Generator unused(0);
  expect_gradcheck(attention, {random_f64({2, 3}, 1), random_f64({2, 3, 2}, 2)}, [&](const std::vector<Tensor>& in) {
    const auto read = attention.forward(in[0], attention.prepare_features(in[1], lengths), 0, unused);
    return concat({reshape(read.context, {-1}), reshape(read.weights, {-1})}, 0);
  });
}

models::TemporalNetOptions small_net() {
  return models::TemporalNetOptions{
      .feature_dim = 3, .vocab_size = 6, .hidden_size = 4, .embed_dim = 3, .attn_dim = 3, .bos_id = 1};
}

TEST(TemporalAttentionNet, Gradcheck) {
  Generator gen(3);
  models::TemporalAttentionNet net(small_net(), gen, DType::f64);
  const Tensor lengths = testing::i64({4, 2}, {2}), targets = testing::i64({1, 3, 4, 1, 5, 5}, {2, 3});
  expect_gradcheck(net, {random_f64({2, 4, 3}, 4)},
                   [&](const std::vector<Tensor>& in) { return net.forward(in[0], lengths, targets).logits; });
}

TEST(TemporalAttentionNet, GreedyDecodingFollowsItsOwnArgmax) {
  Generator gen(4);
  models::TemporalAttentionNet net(small_net(), gen, DType::f64);
  const Tensor features = random_f64({3, 5, 3}, 5, false), lengths = testing::i64({5, 2, 4}, {3});
  const Tensor greedy = net.greedy_decode(features, lengths, 3);
  // Teacher forcing with the greedy tokens as inputs reproduces the greedy choices.
  const auto g = greedy.to_vector<int64_t>();
  std::vector<int64_t> inputs;
  for (int64_t b = 0; b < 3; ++b) inputs.insert(inputs.end(), {1, g[b * 3], g[b * 3 + 1]});
  const auto out = net.forward(features, lengths, testing::i64(inputs, {3, 3}));
  EXPECT_EQ(argmax(out.logits, -1).to_vector<int64_t>(), g);
  ASSERT_EQ(out.reads.size(), 3u);
  expect_near_all(sum(out.reads[0].weights, {1}), {1, 1, 1}, 1e-14, "attention sums to one");
}

TEST(TemporalAttention, BadShapesAndOptionsNameTheMechanismAndOption) {
  Generator gen(0);
  const auto attn = testing::error_message([&] { TemporalAttention(4, 3, 0, gen); });
  EXPECT_NE(attn.find("[temporal] option attn_dim must be >= 1"), std::string::npos) << attn;
  const auto features_dim = testing::error_message([&] { TemporalAttention(4, 0, 2, gen); });
  EXPECT_NE(features_dim.find("[temporal] option feature_dim must be >= 1"), std::string::npos) << features_dim;
  TemporalAttention attention(4, 3, 2, gen, DType::f64);
  const auto width = testing::error_message([&] {
    attention.prepare_features(Tensor::zeros({2, 5, 4}, DType::f64), {});
  });
  EXPECT_NE(width.find("[temporal] features must be [B, T, 3] (option feature_dim)"), std::string::npos) << width;
  const auto length = testing::error_message([&] {
    attention.prepare_features(Tensor::zeros({2, 5, 3}, DType::f64), testing::i64({6, 1}, {2}));
  });
  EXPECT_NE(length.find("[temporal] source length 6"), std::string::npos) << length;
}

}  // namespace
}  // namespace attnscale
