// The Seq2Seq model (gradient checks of both decoder wirings, greedy decoding), the transduction
// data, greedy scoring, and the config errors of model.type = seq2seq.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "framework/data/synthetic.h"
#include "framework/data/transduction.h"
#include "framework/models/seq2seq.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/train/make_task.h"
#include "framework/train/seq2seq_task.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using testing::i64;

// ---- data ----------------------------------------------------------------------------------------

TEST(Transduction, TargetsAreTheTransformedSourcesWithEosAndPadding) {
  for (const auto task : {data::Transduction::copy, data::Transduction::reverse, data::Transduction::sort}) {
    data::TransductionSpec spec;
    spec.task = task;
    spec.min_len = 2, spec.max_len = 6, spec.batch_size = 9, spec.vocab_size = 9, spec.seed = 5;
    const data::TransductionTask data(spec);
    const auto batch = data.batch(3);
    const auto again = data.batch(3);
    EXPECT_EQ(batch.source.to_vector<int64_t>(), again.source.to_vector<int64_t>()) << "not a function of the index";
    EXPECT_NE(batch.source.to_vector<int64_t>(), data.batch(4).source.to_vector<int64_t>());
    const int64_t s = batch.source.shape()[1], t = batch.target_inputs.shape()[1];
    ASSERT_EQ(t, s + 1);
    ASSERT_EQ(batch.target_outputs.shape(), batch.target_inputs.shape());
    const auto src = batch.source.to_vector<int64_t>(), in = batch.target_inputs.to_vector<int64_t>();
    const auto out = batch.target_outputs.to_vector<int64_t>(), lens = batch.source_lengths.to_vector<int64_t>();
    EXPECT_EQ(*std::max_element(lens.begin(), lens.end()), s) << "not padded to the longest sequence";
    for (int64_t b = 0; b < spec.batch_size; ++b) {
      const int64_t len = lens[b];
      ASSERT_GE(len, spec.min_len);
      ASSERT_LE(len, spec.max_len);
      std::vector<int64_t> expected(src.begin() + b * s, src.begin() + b * s + len);
      for (int64_t x : expected) ASSERT_TRUE(x >= data::kFirstSymbol && x < spec.vocab_size) << x;
      for (int64_t j = len; j < s; ++j) EXPECT_EQ(src[b * s + j], data::kPadId);
      if (task == data::Transduction::reverse) std::reverse(expected.begin(), expected.end());
      if (task == data::Transduction::sort) std::sort(expected.begin(), expected.end());
      EXPECT_EQ(in[b * t], data::kBosId);
      for (int64_t j = 0; j < len; ++j) {
        EXPECT_EQ(out[b * t + j], expected[j]);
        EXPECT_EQ(in[b * t + j + 1], expected[j]);  // teacher forcing: the target shifted right
      }
      EXPECT_EQ(out[b * t + len], data::kEosId);
      for (int64_t j = len + 1; j < t; ++j) EXPECT_EQ(out[b * t + j], data::kIgnoreIndex);
    }
  }
}

TEST(Transduction, BadSpecsNameTheProblem) {
  data::TransductionSpec spec;
  spec.min_len = 5, spec.max_len = 4;
  EXPECT_THROW(data::TransductionTask{spec}, UsageError);
  spec = {};
  spec.vocab_size = 4;
  EXPECT_THROW(data::TransductionTask{spec}, UsageError);
}

TEST(PredictionScore, TokensUpToEosAndExactSequences) {
  const int64_t ig = data::kIgnoreIndex;
  // Sequence 0 exact; sequence 1 wrong at its second token; sequence 2 misses its eos.
  const Tensor targets = i64({5, 6, 2, 7, 8, 2, 9, 2, ig}, {3, 3});
  const Tensor predicted = i64({5, 6, 2, 0, 7, 4, 2, 0, 9, 3, 1, 1}, {3, 4});
  const auto score = train::score_predictions(predicted, targets);
  EXPECT_EQ(score.scored_tokens, 8);
  EXPECT_EQ(score.correct_tokens, 3 + 2 + 1);
  EXPECT_EQ(score.sequences, 3);
  EXPECT_EQ(score.exact_sequences, 1);
  EXPECT_THROW(train::score_predictions(i64({1, 2}, {1, 2}), targets), UsageError);
}

// ---- model ---------------------------------------------------------------------------------------

// The model options of `mechanism` from a config (its registration installs the attention), shrunk.
models::Seq2SeqOptions tiny(std::string_view mechanism) {
  Config cfg;
  cfg.model.type = config::ModelType::seq2seq;
  cfg.attention.mechanism = mechanism;
  cfg.data.vocab_size = 6;
  cfg.model.d_model = 3;
  cfg.model.n_layers = 1;
  cfg.seq2seq.embed_dim = 3;
  cfg.seq2seq.attn_dim = 2;
  return train::seq2seq_options(cfg);
}

// Teacher-forced logits as a function of every parameter, on a padded batch.
void expect_model_gradcheck(const models::Seq2SeqOptions& options) {
  Generator init(31);
  models::Seq2Seq model(options, init, DType::f64);
  const Tensor source = i64({3, 4, 5, 5, 0, 0}, {2, 3}), lengths = i64({3, 1}, {2});
  const Tensor target_inputs = i64({1, 5, 4, 1, 3, 0}, {2, 3});
  testing::expect_gradcheck(model, {}, [&](const std::vector<Tensor>&) {
    Generator gen(0);
    return model.forward(source, lengths, target_inputs, gen).logits;
  });
}

