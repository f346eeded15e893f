// configs/mechanisms/temporal.yaml trains TemporalAttentionNet, shrunk by overrides to a test-sized
// run (seconds on one core): greedy decoding must be far above chance (1/8), and at output step k
// the attention must peak at the frame carrying marker k. Also: config errors name the key.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/config/config.h"
#include "framework/core/ops/ops.h"
#include "framework/train/temporal_task.h"
#include "framework/train/trainer.h"
#include "tests/memory/memory_test_util.h"

namespace attnscale {
namespace {

Config temporal_config(std::vector<std::string> overrides) {
  overrides.insert(overrides.end(), {"logging.progress=off", "logging.metrics=false"});
  return load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / "temporal.yaml",
                     overrides);
}

// Fraction of (sequence, marker k) whose attention at output step k peaks at marker k's frame.
double alignment(train::TemporalTask& task) {
  autograd::NoGradGuard no_grad;
  task.net().eval();
  int64_t aligned = 0, total = 0;
  const int64_t events = task.sequences().spec().events;
  for (int64_t i = 0; i < 4; ++i) {
    const auto batch = task.sequences().batch((int64_t{1} << 41) + i);
    const auto out = task.net().forward(batch.features, batch.lengths, batch.target_inputs);
    const auto marked = batch.event_steps.to_vector<int64_t>();
    for (int64_t k = 0; k < events; ++k) {
      const auto focus = argmax(out.reads[static_cast<size_t>(k)].weights, -1).to_vector<int64_t>();
      for (size_t b = 0; b < focus.size(); ++b) {
        aligned += focus[b] == marked[b * static_cast<size_t>(events) + static_cast<size_t>(k)];
        ++total;
      }
    }
  }
  return static_cast<double>(aligned) / static_cast<double>(total);
}

struct Case {
  std::string name;
  std::vector<std::string> overrides;
  double min_accuracy;
};

class TemporalTrains : public ::testing::TestWithParam<Case> {};

TEST_P(TemporalTrains, FarAboveChanceAndAttendsToTheMarkedFrames) {
  const Config cfg = temporal_config(GetParam().overrides);
  train::TemporalTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const train::TrainSummary summary = trainer.run();
  train::PredictionScore greedy;
  for (int64_t i = 0; i < 4; ++i) greedy += task.greedy_score(i);
  const double aligned = alignment(task);
  std::printf("%s: loss %.3f -> %.3f, greedy token accuracy %.3f, exact %.3f (chance %.3f), alignment %.3f\n",
              GetParam().name.c_str(), summary.first_loss, summary.last_loss, greedy.token_accuracy(),
              greedy.exact_accuracy(), task.chance_accuracy(), aligned);
  EXPECT_GT(greedy.token_accuracy(), GetParam().min_accuracy);
  EXPECT_GT(greedy.token_accuracy(), 5 * task.chance_accuracy());
  EXPECT_GT(aligned, 0.8);
}

INSTANTIATE_TEST_SUITE_P(
    Temporal, TemporalTrains,
    ::testing::Values(Case{"sequence", {"train.steps=200"}, 0.8},
                      Case{"label", {"train.steps=150", "temporal.output=label", "temporal.events=1"}, 0.8}),
    [](const auto& info) { return info.param.name; });

TEST(TemporalConfig, OptionsThatDoNotFitAreErrorsNamingTheKey) {
  const auto mechanism =
      testing::error_message([] { train::TemporalTask(temporal_config({"attention.mechanism=memory"})); });
  EXPECT_NE(mechanism.find("[config] attention.mechanism: 'memory' does not fit model.type = temporal"),
            std::string::npos)
      << mechanism;
  const auto label = testing::error_message([] { train::TemporalTask(temporal_config({"temporal.output=label"})); });
  EXPECT_NE(label.find("[config] temporal.events: 3: temporal.output = label is the class of one marked frame"),
            std::string::npos)
      << label;
  const auto width = testing::error_message([] { train::TemporalTask(temporal_config({"temporal.feature_dim=9"})); });
  EXPECT_NE(width.find("[config] temporal.feature_dim: 9 cannot hold"), std::string::npos) << width;
  const auto vocab = testing::error_message([] { train::TemporalTask(temporal_config({"data.vocab_size=50"})); });
  EXPECT_NE(vocab.find("[config] data.vocab_size: does not apply to model.type = temporal"), std::string::npos)
      << vocab;
}

}  // namespace
}  // namespace attnscale
