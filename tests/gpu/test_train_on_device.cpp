// Training with run.device: cuda against the same run on the CPU (label gpu): a tiny TransformerLM
// (fused attention, RoPE, LayerNorm, dropout, AdamW, gradient clipping; and again with the sparse
// mechanism's sparsemax attention) gives the same first losses and, after one batch, the same
// gradients; metrics.jsonl records peak_device_mem_bytes; a
// checkpoint written on one device resumes on the other. Runs on a GPU, and on the emulated device
// in the emulation build; skips with the reason elsewhere.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/config/test_support.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;

// Tolerances of the CPU vs GPU comparison of a training run. Both devices compute in fp32 and differ
// only in the order of their sums (tree reductions in the softmax, LayerNorm and attention tiles,
// atomics in the embedding backward, GEMM blocking): about 1e-7 relative per op, growing over the
// ~50 ops of a step and through AdamW, which divides each gradient by its own root mean square.
// Measured on the emulated device with this config: the first loss equal, the next ones 2.4e-7 apart
// (9e-8 relative), gradients at most 6e-8 apart (elements of ~1e-2). The tolerances leave 100x
// (losses) and 30x (gradients) for another summation order on a GPU, and still fail on a wrong
// kernel: a dropped mask, a wrong index or a missed scale moves the loss by more than 1e-3.
constexpr double kLossTolerance = 1e-5;  // relative
constexpr Tolerance kGradientTolerance{1e-4, 1e-6};

Config tiny_lm(const fs::path& run_dir, config::RunDevice device) {
  Config cfg;
  cfg.run.dir = run_dir.string();
  cfg.run.device = device;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 2;
  cfg.model.n_heads = 2;
  cfg.model.dropout = 0.1;  // the same Philox masks on both devices
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 17;
  cfg.data.batch_size = 4;
  cfg.data.vocab_size = 16;
  cfg.optim.lr = 1e-2;
  cfg.optim.warmup_steps = 2;
  cfg.optim.grad_clip = 1.0;
  cfg.train.steps = 3;
  cfg.train.log_every = 1;
  cfg.train.eval_batches = 1;
  cfg.train.threads = 1;
  cfg.logging.progress = config::ProgressMode::off;
  cfg.logging.level = config::LogLevel::warn;
  validate(cfg);
  return cfg;
}

train::ParallelContext on(Device device) {
  train::ParallelContext parallel;
  parallel.device = device;
  return parallel;
}

Device device_of(const Config& cfg) { return cfg.run.device == config::RunDevice::cuda ? kGpu : kCpu; }

// A run with its run directory (checkpoints, metrics), as `attnscale train` makes it.
train::TrainSummary train_in_dir(const Config& cfg) {
  const RunDir dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  fs::create_directories(dir.root);
  train::LMTask task(cfg, on(device_of(cfg)));
  EXPECT_EQ(task.model().device(), device_of(cfg));
  train::Trainer trainer(cfg, task, &dir, 0);
  return trainer.run();
}

void expect_close_losses(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "step " << i + 1;
    EXPECT_NEAR(got[i], want[i], kLossTolerance * std::abs(want[i])) << "step " << i + 1;
  }
}

class TrainOnDevice : public DeviceTest {
 protected:
  attnscale::testing::TempDir dir_;
};

// The sparse mechanism with sparsemax weights (sparsemax_attention on the device) over a strided
// block-sparse mask.
Config tiny_sparsemax_lm(const fs::path& run_dir, config::RunDevice device) {
  Config cfg = tiny_lm(run_dir, device);
  cfg.attention.mechanism = "sparse";
  cfg.attention.mask = config::Mask::block_sparse;
  cfg.attention.sparse_pattern = config::SparsePattern::strided;
  cfg.attention.block_size = 4;
  cfg.attention.sparse_stride = 2;
  cfg.attention.normalizer = config::Normalizer::sparsemax;
  validate(cfg);
  return cfg;
}

void expect_same_first_batch(const Config& cfg) {
  train::LMTask cpu_task(cfg, on(kCpu)), gpu_task(cfg, on(kGpu));
  const train::BatchResult cpu = cpu_task.train_batch(0), gpu = gpu_task.train_batch(0);
  EXPECT_EQ(gpu.loss.device(), kGpu);
  EXPECT_NEAR(gpu.loss.item(), cpu.loss.item(), kLossTolerance * std::abs(cpu.loss.item()));
  EXPECT_EQ(gpu.correct, cpu.correct);
  cpu.loss.backward();
  gpu.loss.backward();
  const auto cpu_params = cpu_task.model().named_parameters(), gpu_params = gpu_task.model().named_parameters();
  ASSERT_EQ(cpu_params.size(), gpu_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    SCOPED_TRACE(cpu_params[i].name);
    ASSERT_TRUE(gpu_params[i].tensor.grad().defined());
    EXPECT_EQ(gpu_params[i].tensor.grad().device(), kGpu);
    EXPECT_TRUE(same_values(gpu_params[i].tensor.grad(), cpu_params[i].tensor.grad(), kGradientTolerance));
  }
}

TEST_F(TrainOnDevice, FirstBatchGivesTheSameLossAndGradients) {
  expect_same_first_batch(tiny_lm(dir_ / "unused", config::RunDevice::cpu));
}

TEST_F(TrainOnDevice, SparsemaxMechanismGivesTheSameLossesAndGradients) {
  expect_same_first_batch(tiny_sparsemax_lm(dir_ / "unused", config::RunDevice::cpu));
  const train::TrainSummary cpu = train_in_dir(tiny_sparsemax_lm(dir_ / "cpu", config::RunDevice::cpu));
  const train::TrainSummary gpu = train_in_dir(tiny_sparsemax_lm(dir_ / "gpu", config::RunDevice::cuda));
  expect_close_losses(gpu.losses, cpu.losses);
  EXPECT_NEAR(gpu.final_eval.loss, cpu.final_eval.loss, kLossTolerance * std::abs(cpu.final_eval.loss));
}

TEST_F(TrainOnDevice, SameLossesAsTheCpuAndPeakDeviceMemoryInTheMetrics) {
  const train::TrainSummary cpu = train_in_dir(tiny_lm(dir_ / "cpu", config::RunDevice::cpu));
  const train::TrainSummary gpu = train_in_dir(tiny_lm(dir_ / "gpu", config::RunDevice::cuda));
  expect_close_losses(gpu.losses, cpu.losses);
  EXPECT_NEAR(gpu.final_eval.loss, cpu.final_eval.loss, kLossTolerance * std::abs(cpu.final_eval.loss));

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
  const train::TrainSummary uninterrupted = train_in_dir(cfg);
  fs::remove_all(root / "run" / "checkpoints" / "step_00000004");

  cfg.run.device = to;
  cfg.train.resume = "auto";
  const train::TrainSummary resumed = train_in_dir(cfg);
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
