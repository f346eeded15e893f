// The five encoder-decoder mechanisms: hand-computed reads with padding, gradient checks, local =
// global when the window covers the source, hard attention's sampling, estimators and baseline.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/additive.h"
#include "framework/attention/global.h"
#include "framework/attention/hard.h"
#include "framework/attention/local.h"
#include "framework/attention/soft.h"
#include "framework/core/ops/indexing.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using attention::ScoreKind;
using testing::expect_gradcheck;
using testing::expect_near_all;
using testing::f64;
using testing::i64;
using testing::random_f64;

// Two sequences over keys (1, 0), (0, 1), (1, 1); the second has length 2 (its third key is padding).
const std::vector<double> kStates = {1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1};

std::vector<double> softmax_ref(const std::vector<double>& x) {
  double total = 0;
  for (double v : x) total += std::exp(v);
  std::vector<double> out;
  for (double v : x) out.push_back(std::exp(v) / total);
  return out;
}

// Context of weights over kStates' first row of keys.
std::vector<double> context_ref(const std::vector<double>& w) {
  const double third = w.size() > 2 ? w[2] : 0.0;
  return {w[0] + third, w[1] + third};
}

// Flattened context and weights: what the gradient checks differentiate.
Tensor read_vector(const attention::AttentionRead& read) {
  return concat({reshape(read.context, {-1}), reshape(read.weights, {-1})}, 0);
}

TEST(SoftAttention, PaddedPositionsGetNoWeight) {
  attention::SoftAttention soft(std::make_shared<attention::DotScore>());
  Generator gen(0);
  const auto memory = soft.prepare(f64(kStates, {2, 3, 2}), i64({3, 2}, {2}));
  const auto read = soft.forward(f64({1, 2, 1, 2}, {2, 2}), memory, 0, gen);
  const auto full = softmax_ref({1, 2, 3}), padded = softmax_ref({1, 2});
  expect_near_all(read.weights, {full[0], full[1], full[2], padded[0], padded[1], 0.0}, 1e-15, "weights");
  const auto c0 = context_ref(full), c1 = context_ref(padded);
  expect_near_all(read.context, {c0[0], c0[1], c1[0], c1[1]}, 1e-15, "context");
  EXPECT_FALSE(read.log_prob.defined());
  EXPECT_EQ(gen.offset(), 0u) << "a deterministic mechanism drew random numbers";
}

template <typename Mechanism>
void expect_mechanism_gradcheck(const Mechanism& m, int64_t query_dim, int64_t key_dim, int64_t step = 1) {
  const Tensor lengths = i64({4, 2}, {2});
  expect_gradcheck(m, {random_f64({2, query_dim}, 21), random_f64({2, 4, key_dim}, 22)},
                   [&](const std::vector<Tensor>& in) {
                     Generator gen(5);
                     return read_vector(m.forward(in[0], m.prepare(in[1], lengths), step, gen));
                   });
}

TEST(SoftAttention, GradcheckEveryScore) {
  Generator gen(3);
  for (const ScoreKind kind : {ScoreKind::dot, ScoreKind::general, ScoreKind::concat, ScoreKind::additive}) {
    SCOPED_TRACE(std::string(attention::score_name(kind)));
    const int64_t key_dim = kind == ScoreKind::dot ? 3 : 5;
    attention::SoftAttention soft(attention::make_score(kind, 3, key_dim, 4, gen, DType::f64, "soft"));
    expect_mechanism_gradcheck(soft, 3, key_dim);
  }
}

TEST(AdditiveAttention, MatchesBahdanauByHandAndGradchecks) {
  Generator gen(4);
  attention::AdditiveAttention additive(2, 2, 2, gen, DType::f64);
  testing::set_parameter(additive, "score.query_proj.weight", {1, 0, 0, 1});
  testing::set_parameter(additive, "score.key_proj.weight", {2, 0, 0, -1});
  testing::set_parameter(additive, "score.v.weight", {1, -1});
  const auto memory = additive.prepare(f64(kStates, {2, 3, 2}), i64({3, 2}, {2}));
  const auto read = additive.forward(f64({0.5, -0.25, 0.5, -0.25}, {2, 2}), memory, 0, gen);
  auto e = [](double h0, double h1) { return std::tanh(0.5 + 2 * h0) - std::tanh(-0.25 - h1); };
  const auto full = softmax_ref({e(1, 0), e(0, 1), e(1, 1)}), padded = softmax_ref({e(1, 0), e(0, 1)});
  expect_near_all(read.weights, {full[0], full[1], full[2], padded[0], padded[1], 0.0}, 1e-15, "weights");
  const auto c0 = context_ref(full), c1 = context_ref(padded);
  expect_near_all(read.context, {c0[0], c0[1], c1[0], c1[1]}, 1e-15, "context");

  attention::AdditiveAttention sized(3, 5, 4, gen, DType::f64);
  expect_mechanism_gradcheck(sized, 3, 5);
}