TEST(Seq2Seq, LuongWiringGradcheck) {
  auto options = tiny("global");
  options.num_layers = 2;  // stacked encoder and decoder, bridged per layer
  expect_model_gradcheck(options);
}

TEST(Seq2Seq, LuongWithoutInputFeedingGradcheck) {
  auto options = tiny("local");
  options.input_feeding = false;
  options.bidirectional = false;
  expect_model_gradcheck(options);
}

TEST(Seq2Seq, BahdanauWiringGradcheck) { expect_model_gradcheck(tiny("additive")); }

// Greedy decoding feeds back its own argmax: teacher-forcing the model on [bos, predictions] must
// reproduce the predictions at every step, for every mechanism (hard included, in evaluation mode).
TEST(Seq2Seq, GreedyDecodingAgreesWithTeacherForcingOnItsOwnOutput) {
  for (const char* mechanism : {"soft", "hard", "additive", "global", "local"}) {
    SCOPED_TRACE(mechanism);
    Generator init(41);
    auto options = tiny(mechanism);
    options.vocab_size = 9, options.hidden_size = 8, options.embed_dim = 5;
    models::Seq2Seq model(options, init, DType::f64);
    model.eval();
    const Tensor source = i64({3, 4, 5, 6, 7, 8, 8, 0, 0, 0, 5, 0}, {3, 4}), lengths = i64({4, 2, 1}, {3});
    Generator gen(0);
    const Tensor predicted = model.greedy_decode(source, lengths, 5, gen);
    ASSERT_EQ(predicted.shape(), Shape({3, 5}));
    const Tensor inputs = concat({Tensor::full({3, 1}, 1, DType::i64), narrow(predicted, 1, 0, 4)}, 1);
    const Tensor logits = model.forward(source, lengths, inputs, gen).logits;
    EXPECT_EQ(argmax(logits, -1).to_vector<int64_t>(), predicted.to_vector<int64_t>());
  }
}

TEST(Seq2Seq, ParametersAreNamedByPart) {
  Generator init(1);
  models::Seq2Seq model(tiny("local"), init);
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) names.push_back(p.name);
  for (const char* expected :
       {"source_embed.weight", "encoder.layers.0.backward.weight_hh", "bridge.weight", "decoder.0.weight_ih",
        "attention.score.key_proj.weight", "attention.position_hidden.weight", "combine.weight", "output.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
}

// ---- config --------------------------------------------------------------------------------------

Config mechanism_config(const std::string& name, std::vector<std::string> overrides = {}) {
  return load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / (name + ".yaml"),
                     overrides);
}

TEST(Seq2SeqConfig, EveryMechanismConfigBuildsItsTask) {
  for (const char* name : {"soft", "additive", "global", "local", "hard"}) {
    const Config cfg = mechanism_config(name);
    EXPECT_EQ(cfg.model.type, config::ModelType::seq2seq);
    const auto task = train::make_task(cfg);
    auto* seq2seq = dynamic_cast<train::Seq2SeqTask*>(task.get());
    ASSERT_NE(seq2seq, nullptr) << name;
    EXPECT_EQ(seq2seq->seq2seq().attention().name(), name);
  }
}

void expect_config_error(const std::string& name, std::vector<std::string> overrides, const std::string& message) {
  const Config cfg = mechanism_config(name, overrides);
  try {
    train::make_task(cfg);
    FAIL() << "accepted: " << message;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(Seq2SeqConfig, OptionsThatDoNotFitTheMechanismAreErrorsNamingTheKey) {
  expect_config_error("global", {"attention.mechanism=multi_head"},
                      "[config] attention.mechanism: 'multi_head' does not fit model.type = seq2seq, which takes "
                      "attention.mechanism = soft, hard, additive, global or local (command line");
  expect_config_error("global", {"seq2seq.score=additive"}, "[config] seq2seq.score: 'additive' is Bahdanau's score");
  expect_config_error("global", {"seq2seq.score=dot"},
                      "[config] seq2seq.score: 'dot' needs encoder and decoder states");
  expect_config_error("additive", {"seq2seq.score=dot"}, "[config] seq2seq.score: 'dot' does not apply");
  expect_config_error("additive", {"seq2seq.input_feeding=false"}, "[config] seq2seq.input_feeding: does not apply");
  // A key at its default is not an error (configs may spell out defaults; overrides may switch modes).
  EXPECT_NO_THROW(train::make_task(mechanism_config("hard", {"seq2seq.hard_estimator=straight_through"})));
  expect_config_error(
      "global", {"seq2seq.local_window=4"},
      "[config] seq2seq.local_window: is used by local attention only, but attention.mechanism = global "
      "(command line");
  expect_config_error("soft", {"seq2seq.entropy_bonus=0.5"}, "[config] seq2seq.entropy_bonus: is used by hard");
  expect_config_error("local", {"seq2seq.local_mode=m", "seq2seq.local_sigma=1"},
                      "[config] seq2seq.local_sigma: applies to local_mode = p only");
  expect_config_error("hard", {"seq2seq.gumbel_temperature=0.5"},
                      "[config] seq2seq.gumbel_temperature: applies to hard_estimator = straight_through only");
  expect_config_error("hard", {"seq2seq.hard_estimator=straight_through", "seq2seq.baseline_decay=0.5"},
                      "[config] seq2seq.baseline_decay: applies to hard_estimator = reinforce only");
  expect_config_error("soft", {"seq2seq.min_len=9", "seq2seq.max_len=8"}, "[config] seq2seq.min_len: 9 exceeds");
  expect_config_error("soft", {"data.vocab_size=4"}, "[config] data.vocab_size: 4 leaves fewer than 2 symbols");
}

}  // namespace
}  // namespace attnscale
