// model.dtype bf16 end to end: training follows the float32 loss curve, float32 masters make a
// resume bit-exact, and checkpoints move between bf16 and float32 runs in both directions.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <string>

#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"
#include "tests/train/small_copy_config.h"

namespace attnscale::train {
namespace {

namespace fs = std::filesystem;

struct Trained {
  TrainSummary summary;
  NamedTensors parameters;  // the model's, after the run
};

Trained train(const Config& cfg, bool with_run_dir = true) {
  LMTask task(cfg);
  std::optional<RunDir> dir;
  if (with_run_dir) {
    dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
    fs::create_directories(dir->root);
  }
  Trainer trainer(cfg, task, dir ? &*dir : nullptr, 0);
  Trained run{trainer.run(), {}};
  run.parameters = task.model().named_parameters();
  return run;
}

std::vector<std::uint64_t> bits(const std::vector<double>& values) {
  std::vector<std::uint64_t> out;
  for (const double v : values) out.push_back(std::bit_cast<std::uint64_t>(v));
  return out;
}

Config copy_task(config::ModelDType dtype) {
  Config cfg = small_copy_config();
  cfg.model.dtype = dtype;
  validate(cfg);
  return cfg;
}

// The stated tolerance: over the run, the bf16 loss stays within 0.1 + 10% of the float32 loss at
// every step and ends within 0.05; held-out accuracy within 0.02 of float32's.
TEST(Bf16Training, FollowsTheFloat32LossCurve) {
  const Trained fp32 = train(copy_task(config::ModelDType::fp32), false);
  const Trained bf16 = train(copy_task(config::ModelDType::bf16), false);
  ASSERT_EQ(fp32.summary.losses.size(), bf16.summary.losses.size());
  for (size_t i = 0; i < fp32.summary.losses.size(); ++i) {
    const double a = fp32.summary.losses[i], b = bf16.summary.losses[i];
    ASSERT_TRUE(std::isfinite(b)) << "step " << i + 1;
    EXPECT_LE(std::fabs(a - b), 0.1 + 0.1 * a) << "step " << i + 1 << ": float32 " << a << ", bf16 " << b;
  }
  EXPECT_NEAR(bf16.summary.last_loss, fp32.summary.last_loss, 0.05);
  EXPECT_NEAR(bf16.summary.final_eval.accuracy, fp32.summary.final_eval.accuracy, 0.02);
  EXPECT_GE(bf16.summary.final_eval.accuracy, 0.9);  // it learned the task, not only tracked a plateau
  // The model's parameters are bf16 storage; the first step already differs from float32's.
  EXPECT_EQ(bf16.parameters[0].tensor.dtype(), DType::bf16);
  EXPECT_NE(bits(bf16.summary.losses), bits(fp32.summary.losses));
}

Config tiny(const fs::path& run_dir, config::ModelDType dtype) {
  Config cfg = test_checkpoint::tiny_lm_config(run_dir);
  cfg.model.dtype = dtype;
  cfg.train.accum_steps = 2;  // gradients of two micro-batches meet in the float32 masters
  validate(cfg);
  return cfg;
}

TEST(Bf16Training, ResumesBitExactlyFromFloat32Masters) {
  testing::TempDir tmp;
  Config straight = tiny(tmp / "straight", config::ModelDType::bf16);
  straight.checkpoint.every = 8;
  const Trained reference = train(straight);
  ASSERT_EQ(reference.summary.losses.size(), 8u);

  Config interrupted = tiny(tmp / "interrupted", config::ModelDType::bf16);
  interrupted.checkpoint.every = 4;
  train(interrupted);
  fs::remove_all(tmp / "interrupted" / "checkpoints" / "step_00000008");
  interrupted.train.resume = "auto";
  const Trained resumed = train(interrupted);
  EXPECT_EQ(resumed.summary.resumed_from_step, 4);
  const std::vector<double> tail(reference.summary.losses.begin() + 4, reference.summary.losses.end());
  EXPECT_EQ(bits(resumed.summary.losses), bits(tail));
  for (size_t i = 0; i < reference.parameters.size(); ++i)
    EXPECT_EQ(resumed.parameters[i].tensor.to_vector<float>(), reference.parameters[i].tensor.to_vector<float>())
        << reference.parameters[i].name;

  // The checkpoint holds float32 masters: not the bf16 values the model computes with.
  const checkpoint::CheckpointReader reader(tmp / "straight" / "checkpoints" / "step_00000008");
  const NamedTensors saved = reader.read_group(checkpoint::kParamsGroup);
  ASSERT_EQ(saved.size(), reference.parameters.size());
  bool any_finer_than_bf16 = false;
  for (const NamedTensor& p : saved) {
    EXPECT_EQ(p.tensor.dtype(), DType::f32) << p.name;
    any_finer_than_bf16 |= p.tensor.to(DType::bf16).to_vector<float>() != p.tensor.to_vector<float>();
  }
  EXPECT_TRUE(any_finer_than_bf16) << "the saved parameters look like bf16 copies, not float32 masters";
}

// Resumes `from`'s last checkpoint with `dtype` and no step left to train: the model as loaded.
Trained load_as(Config cfg, config::ModelDType dtype) {
  cfg.model.dtype = dtype;
  cfg.train.resume = "auto";
  validate(cfg);
  return train(cfg);
}

TEST(Bf16Training, CheckpointsMoveBetweenBf16AndFloat32Runs) {
  for (const auto& [saved_as, loaded_as] : {std::pair{config::ModelDType::bf16, config::ModelDType::fp32},
                                           std::pair{config::ModelDType::fp32, config::ModelDType::bf16}}) {
    SCOPED_TRACE(std::string(config::to_string(saved_as)) + " checkpoint into a " +
                 std::string(config::to_string(loaded_as)) + " run");
    testing::TempDir tmp;
    Config cfg = tiny(tmp / "run", saved_as);
    cfg.train.steps = 3;
    cfg.checkpoint.every = 3;
    train(cfg);
    const checkpoint::CheckpointReader reader(tmp / "run" / "checkpoints" / "step_00000003");
    std::map<std::string, Tensor> saved;  // the checkpoint's float32 parameters by name
    for (const NamedTensor& p : reader.read_group(checkpoint::kParamsGroup)) saved[p.name] = p.tensor;
    const Trained loaded = load_as(cfg, loaded_as);
    EXPECT_EQ(loaded.summary.resumed_from_step, 3);
    ASSERT_EQ(loaded.parameters.size(), saved.size());
    const DType model_dtype = loaded_as == config::ModelDType::bf16 ? DType::bf16 : DType::f32;
    for (const NamedTensor& p : loaded.parameters) {
      ASSERT_TRUE(saved.contains(p.name)) << p.name;
      EXPECT_EQ(saved[p.name].dtype(), DType::f32) << p.name;
      EXPECT_EQ(p.tensor.dtype(), model_dtype) << p.name;
      // float32: the masters exactly; bf16: the masters rounded to nearest even.
      EXPECT_EQ(p.tensor.to_vector<float>(), saved[p.name].to(model_dtype).to_vector<float>()) << p.name;
    }
  }
}

TEST(Bf16Training, ConfigRefusesWhatIsNotBuilt) {
  Config cfg = copy_task(config::ModelDType::bf16);
  cfg.run.device = config::RunDevice::cuda;
  EXPECT_THROW(validate(cfg), ConfigError);
  cfg = copy_task(config::ModelDType::bf16);
  cfg.model.type = config::ModelType::seq2seq;
  EXPECT_THROW(validate(cfg), ConfigError);
}

}  // namespace
}  // namespace attnscale::train