TEST(GlobalAttention, LuongScoresGradcheckAndAdditiveIsRejected) {
  Generator gen(5);
  for (const ScoreKind kind : {ScoreKind::dot, ScoreKind::general, ScoreKind::concat}) {
    SCOPED_TRACE(std::string(attention::score_name(kind)));
    const int64_t key_dim = kind == ScoreKind::dot ? 3 : 6;
    attention::GlobalAttention global(kind, 3, key_dim, 4, gen, DType::f64);
    expect_mechanism_gradcheck(global, 3, key_dim);
  }
  try {
    attention::GlobalAttention(ScoreKind::additive, 3, 3, 3, gen);
    FAIL() << "global attention with the additive score accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[global] score 'additive' is Bahdanau's"), std::string::npos) << e.what();
  }
}

attention::LocalOptions local_options(attention::LocalMode mode, int64_t window) {
  attention::LocalOptions o;
  o.mode = mode;
  o.window = window;
  return o;
}

TEST(LocalAttention, MonotonicWindowByHand) {
  Generator gen(6);
  attention::LocalAttention local(ScoreKind::dot, 2, 2, 2, local_options(attention::LocalMode::monotonic, 1), gen,
                                  DType::f64);
  // keys (1,0), (0,1), (1,1), (2,0) for sequence 0 (length 4) and the same for sequence 1 (length 2).
  const std::vector<double> states = {1, 0, 0, 1, 1, 1, 2, 0, 1, 0, 0, 1, 1, 1, 2, 0};
  const auto memory = local.prepare(f64(states, {2, 4, 2}), i64({4, 2}, {2}));
  const Tensor query = f64({1, 2, 1, 2}, {2, 2});  // scores 1, 2, 3, 2
  // step 0: window {0, 1} for both sequences.
  const auto at0 = local.forward(query, memory, 0, gen);
  const auto w01 = softmax_ref({1, 2});
  expect_near_all(at0.weights, {w01[0], w01[1], 0, 0, w01[0], w01[1], 0, 0}, 1e-15, "step 0");
  // step 3: window {2, 3, 4} for sequence 0; sequence 1 clamps p_t to its last position 1 -> {0, 1}.
  const auto at3 = local.forward(query, memory, 3, gen);
  const auto w23 = softmax_ref({3, 2});
  expect_near_all(at3.weights, {0, 0, w23[0], w23[1], w01[0], w01[1], 0, 0}, 1e-15, "step 3");
}

TEST(LocalAttention, PredictiveGaussianByHand) {
  Generator gen(7);
  attention::LocalAttention local(ScoreKind::dot, 2, 2, 3, local_options(attention::LocalMode::predictive, 1), gen,
                                  DType::f64);
  // W_p = 0 gives p_t = (S_b - 1) * sigmoid(0) = (S_b - 1) / 2; sigma = D / 2 = 0.5.
  testing::set_parameter(local, "position_hidden.weight", std::vector<double>(6, 0.0));
  const std::vector<double> states = {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 1, 0, 0, 1, 1, 1, 2, 0, 0, 2};
  const auto memory = local.prepare(f64(states, {2, 5, 2}), i64({5, 3}, {2}));
  const Tensor query = f64({1, 2, 1, 2}, {2, 2});  // scores 1, 2, 3, 2, 4
  const auto centres = local.centres(query, memory, 0);
  expect_near_all(centres, {2.0, 1.0}, 1e-15, "p_t");
  const auto read = local.forward(query, memory, 0, gen);
  const double g1 = std::exp(-1.0 / (2 * 0.25));  // one position from the centre
  const auto a = softmax_ref({2, 3, 2}), b = softmax_ref({1, 2, 3});
  expect_near_all(read.weights, {0, a[0] * g1, a[1], a[2] * g1, 0, b[0] * g1, b[1], b[2] * g1, 0, 0}, 1e-15, "weights");
}

TEST(LocalAttention, GradcheckBothModes) {
  Generator gen(8);
  for (const auto mode : {attention::LocalMode::monotonic, attention::LocalMode::predictive}) {
    attention::LocalAttention local(ScoreKind::general, 3, 5, 4, local_options(mode, 1), gen, DType::f64);
    expect_mechanism_gradcheck(local, 3, 5, /*step=*/1);
  }
}

