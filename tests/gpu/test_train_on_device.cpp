// Training with run.device: cuda against the same run on the CPU (label gpu): a tiny TransformerLM
// (fused attention, RoPE, LayerNorm, dropout, AdamW, gradient clipping; and again with the sparse
// mechanism's sparsemax attention) gives the same first losses and, after one batch, the same
// gradients; metrics.jsonl records peak_device_mem_bytes; a checkpoint written on one device
// resumes on the other. Runs on a GPU, and on the emulated device in the emulation build; skips with
// the reason elsewhere. Tolerances: tests/gpu/train_compare.h.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/train/lm_task.h"
#include "tests/config/test_support.h"
#include "tests/gpu/train_compare.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;

Config tiny_lm(const fs::path& run_dir, config::RunDevice device) {
  Config cfg;
  short_quiet_run(cfg, run_dir, device);
  cfg.model.d_model = 16;
  cfg.model.n_layers = 2;
  cfg.model.n_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 17;
  cfg.data.batch_size = 4;
  cfg.data.vocab_size = 16;
  validate(cfg);
  return cfg;
}

// The sparse mechanism with sparsemax weights (sparsemax_attention on the device) over a strided
// block-sparse mask; one layer and two sequences a batch (the emulator runs this kernel's warp dot
// products slowly).
Config tiny_sparsemax_lm(const fs::path& run_dir, config::RunDevice device) {
  Config cfg = tiny_lm(run_dir, device);
  cfg.model.n_layers = 1;
  cfg.data.batch_size = 2;
  cfg.attention.mechanism = "sparse";
  cfg.attention.mask = config::Mask::block_sparse;
  cfg.attention.sparse_pattern = config::SparsePattern::strided;
  cfg.attention.block_size = 4;
  cfg.attention.sparse_stride = 2;
  cfg.attention.normalizer = config::Normalizer::sparsemax;
  validate(cfg);
  return cfg;
}

train::TrainSummary train_lm_in_dir(const Config& cfg) { return train_in_dir<train::LMTask>(cfg); }

class TrainOnDevice : public DeviceTest {
 protected:
  attnscale::testing::TempDir dir_;
};

TEST_F(TrainOnDevice, FirstBatchGivesTheSameLossAndGradients) {
  expect_same_first_batch<train::LMTask>(tiny_lm(dir_ / "unused", config::RunDevice::cpu));
}

TEST_F(TrainOnDevice, SparsemaxMechanismGivesTheSameLossesAndGradients) {
  expect_same_first_batch<train::LMTask>(tiny_sparsemax_lm(dir_ / "unused", config::RunDevice::cpu));
  expect_same_training<train::LMTask>(dir_.path(), tiny_sparsemax_lm);
}

TEST_F(TrainOnDevice, SameLossesAsTheCpuAndPeakDeviceMemoryInTheMetrics) {
  expect_same_training<train::LMTask>(dir_.path(), tiny_lm);

  std::ifstream metrics(dir_ / "gpu" / "metrics.jsonl");
  int64_t records = 0;
  for (std::string line; std::getline(metrics, line);) {
    const auto record = nlohmann::json::parse(line);
    if (!record.contains("loss")) continue;
    ++records;
    ASSERT_TRUE(record.contains("peak_device_mem_bytes")) << line;
    EXPECT_GT(record["peak_device_mem_bytes"].get<int64_t>(), 0) << line;
  }
  EXPECT_EQ(records, 3);
}

// A run of 4 steps on `from` saves at steps 2 and 4; with step 4 forgotten (as if the process had
// died there), it resumes from step 2 on `to`: the resumed steps give the losses the run on `from`
// had (within kLossTolerance: the devices agree that far, as the test above shows).
void expect_resume_across_devices(const fs::path& root, config::RunDevice from, config::RunDevice to) {
  Config cfg = tiny_lm(root / "run", from);
  cfg.train.steps = 4;
  cfg.checkpoint.every = 2;
  cfg.checkpoint.keep = 2;
  const train::TrainSummary uninterrupted = train_lm_in_dir(cfg);
  fs::remove_all(root / "run" / "checkpoints" / "step_00000004");

  cfg.run.device = to;
  cfg.train.resume = "auto";
  const train::TrainSummary resumed = train_lm_in_dir(cfg);
  EXPECT_EQ(resumed.resumed_from_step, 2);
  expect_close_losses(resumed.losses, {uninterrupted.losses.begin() + 2, uninterrupted.losses.end()});
  EXPECT_NEAR(resumed.final_eval.loss, uninterrupted.final_eval.loss,
              kLossTolerance * std::abs(uninterrupted.final_eval.loss));
}

TEST_F(TrainOnDevice, CheckpointFromTheGpuResumesOnTheCpu) {
  expect_resume_across_devices(dir_.path(), config::RunDevice::cuda, config::RunDevice::cpu);
}

TEST_F(TrainOnDevice, CheckpointFromTheCpuResumesOnTheGpu) {
  expect_resume_across_devices(dir_.path(), config::RunDevice::cpu, config::RunDevice::cuda);
}

}  // namespace
}  // namespace attnscale::test
