// The Hierarchical Attention Network with run.device: cuda against the same run on the CPU (label
// gpu): word embeddings, the bidirectional GRU over padded sentences (step masks on the device),
// attention / average / max pooling, the GRU or Transformer sentence encoder (fused attention with
// key padding), word and document dropout, AdamW. The first batch gives the same loss and the same
// gradient of every parameter; three training steps give the same losses. Runs on a GPU, and on the
// emulated device in the emulation build; skips with the reason elsewhere.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "framework/train/han_task.h"
#include "framework/train/trainer.h"
#include "tests/config/test_support.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;

// As tests/gpu/test_train_on_device.cpp: the devices differ in the order of their sums only.
constexpr double kLossTolerance = 1e-5;  // relative
constexpr Tolerance kGradientTolerance{1e-4, 1e-6};

Config tiny_han(const fs::path& run_dir, config::RunDevice device, config::SentenceEncoder encoder,
                config::HanPooling pooling) {
  Config cfg;
  cfg.run.dir = run_dir.string();
  cfg.run.device = device;
  cfg.model.type = config::ModelType::han;
  cfg.model.d_model = 8;  // GRU hidden size per direction: sentence vectors of 16
  cfg.model.n_heads = 1;
  cfg.model.dropout = 0.1;  // the same Philox masks on both devices
  cfg.attention.mechanism = "hierarchical";
  cfg.han.pooling = pooling;
  cfg.han.sentence_encoder = encoder;
  cfg.han.sentence_heads = 2;
  cfg.han.num_classes = 3;
  cfg.han.train_docs = 24;
  cfg.han.eval_docs = 6;
  cfg.han.synth_min_sentences = 2;  // ragged documents and sentences: padding on both levels
  cfg.han.synth_max_sentences = 5;
  cfg.han.synth_min_words = 2;
  cfg.han.synth_max_words = 6;
  cfg.data.vocab_size = 24;
  cfg.data.batch_size = 4;
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

train::TrainSummary train_in_dir(const Config& cfg) {
  const RunDir dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  fs::create_directories(dir.root);
  const Device device = cfg.run.device == config::RunDevice::cuda ? kGpu : kCpu;
  train::HanTask task(cfg, on(device));
  EXPECT_EQ(task.model().device(), device);
  train::Trainer trainer(cfg, task, &dir, 0);
  return trainer.run();
}

struct HanCase {
  config::SentenceEncoder encoder;
  config::HanPooling pooling;
};

class HanOnDevice : public DeviceTest, public ::testing::WithParamInterface<HanCase> {
 protected:
  attnscale::testing::TempDir dir_;
};

TEST_P(HanOnDevice, SameLossesAndGradientsAsTheCpu) {
  const auto [encoder, pooling] = GetParam();
  const Config cfg = tiny_han(dir_ / "unused", config::RunDevice::cpu, encoder, pooling);
  train::HanTask cpu_task(cfg, on(kCpu)), gpu_task(cfg, on(kGpu));
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

  const train::TrainSummary cpu_run = train_in_dir(tiny_han(dir_ / "cpu", config::RunDevice::cpu, encoder, pooling));
  const train::TrainSummary gpu_run = train_in_dir(tiny_han(dir_ / "gpu", config::RunDevice::cuda, encoder, pooling));
  ASSERT_EQ(gpu_run.losses.size(), cpu_run.losses.size());
  for (size_t i = 0; i < cpu_run.losses.size(); ++i) {
    ASSERT_TRUE(std::isfinite(gpu_run.losses[i])) << "step " << i + 1;
    EXPECT_NEAR(gpu_run.losses[i], cpu_run.losses[i], kLossTolerance * std::abs(cpu_run.losses[i])) << "step " << i + 1;
  }
  EXPECT_NEAR(gpu_run.final_eval.loss, cpu_run.final_eval.loss, kLossTolerance * std::abs(cpu_run.final_eval.loss));
}

INSTANTIATE_TEST_SUITE_P(
    EncodersAndPoolings, HanOnDevice,
    ::testing::Values(HanCase{config::SentenceEncoder::gru, config::HanPooling::attention},
                      HanCase{config::SentenceEncoder::transformer, config::HanPooling::max},
                      HanCase{config::SentenceEncoder::none, config::HanPooling::average}),
    [](const ::testing::TestParamInfo<HanCase>& info) {
      return std::string(config::to_string(info.param.encoder)) + "_" + std::string(config::to_string(info.param.pooling));
    });

}  // namespace
}  // namespace attnscale::test