TEST(LocalAttention, WindowCoveringTheSourceEqualsGlobal) {
  Generator gen(9);
  attention::GlobalAttention global(ScoreKind::general, 3, 4, 4, gen, DType::f64);
  attention::LocalAttention local(ScoreKind::general, 3, 4, 4, local_options(attention::LocalMode::monotonic, 6), gen,
                                  DType::f64);
  testing::set_parameter(local, "score.key_proj.weight", global.named_parameters()[0].tensor.to_vector<double>());
  const Tensor states = random_f64({3, 6, 4}, 10, false), query = random_f64({3, 3}, 11, false);
  const Tensor lengths = i64({6, 2, 4}, {3});
  for (int64_t step : {0, 3, 7}) {
    const auto g = global.forward(query, global.prepare(states, lengths), step, gen);
    const auto l = local.forward(query, local.prepare(states, lengths), step, gen);
    expect_near_all(l.weights, g.weights.to_vector<double>(), 1e-15, "weights");
    expect_near_all(l.context, g.context.to_vector<double>(), 1e-15, "context");
  }
}

TEST(LocalAttention, BadOptionsNameTheMechanism) {
  Generator gen(1);
  EXPECT_THROW(
      attention::LocalAttention(ScoreKind::dot, 2, 2, 2, local_options(attention::LocalMode::monotonic, 0), gen),
      UsageError);
  attention::LocalOptions negative_sigma = local_options(attention::LocalMode::predictive, 2);
  negative_sigma.sigma = -1;
  try {
    attention::LocalAttention(ScoreKind::dot, 2, 2, 2, negative_sigma, gen);
    FAIL() << "negative sigma accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[local] sigma"), std::string::npos) << e.what();
  }
}

// ---- hard attention ------------------------------------------------------------------------------

attention::HardOptions hard_options(attention::HardEstimator estimator) {
  attention::HardOptions o;
  o.estimator = estimator;
  o.entropy_bonus = 0.05;
  o.baseline_decay = 0.75;
  o.temperature = 0.7;
  return o;
}

TEST(HardAttention, EvaluationReadsTheArgmaxPosition) {
  Generator gen(12);
  attention::HardAttention hard(attention::make_score(ScoreKind::general, 3, 4, 4, gen, DType::f64, "hard"),
                                hard_options(attention::HardEstimator::reinforce), DType::f64);
  hard.eval();
  gen = Generator(0);
  const Tensor states = random_f64({5, 6, 4}, 13, false), query = random_f64({5, 3}, 14, false);
  const Tensor lengths = i64({6, 3, 1, 5, 6}, {5});
  const auto memory = hard.prepare(states, lengths);
  const auto read = hard.forward(query, memory, 0, gen);
  EXPECT_EQ(gen.offset(), 0u) << "evaluation sampled";
  // The reference: argmax of the scores over each sequence's own positions, and that state.
  const auto scores = hard.score().forward(query, memory.keys).to_vector<double>();
  const auto sv = states.to_vector<double>();
  const auto lens = lengths.to_vector<int64_t>();
  std::vector<double> expected_context, expected_weights(30, 0.0);
  for (int64_t b = 0; b < 5; ++b) {
    int64_t best = 0;
    for (int64_t s = 1; s < lens[b]; ++s)
      if (scores[b * 6 + s] > scores[b * 6 + best]) best = s;
    expected_weights[b * 6 + best] = 1.0;
    for (int64_t d = 0; d < 4; ++d) expected_context.push_back(sv[(b * 6 + best) * 4 + d]);
  }
  expect_near_all(read.weights, expected_weights, 0.0, "weights");
  expect_near_all(read.context, expected_context, 0.0, "context");
}

TEST(HardAttention, GumbelMaxSamplesFollowTheSoftmax) {
  const int64_t n = 6000;
  attention::HardAttention hard(std::make_shared<attention::DotScore>(),
                                hard_options(attention::HardEstimator::reinforce), DType::f64);
  // Every row: keys (1,0), (0,1), (1,1), padding; query (1, 2) -> p = softmax(1, 2, 3).
  std::vector<double> states, queries;
  for (int64_t b = 0; b < n; ++b) {
    states.insert(states.end(), {1, 0, 0, 1, 1, 1, 5, 5});
    queries.insert(queries.end(), {1, 2});
  }
  const auto memory = hard.prepare(f64(states, {n, 4, 2}), Tensor::full({n}, 3, DType::i64));
  Generator gen(15);
  const auto read = hard.forward(f64(queries, {n, 2}), memory, 0, gen);
  EXPECT_EQ(gen.offset(), static_cast<uint64_t>(n * 4));
  const auto counts = sum(read.weights, {0}).to_vector<double>();
  const auto p = softmax_ref({1, 2, 3});
  for (int s = 0; s < 3; ++s) EXPECT_NEAR(counts[s] / n, p[s], 0.025) << "position " << s;
  EXPECT_EQ(counts[3], 0.0) << "padding sampled";
  // log_prob is the log-probability of the sampled position; entropy of p.
  const auto w = read.weights.to_vector<double>(), lp = read.log_prob.to_vector<double>();
  const double entropy = -(p[0] * std::log(p[0]) + p[1] * std::log(p[1]) + p[2] * std::log(p[2]));
  for (int64_t b = 0; b < 10; ++b) {
    const int s = w[b * 4] == 1 ? 0 : w[b * 4 + 1] == 1 ? 1 : 2;
    EXPECT_NEAR(lp[b], std::log(p[s]), 1e-14);
  }
  expect_near_all(narrow(read.entropy, 0, 0, 3), {entropy, entropy, entropy}, 1e-14, "entropy");
}

