// Each configs/mechanisms/<name>.yaml of the encoder-decoder family trains its Seq2Seq model on its
// synthetic task (reversal; local-m also on copying), shrunk by overrides to a test-sized run (under
// a second each on one core): the loss must fall well, greedy decoding must be far above chance,
// and the attention must have found the alignment (target step t reads source position len - 1 - t
// for reversal, t for copying), which shows that the mechanism itself learned, not only the
// recurrent state.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/config/config.h"
#include "framework/core/ops/ops.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/trainer.h"

namespace attnscale {
namespace {

struct Expectation {
  std::string name;  // of the test case
  std::string mechanism;
  std::vector<std::string> overrides;  // beyond the shared test-size ones
  double min_greedy_token_accuracy;
  double min_alignment;  // fraction of target steps whose largest attention weight is an aligned position
  int64_t max_offset;    // aligned = len - 1 - t + [0, max_offset]
};

Config test_config(const Expectation& e, int64_t steps) {
  std::vector<std::string> overrides = {
      "model.d_model=32",     "seq2seq.min_len=3",    "seq2seq.max_len=7",
      "data.vocab_size=12",   "data.batch_size=16",   "train.steps=" + std::to_string(steps),
      "train.eval_batches=4", "logging.progress=off", "logging.metrics=false"};
  overrides.insert(overrides.end(), e.overrides.begin(), e.overrides.end());
  const auto file = std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / (e.mechanism + ".yaml");
  return load_config(file, overrides);
}

// Fraction of source-aligned target steps (not eos) whose attention argmax is the aligned source
// position (len - 1 - t for reversal, t for copying) plus [0, max_offset], in evaluation mode with
// teacher forcing on held-out batches.
double alignment(train::Seq2SeqTask& task, const data::TransductionTask& data, int64_t max_offset) {
  const bool reverse = data.spec().task == data::Transduction::reverse;
  autograd::NoGradGuard no_grad;
  models::Seq2Seq& model = task.seq2seq();
  model.eval();
  Generator gen(0);
  int64_t aligned = 0, total = 0;
  for (int64_t i = 0; i < 4; ++i) {
    const auto batch = data.batch((int64_t{1} << 41) + i);
    const auto out = model.forward(batch.source, batch.source_lengths, batch.target_inputs, gen);
    const auto lengths = batch.source_lengths.to_vector<int64_t>();
    for (size_t t = 0; t < out.reads.size(); ++t) {
      const auto focus = argmax(out.reads[t].weights, -1).to_vector<int64_t>();
      for (size_t b = 0; b < lengths.size(); ++b) {
        if (static_cast<int64_t>(t) >= lengths[b]) continue;
        ++total;
        const auto step = static_cast<int64_t>(t);
        const int64_t offset = focus[b] - (reverse ? lengths[b] - 1 - step : step);
        aligned += offset >= 0 && offset <= max_offset;
      }
    }
  }
  return static_cast<double>(aligned) / static_cast<double>(total);
}

void PrintTo(const Expectation& e, std::ostream* os) { *os << e.name; }

class MechanismTrains : public ::testing::TestWithParam<Expectation> {};

TEST_P(MechanismTrains, AndAligns) {
  const Expectation& e = GetParam();
  const Config cfg = test_config(e, 250);
  ASSERT_NE(cfg.seq2seq.task, config::Transduction::sort) << "no single aligned position";
  train::Seq2SeqTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const train::TrainSummary summary = trainer.run();
  train::PredictionScore greedy;
  for (int64_t i = 0; i < 4; ++i) greedy += task.greedy_score(i);
  const double aligned = alignment(task, data::TransductionTask(train::transduction_spec(cfg, 1)), e.max_offset);
  RecordProperty("greedy_token_accuracy", std::to_string(greedy.token_accuracy()));
  const std::string task_name(config::to_string(cfg.seq2seq.task));
  std::printf("%s (%s): loss %.3f -> %.3f, greedy token accuracy %.3f, exact %.3f, alignment %.3f (chance %.3f)\n",
              e.name.c_str(), task_name.c_str(), summary.first_loss, summary.last_loss, greedy.token_accuracy(),
              greedy.exact_accuracy(), aligned, task.chance_accuracy());
  EXPECT_LT(summary.last_loss, 0.25 * summary.first_loss);
  EXPECT_GT(greedy.token_accuracy(), e.min_greedy_token_accuracy);
  EXPECT_GT(greedy.token_accuracy(), 5 * task.chance_accuracy());
  EXPECT_GT(aligned, e.min_alignment);
}

// Bahdanau's wiring queries with the previous decoder state s_{t-1}; trained on reversal it learns to
// read position len - t at steps t >= 1 (the previous output's position, whose bidirectional state
// also holds the next token), so for additive the alignment counts offsets 0 and 1.
INSTANTIATE_TEST_SUITE_P(
    Seq2Seq, MechanismTrains,
    ::testing::Values(Expectation{"soft", "soft", {}, 0.8, 0.8, 0},
                      Expectation{"additive", "additive", {}, 0.8, 0.8, 1},
                      Expectation{"global", "global", {}, 0.8, 0.8, 0}, Expectation{"local", "local", {}, 0.8, 0.8, 0},
                      Expectation{"local_m_copy", "local", {"seq2seq.local_mode=m", "seq2seq.task=copy"}, 0.8, 0.8, 0},
                      Expectation{"hard_reinforce", "hard", {}, 0.6, 0.6, 0},
                      Expectation{
                          "hard_straight_through", "hard", {"seq2seq.hard_estimator=straight_through"}, 0.6, 0.6, 0}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace attnscale
