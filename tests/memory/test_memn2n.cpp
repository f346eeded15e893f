// The MemN2N model (models/memn2n.h): the one-hop, one-sentence closed form, position encoding,
// temporal encoding by sentence age, both weight tyings, and fp64 gradient checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/models/memn2n.h"
#include "tests/memory/memory_test_util.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using models::MemN2N;
using models::MemN2NOptions;
using models::MemoryTying;
using testing::expect_near_all;
using testing::i64;

// PE weight of 1-based word j of J, dimension k of d (1503.08895 section 4.1).
double pe(int64_t j, int64_t J, int64_t k, int64_t d) {
  const double jj = static_cast<double>(j) / static_cast<double>(J),
               kk = static_cast<double>(k) / static_cast<double>(d);
  return (1 - jj) - kk * (1 - 2 * jj);
}

// sum_j l_j * table[words_j] for one sentence, words without padding.
std::vector<double> embed_sentence(const std::vector<double>& table, const std::vector<int64_t>& words, int64_t d,
                                   bool position_encoding) {
  std::vector<double> out(static_cast<size_t>(d), 0.0);
  const auto count = static_cast<int64_t>(words.size());
  for (int64_t j = 0; j < count; ++j)
    for (int64_t k = 0; k < d; ++k)
      out[k] += (position_encoding ? pe(j + 1, count, k + 1, d) : 1.0) * table[static_cast<size_t>(words[j] * d + k)];
  return out;
}

TEST(MemN2N, PositionEncodingFollowsThePaperAndZeroesPadding) {
  Generator gen(0);
  MemN2N model(MemN2NOptions{.vocab_size = 9, .dim = 4, .hops = 1}, gen, DType::f64);
  const auto l = model.word_weights(i64({5, 6, 7, 0}, {1, 4})).contiguous().to_vector<double>();
  ASSERT_EQ(l.size(), 16u);
  for (int64_t j = 1; j <= 3; ++j)
    for (int64_t k = 1; k <= 4; ++k) EXPECT_NEAR(l[(j - 1) * 4 + k - 1], pe(j, 3, k, 4), 1e-15) << j << "," << k;
  for (int64_t k = 0; k < 4; ++k) EXPECT_EQ(l[12 + k], 0.0) << "padding word";
}

// One hop over a one-sentence story: p = 1, so logits = W (u + c_1) with c_1 = sum_j l_j C x_j + T_C(0)
// and W = C^T (adjacent tying: C = the second embedding table, B = the first).
void check_closed_form(bool linear_start) {
  constexpr int64_t d = 4, vocab = 9;
  Generator gen(3);
  MemN2N model(MemN2NOptions{.vocab_size = vocab,
                             .dim = d,
                             .hops = 1,
                             .tying = MemoryTying::adjacent,
                             .position_encoding = true,
                             .temporal_encoding = true,
                             .memory_size = 3},
               gen, DType::f64);
  const std::vector<int64_t> sentence = {3, 5, 8}, question = {1, 2, 5};
  const auto a = testing::parameter_values(model, "embed.0.weight"),
             c = testing::parameter_values(model, "embed.1.weight");
  const auto ta = testing::parameter_values(model, "temporal.0.weight"),
             tc = testing::parameter_values(model, "temporal.1.weight");
  auto m1 = embed_sentence(a, sentence, d, true), c1 = embed_sentence(c, sentence, d, true);
  for (int64_t k = 0; k < d; ++k) m1[k] += ta[k], c1[k] += tc[k];  // age 0
  const auto u = embed_sentence(a, question, d, true);
  double p = 1;
  if (linear_start) {
    p = 0;
    for (int64_t k = 0; k < d; ++k) p += u[k] * m1[k];
  }
  std::vector<double> expected(static_cast<size_t>(vocab), 0.0);
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t k = 0; k < d; ++k) expected[v] += c[static_cast<size_t>(v * d + k)] * (u[k] + p * c1[k]);
  const auto out = model.forward(i64({3, 5, 8, 0}, {1, 1, 4}), i64({1}, {1}), i64({1, 2, 5, 0}, {1, 4}), linear_start);
  expect_near_all(out.logits, expected, 1e-13, "logits");
  expect_near_all(out.hop_weights[0], {p}, 1e-13, "p");
}

TEST(MemN2N, OneHopOneSentenceReducesToItsClosedForm) { check_closed_form(false); }
TEST(MemN2N, OneHopOneSentenceLinearStart) { check_closed_form(true); }