// The straight-through path: the forward reads one position; the backward is that of
//   relaxed read-out softmax((log p + g) / T) . states_const  +  one-hot . states
// with the same noise g: the scores (hence the query, the score parameters and the states as keys)
// get the relaxed gradient, the states as values get the one-hot read-out's. The relaxed part is
// gradient-checked by finite differences (the one-hot part is linear).
TEST(HardAttention, StraightThroughGradientsAreTheRelaxedOnes) {
  Generator init(16);
  const attention::HardOptions options = hard_options(attention::HardEstimator::straight_through);
  attention::HardAttention hard(attention::make_score(ScoreKind::general, 3, 4, 4, init, DType::f64, "hard"), options,
                                DType::f64);
  const Tensor lengths = i64({5, 3}, {2});
  const Tensor query = random_f64({2, 3}, 17), states = random_f64({2, 5, 4}, 18);
  const Tensor values = states.detach().clone();  // a constant copy: the value path of the relaxed part is cut
  const Tensor weight = random_f64({2, 4}, 19, false);
  auto gradients = [&] {
    std::vector<Tensor> grads{query.grad().clone(), states.grad().clone()};
    for (const auto& p : hard.named_parameters()) grads.push_back(p.tensor.grad().clone());
    query.zero_grad();
    states.zero_grad();
    hard.zero_grad();
    return grads;
  };

  Generator gen(20);
  const auto read = hard.forward(query, hard.prepare(states, lengths), 0, gen);
  const auto w = read.weights.to_vector<double>();
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_EQ(std::count(w.begin() + b * 5, w.begin() + b * 5 + 5, 1.0), 1) << "not one-hot";
    EXPECT_EQ(std::count(w.begin() + b * 5, w.begin() + b * 5 + 5, 0.0), 4) << "not one-hot";
  }
  sum(mul(read.context, weight)).backward();
  const auto st = gradients();

  auto relaxed_context = [&](const Tensor& q, const Tensor& keys) {
    Generator same(20);
    const auto memory = hard.prepare(keys, lengths);
    const Tensor log_p = log_softmax(attention::mask_scores(hard.score().forward(q, memory.keys), memory.padding), -1);
    const Tensor noise = attention::gumbel_noise(log_p.shape(), same, DType::f64);
    return attention::read_out(softmax(mul(add(log_p, noise), 1.0 / options.temperature), -1), values);
  };
  const Tensor one_hot = read.weights.detach();
  sum(mul(add(relaxed_context(query, states), attention::read_out(one_hot, states)), weight)).backward();
  const auto reference = gradients();
  const auto params = hard.named_parameters();
  ASSERT_EQ(st.size(), reference.size());
  for (size_t i = 0; i < st.size(); ++i)
    expect_near_all(st[i], reference[i].to_vector<double>(), 1e-14,
                    i == 0   ? "query"
                    : i == 1 ? "states"
                             : params[i - 2].name);
  expect_gradcheck(hard, {query, states}, [&](const std::vector<Tensor>& in) { return relaxed_context(in[0], in[1]); });
}

