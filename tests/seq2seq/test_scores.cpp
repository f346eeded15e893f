// Score functions: hand-computed values, gradient checks, concat = additive, and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/scores.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using attention::ScoreKind;
using testing::expect_gradcheck;
using testing::expect_near_all;
using testing::f64;
using testing::random_f64;

// keys [1, 3, 2]: (1, 0), (0, 1), (1, 1); query (1, 2).
const std::vector<double> kKeys = {1, 0, 0, 1, 1, 1};

TEST(Scores, DotByHand) {
  attention::DotScore dot;
  const Tensor keys = f64(kKeys, {1, 3, 2});
  expect_near_all(dot.forward(f64({1, 2}, {1, 2}), dot.prepare_keys(keys)), {1, 2, 3}, 1e-15, "dot");
}

TEST(Scores, GeneralByHand) {
  Generator gen(1);
  attention::GeneralScore general(2, 2, gen, DType::f64);
  // W = [[1, 2], [0, -1]] ([query, key]); for q = (1, 2), q^T W = (1, 0), so q^T W h = h_0.
  testing::set_parameter(general, "key_proj.weight", {1, 2, 0, -1});
  const Tensor keys = f64(kKeys, {1, 3, 2});
  expect_near_all(general.forward(f64({1, 2}, {1, 2}), general.prepare_keys(keys)), {1, 0, 1}, 1e-15, "general");
}

TEST(Scores, AdditiveByHand) {
  Generator gen(1);
  attention::AdditiveScore additive(2, 2, 2, gen, DType::f64);
  testing::set_parameter(additive, "query_proj.weight", {1, 0, 0, 1});  // W = I
  testing::set_parameter(additive, "key_proj.weight", {2, 0, 0, -1});   // U = diag(2, -1)
  testing::set_parameter(additive, "v.weight", {1, -1});
  const Tensor keys = f64(kKeys, {1, 3, 2});
  const double q0 = 0.5, q1 = -0.25;
  auto e = [&](double h0, double h1) { return std::tanh(q0 + 2 * h0) - std::tanh(q1 - h1); };
  expect_near_all(additive.forward(f64({q0, q1}, {1, 2}), additive.prepare_keys(keys)), {e(1, 0), e(0, 1), e(1, 1)},
                  1e-15, "additive");
}

TEST(Scores, ConcatIsTheAdditiveFunction) {
  Generator gen(1);
  const auto concat = attention::make_score(ScoreKind::concat, 3, 4, 5, gen, DType::f64, "test");
  EXPECT_NE(dynamic_cast<attention::AdditiveScore*>(concat.get()), nullptr);
}

TEST(Scores, Gradchecks) {
  Generator gen(2);
  for (const ScoreKind kind : {ScoreKind::dot, ScoreKind::general, ScoreKind::additive}) {
    SCOPED_TRACE(std::string(attention::score_name(kind)));
    const int64_t key_dim = kind == ScoreKind::dot ? 3 : 4;
    const auto score = attention::make_score(kind, 3, key_dim, 5, gen, DType::f64, "test");
    expect_gradcheck(*score, {random_f64({2, 3}, 3), random_f64({2, 4, key_dim}, 4)},
                     [&](const std::vector<Tensor>& in) { return score->forward(in[0], score->prepare_keys(in[1])); });
  }
}

TEST(Scores, ErrorsNameTheMechanismAndTheOption) {
  Generator gen(1);
  try {
    attention::make_score(ScoreKind::dot, 4, 8, 4, gen, DType::f64, "global");
    FAIL() << "dot with different sizes accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[global] score 'dot' needs the decoder state size (4) to equal the encoder "
                                         "state size (8)"),
              std::string::npos)
        << e.what();
  }
  const auto general = attention::make_score(ScoreKind::general, 4, 8, 4, gen, DType::f64, "soft");
  EXPECT_THROW(general->prepare_keys(Tensor::zeros({2, 3, 4}, DType::f64)), UsageError);
  const Tensor keys = general->prepare_keys(Tensor::zeros({2, 3, 8}, DType::f64));
  EXPECT_THROW(general->forward(Tensor::zeros({2, 5}, DType::f64), keys), UsageError);
}

}  // namespace
}  // namespace attnscale
