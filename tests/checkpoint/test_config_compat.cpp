// Which config changes a resumed run accepts (framework/checkpoint/config.h).
#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/checkpoint/config.h"

namespace attnscale::checkpoint {
namespace {

std::string saved_text() {
  Config cfg;
  cfg.model.d_model = 64;
  return to_yaml(cfg);
}

Config current() {
  Config cfg;
  cfg.model.d_model = 64;
  return cfg;
}

TEST(ConfigCompat, WhereAndHowARunExecutesMayChange) {
  Config cfg = current();
  cfg.run.dir = "elsewhere";
  cfg.train.resume = "auto";
  cfg.train.threads = 3;
  cfg.parallel.dp = 4;
  cfg.checkpoint.every = 7;
  cfg.logging.metrics = false;
  EXPECT_TRUE(check_resumable(saved_text(), cfg, "m").empty());
}

TEST(ConfigCompat, RunLengthAndHyperparametersChangeWithAWarning) {
  Config cfg = current();
  cfg.train.steps = 900;
  cfg.optim.lr = 1e-4;
  const auto warnings = check_resumable(saved_text(), cfg, "m");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("optim.lr: 0.003 in the checkpoint, 0.0001 now"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("train.steps: 500 in the checkpoint, 900 now"), std::string::npos) << warnings[1];
}

// A checkpoint written on one device resumes on the other (and with or without TF32 GEMMs): the
// saved state means the same, but the resumed run is not bit-for-bit the uninterrupted one.
TEST(ConfigCompat, DeviceAndTf32ChangeWithAWarning) {
  Config cfg = current();
  cfg.run.device = config::RunDevice::cuda;
  cfg.run.allow_tf32 = true;
  const auto warnings = check_resumable(saved_text(), cfg, "m");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("run.allow_tf32: false in the checkpoint, true now"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("run.device: cpu in the checkpoint, cuda now"), std::string::npos) << warnings[1];
}

TEST(ConfigCompat, TheModelDataSeedAndOptimizerMustMatch) {
  Config cfg = current();
  cfg.model.d_model = 128;
  cfg.data.seq_len = 64;
  cfg.run.seed = 7;
  cfg.optim.name = config::Optimizer::sgd;
  cfg.train.accum_steps = 2;
  try {
    check_resumable(saved_text(), cfg, "ck/manifest.json");
    FAIL();
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("ck/manifest.json: saved with a different config"), std::string::npos) << message;
    for (const char* key : {"model.d_model: 64 in the checkpoint, 128 now", "data.seq_len:", "run.seed:",
                            "optim.name: adamw in the checkpoint, sgd now", "train.accum_steps:"})
      EXPECT_NE(message.find(key), std::string::npos) << key << "\n" << message;
  }
}

TEST(ConfigCompat, KeysUnknownToOneSideMustMatchToo) {
  const std::string saved = saved_text() + "future:\n  knob: 3\n";
  const ConfigComparison comparison = compare_configs(saved, current(), "m");
  ASSERT_EQ(comparison.refused.size(), 1u);
  EXPECT_EQ(comparison.refused[0].key, "future.knob");
  EXPECT_EQ(comparison.refused[0].current, "(absent)");
  EXPECT_THROW(compare_configs("[not, a, config", current(), "m"), CheckpointError);
}

}  // namespace
}  // namespace attnscale::checkpoint
