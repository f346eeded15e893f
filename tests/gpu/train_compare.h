// A training run on the device against the same run on the CPU (label gpu): the helpers of
// tests/gpu/test_train_on_device.cpp (TransformerLM) and test_han_on_device.cpp (HAN).
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <vector>

#include "framework/config/config.h"
#include "framework/io/run_dir.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"
#include "framework/train/trainer.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {

// Tolerances of the CPU vs GPU comparison of a training run. Both devices compute in fp32 and differ
// only in the order of their sums (tree reductions in the softmax, LayerNorm and attention tiles,
// atomics in the embedding backward, GEMM blocking): about 1e-7 relative per op, growing over the
// ~50 ops of a step and through AdamW, which divides each gradient by its own root mean square.
// Measured on the emulated device with the TransformerLM of test_train_on_device.cpp: the first
// loss equal, the next ones 2.4e-7 apart (9e-8 relative), gradients at most 6e-8 apart (elements of
// ~1e-2). The tolerances leave 100x (losses) and 30x (gradients) for another summation order on a
// GPU, and still fail on a wrong kernel: a dropped mask, a wrong index or a missed scale moves the
// loss by more than 1e-3.
inline constexpr double kLossTolerance = 1e-5;  // relative
inline constexpr Tolerance kGradientTolerance{1e-4, 1e-6};

// The small-run keys both models' test configs share: 3 steps logged each, one eval batch, one
// thread, quiet.
inline void short_quiet_run(Config& cfg, const std::filesystem::path& run_dir, config::RunDevice device) {
  cfg.run.dir = run_dir.string();
  cfg.run.device = device;
  cfg.model.dropout = 0.1;  // the same Philox masks on both devices
  cfg.optim.lr = 1e-2;
  cfg.optim.warmup_steps = 2;
  cfg.optim.grad_clip = 1.0;
  cfg.train.steps = 3;
  cfg.train.log_every = 1;
  cfg.train.eval_batches = 1;
  cfg.train.threads = 1;
  cfg.logging.progress = config::ProgressMode::off;
  cfg.logging.level = config::LogLevel::warn;
}

inline train::ParallelContext on(Device device) {
  train::ParallelContext parallel;
  parallel.device = device;
  return parallel;
}

inline Device device_of(const Config& cfg) { return cfg.run.device == config::RunDevice::cuda ? kGpu : kCpu; }

// A run of Task with its run directory (checkpoints, metrics), as `attnscale train` makes it.
template <typename Task>
train::TrainSummary train_in_dir(const Config& cfg) {
  const RunDir dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  std::filesystem::create_directories(dir.root);
  Task task(cfg, on(device_of(cfg)));
  EXPECT_EQ(task.model().device(), device_of(cfg));
  train::Trainer trainer(cfg, task, &dir, 0);
  return trainer.run();
}

inline void expect_close_losses(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "step " << i + 1;
    EXPECT_NEAR(got[i], want[i], kLossTolerance * std::abs(want[i])) << "step " << i + 1;
  }
}

// Task's first training batch on the CPU and on the device: the same loss and accuracy, and after
// the backward the same gradient of every parameter, kept on the device.
template <typename Task>
void expect_same_first_batch(const Config& cfg) {
  Task cpu_task(cfg, on(kCpu)), gpu_task(cfg, on(kGpu));
  ASSERT_EQ(gpu_task.model().device(), kGpu);
  const train::BatchResult cpu = cpu_task.train_batch(0), gpu = gpu_task.train_batch(0);
  EXPECT_EQ(gpu.loss.device(), kGpu);
  ASSERT_TRUE(std::isfinite(gpu.loss.item()));
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

// Three steps and the final evaluation of `make(run_dir, device)` on each device give the same losses.
template <typename Task, typename MakeConfig>
void expect_same_training(const std::filesystem::path& root, MakeConfig make) {
  const train::TrainSummary cpu = train_in_dir<Task>(make(root / "cpu", config::RunDevice::cpu));
  const train::TrainSummary gpu = train_in_dir<Task>(make(root / "gpu", config::RunDevice::cuda));
  expect_close_losses(gpu.losses, cpu.losses);
  EXPECT_NEAR(gpu.final_eval.loss, cpu.final_eval.loss, kLossTolerance * std::abs(cpu.final_eval.loss));
}

}  // namespace attnscale::test
