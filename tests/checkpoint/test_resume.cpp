// Bit-exact resume through the trainer: N steps straight against N/2 + save + a fresh trainer that
// resumes and runs N/2 more, with dropout (a random stream) and gradient accumulation (a data
// cursor that is not the step).
#include <gtest/gtest.h>

#include <bit>
#include <chrono>

#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/io/metrics.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"

namespace attnscale::train {
namespace {

namespace fs = std::filesystem;
using checkpoint::CheckpointReader;

Config tiny_config(const fs::path& run_dir, config::Optimizer optimizer) {
  Config cfg = test_checkpoint::tiny_lm_config(run_dir);
  cfg.optim.name = optimizer;
  cfg.train.accum_steps = 2;  // the data cursor runs ahead of the step
  validate(cfg);
  return cfg;
}

TrainSummary train(const Config& cfg) {
  const RunDir dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  fs::create_directories(dir.root);
  LMTask task(cfg);
  Trainer trainer(cfg, task, &dir, 0);
  return trainer.run();
}

std::vector<std::uint64_t> bits(const std::vector<double>& values) {
  std::vector<std::uint64_t> out;
  for (const double v : values) out.push_back(std::bit_cast<std::uint64_t>(v));
  return out;
}

const checkpoint::ManifestFile& file_of(const fs::path& checkpoint, std::string_view name) {
  static std::vector<CheckpointReader> readers;  // keeps the manifests alive for the references
  readers.emplace_back(checkpoint);
  return *readers.back().manifest().find(name);
}

class Resume : public ::testing::TestWithParam<config::Optimizer> {};

TEST_P(Resume, ContinuesBitExactlyFromAMidRunCheckpoint) {
  testing::TempDir tmp;
  Config straight = tiny_config(tmp / "straight", GetParam());
  straight.checkpoint.every = 8;  // only the final state, to compare with
  const TrainSummary reference = train(straight);
  ASSERT_EQ(reference.losses.size(), 8u);

  Config interrupted = tiny_config(tmp / "interrupted", GetParam());
  interrupted.checkpoint.every = 4;
  const TrainSummary first = train(interrupted);
  EXPECT_EQ(bits(first.losses), bits(reference.losses));  // saving does not disturb training
  // Forget everything after step 4, as if the process had died there.
  fs::remove_all(tmp / "interrupted" / "checkpoints" / "step_00000008");

  interrupted.train.resume = "auto";
  const TrainSummary resumed = train(interrupted);
  EXPECT_EQ(resumed.resumed_from_step, 4);
  const std::vector<double> tail(reference.losses.begin() + 4, reference.losses.end());
  EXPECT_EQ(bits(resumed.losses), bits(tail));

  const fs::path a = tmp / "straight" / "checkpoints" / "step_00000008";
  const fs::path b = tmp / "interrupted" / "checkpoints" / "step_00000008";
  EXPECT_EQ(file_of(a, "model.h5").sha256, file_of(b, "model.h5").sha256);  // parameters + optimizer state
  EXPECT_EQ(file_of(a, "ranks.h5").sha256, file_of(b, "ranks.h5").sha256);  // random streams + data cursor
  const CheckpointReader final_state(b);
  EXPECT_EQ(final_state.read_ranks().ranks[0].data_cursor, 16);  // 8 steps x 2 micro-batches

  // metrics.jsonl holds each step once, in order, with the straight run's losses.
  const auto records = read_metrics(tmp / "interrupted" / "metrics.jsonl");
  ASSERT_EQ(records.size(), 8u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i]["step"].get<std::int64_t>(), static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(records[i]["loss"].get<double>()), bits(reference.losses)[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Resume, ::testing::Values(config::Optimizer::adamw, config::Optimizer::sgd),
                         [](const auto& info) { return std::string(config::to_string(info.param)); });

// A 2-step run with a checkpoint at step 2, and its config set to resume.
Config trained_two_steps(const fs::path& run_dir) {
  Config cfg = tiny_config(run_dir, config::Optimizer::adamw);
  cfg.train.steps = 2;
  cfg.checkpoint.every = 2;
  train(cfg);
  cfg.train.resume = "auto";
  return cfg;
}

TEST(ResumeRefusal, AnotherModelShapeIsACheckpointError) {
  testing::TempDir tmp;
  Config cfg = trained_two_steps(tmp / "run");
  cfg.model.d_model = 32;
  try {
    train(cfg);
    FAIL() << "resumed into a model of another shape";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_model: 16 in the checkpoint, 32 now"), std::string::npos) << e.what();
  }
}

TEST(ResumeRefusal, ALongerRunContinuesWithAWarning) {
  testing::TempDir tmp;
  Config cfg = trained_two_steps(tmp / "run");
  cfg.train.steps = 3;
  const TrainSummary more = train(cfg);
  EXPECT_EQ(more.resumed_from_step, 2);
  EXPECT_EQ(more.losses.size(), 1u);
}

}  // namespace
}  // namespace attnscale::train