// The REINFORCE surrogate -(A log p(sample)) - beta H(p) as a function of the query, the states and
// the score parameters, with the sample fixed by the generator's seed.
TEST(HardAttention, ReinforceSurrogateGradcheck) {
  Generator init(21);
  attention::HardAttention hard(attention::make_score(ScoreKind::concat, 3, 4, 5, init, DType::f64, "hard"),
                                hard_options(attention::HardEstimator::reinforce), DType::f64);
  const Tensor lengths = i64({5, 2}, {2});
  const Tensor advantages = f64({0.7, -1.3, 0.4, 0.0}, {2, 2}), mask = f64({1, 1, 1, 0}, {2, 2});
  expect_gradcheck(hard, {random_f64({2, 2, 3}, 22), random_f64({2, 5, 4}, 23)}, [&](const std::vector<Tensor>& in) {
    Generator gen(24);
    const auto memory = hard.prepare(in[1], lengths);
    std::vector<Tensor> log_probs, entropies;
    for (int64_t t = 0; t < 2; ++t) {
      const auto read = hard.forward(squeeze(narrow(in[0], 1, t, 1), 1), memory, t, gen);
      log_probs.push_back(read.log_prob);
      entropies.push_back(read.entropy);
    }
    return attention::reinforce_surrogate(stack(log_probs, 1), stack(entropies, 1), advantages, mask, 0.05);
  });
}

TEST(HardAttention, AuxiliaryLossIsZeroValuedWithTheSurrogateGradientAndUpdatesTheBaseline) {
  Generator init(25);
  const attention::HardOptions options = hard_options(attention::HardEstimator::reinforce);
  attention::HardAttention hard(attention::make_score(ScoreKind::general, 3, 4, 4, init, DType::f64, "hard"), options,
                                DType::f64);
  const Tensor lengths = i64({5, 3}, {2});
  const Tensor states = random_f64({2, 5, 4}, 26, false), queries = random_f64({2, 2, 3}, 27);
  const Tensor mask = f64({1, 1, 1, 0}, {2, 2});
  auto reads_of = [&] {
    Generator gen(28);
    const auto memory = hard.prepare(states, lengths);
    std::vector<attention::AttentionRead> reads;
    for (int64_t t = 0; t < 2; ++t) reads.push_back(hard.forward(squeeze(narrow(queries, 1, t, 1), 1), memory, t, gen));
    return reads;
  };
  const std::vector<double> rewards1 = {-1.0, -2.0, -0.5, -9.0}, rewards2 = {-0.2, -0.4, -0.6, -9.0};
  const double mean1 = (-1.0 - 2.0 - 0.5) / 3, mean2 = (-0.2 - 0.4 - 0.6) / 3;

  // First batch: the baseline starts at the batch's mean reward.
  auto reads = reads_of();
  const Tensor aux = hard.auxiliary_loss(reads, f64(rewards1, {2, 2}), mask);
  EXPECT_EQ(aux.item(), 0.0) << "the surrogate must not change the reported loss";
  EXPECT_NEAR(hard.baseline(), mean1, 1e-15);
  queries.zero_grad();
  aux.backward();
  const Tensor aux_grad = queries.grad().clone();
  reads = reads_of();
  std::vector<Tensor> lp, ent;
  for (const auto& r : reads) lp.push_back(r.log_prob), ent.push_back(r.entropy);
  std::vector<double> advantages;
  for (size_t i = 0; i < 4; ++i) advantages.push_back(i == 3 ? 0.0 : rewards1[i] - mean1);
  queries.zero_grad();
  attention::reinforce_surrogate(stack(lp, 1), stack(ent, 1), f64(advantages, {2, 2}), mask, options.entropy_bonus)
      .backward();
  expect_near_all(aux_grad, queries.grad().to_vector<double>(), 1e-14, "surrogate gradient");

  // Second batch: b <- decay b + (1 - decay) mean reward.
  hard.auxiliary_loss(reads_of(), f64(rewards2, {2, 2}), mask);
  EXPECT_NEAR(hard.baseline(), options.baseline_decay * mean1 + (1 - options.baseline_decay) * mean2, 1e-15);
  EXPECT_EQ(hard.named_buffers().size(), 2u) << "the baseline must be a buffer (checkpointed)";
}

TEST(HardAttention, BadOptionsNameTheMechanism) {
  attention::HardOptions bad = hard_options(attention::HardEstimator::straight_through);
  bad.temperature = 0;
  try {
    attention::HardAttention(std::make_shared<attention::DotScore>(), bad);
    FAIL() << "temperature 0 accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[hard] temperature must be > 0"), std::string::npos) << e.what();
  }
  bad = hard_options(attention::HardEstimator::reinforce);
  bad.baseline_decay = 1.0;
  EXPECT_THROW(attention::HardAttention(std::make_shared<attention::DotScore>(), bad), UsageError);
  attention::HardAttention hard(std::make_shared<attention::DotScore>(),
                                hard_options(attention::HardEstimator::reinforce), DType::f64);
  EXPECT_THROW(hard.prepare(Tensor::zeros({2, 3, 2}, DType::f64), i64({3, 4}, {2})), UsageError);
}

}  // namespace
}  // namespace attnscale