TEST(MemN2N, TemporalEncodingIndexesSentencesByAge) {
  // A story of three identical sentences: the memories differ only by T_A(age), ages 2, 1, 0 from the
  // first sentence to the last, so p = softmax(u . (A[2] + T_A(age))) with u = B[4] = A[4].
  constexpr int64_t d = 3;
  Generator gen(4);
  MemN2N model(MemN2NOptions{.vocab_size = 6,
                             .dim = d,
                             .hops = 1,
                             .position_encoding = false,
                             .temporal_encoding = true,
                             .memory_size = 4},
               gen, DType::f64);
  const auto a = testing::parameter_values(model, "embed.0.weight"),
             ta = testing::parameter_values(model, "temporal.0.weight");
  // Story of 3 identical sentences {2}: m_i = A[2] + T_A(age_i), ages 2, 1, 0.
  const auto out = model.forward(i64({2, 2, 2}, {1, 3, 1}), i64({3}, {1}), i64({4}, {1, 1}), false);
  std::vector<double> scores;
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t age = 2 - i;
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += a[4 * d + k] * (a[2 * d + k] + ta[age * d + k]);
    scores.push_back(std::exp(s));
  }
  const double total = scores[0] + scores[1] + scores[2];
  expect_near_all(out.hop_weights[0], {scores[0] / total, scores[1] / total, scores[2] / total}, 1e-13, "p");
}

TEST(MemN2N, TyingDecidesTheTables) {
  Generator gen(0);
  const MemN2N adjacent(MemN2NOptions{.vocab_size = 10, .dim = 4, .hops = 3, .memory_size = 5}, gen);
  // K + 1 word tables and K + 1 temporal tables, nothing else.
  EXPECT_EQ(adjacent.parameter_count(), 4 * 10 * 4 + 4 * 5 * 4);
  const MemN2N layerwise(
      MemN2NOptions{.vocab_size = 10, .dim = 4, .hops = 3, .tying = MemoryTying::layerwise, .memory_size = 5}, gen);
  // A, C, B, T_A, T_C, W and H.
  EXPECT_EQ(layerwise.parameter_count(), 3 * 10 * 4 + 2 * 5 * 4 + 10 * 4 + 4 * 4);
}

void gradcheck_model(MemoryTying tying, bool position_encoding, bool linear_start) {
  Generator gen(7);
  MemN2N model(MemN2NOptions{.vocab_size = 7,
                             .dim = 3,
                             .hops = 2,
                             .tying = tying,
                             .position_encoding = position_encoding,
                             .temporal_encoding = true,
                             .memory_size = 3,
                             .init_std = 0.5},
               gen, DType::f64);
  const Tensor story = i64({1, 2, 3, 4, 5, 0, 6, 1, 0, 0, 0, 0, 2, 3, 4, 5, 6, 1}, {2, 3, 3});
  const Tensor lengths = i64({2, 3}, {2});
  const Tensor question = i64({3, 4, 5, 0}, {2, 2});
  testing::expect_gradcheck(model, {}, [&](const std::vector<Tensor>&) {
    return model.forward(story, lengths, question, linear_start).logits;
  });
}

TEST(MemN2N, GradcheckAdjacentPositionEncoding) { gradcheck_model(MemoryTying::adjacent, true, false); }
TEST(MemN2N, GradcheckLayerwiseBagOfWords) { gradcheck_model(MemoryTying::layerwise, false, false); }
TEST(MemN2N, GradcheckLinearStart) { gradcheck_model(MemoryTying::adjacent, true, true); }

TEST(MemN2N, BadShapesAndOptionsNameTheModelAndOption) {
  Generator gen(0);
  const auto hops = testing::error_message([&] { MemN2N(MemN2NOptions{.vocab_size = 5, .dim = 2, .hops = 0}, gen); });
  EXPECT_NE(hops.find("[memn2n] option hops"), std::string::npos) << hops;
  MemN2N model(MemN2NOptions{.vocab_size = 5, .dim = 2, .hops = 1, .memory_size = 2}, gen);
  const auto too_long = testing::error_message([&] {
    model.forward(i64({1, 1, 1}, {1, 3, 1}), i64({3}, {1}), i64({1}, {1, 1}), false);
  });
  EXPECT_NE(too_long.find("[memn2n] the story has 3 sentences but option memory_size is 2"), std::string::npos)
      << too_long;
  const auto bad_story = testing::error_message([&] {
    model.forward(i64({1, 1}, {1, 2}), i64({2}, {1}), i64({1}, {1, 1}), false);
  });
  EXPECT_NE(bad_story.find("[memn2n] story must be int64 [B, M, W]"), std::string::npos) << bad_story;
}

}  // namespace
}  // namespace attnscale
