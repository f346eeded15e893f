// The run directory: path resolution, what rank 0 writes, and refusing to mix two runs.
#include <chrono>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/logging.h"
#include "framework/io/run_dir.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// "YYYYmmdd-HHMMSS" (std::regex trips GCC 12's warnings under the sanitizers).
bool is_timestamp(std::string_view text) {
  if (text.size() != 15 || text[8] != '-') return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (i != 8 && (text[i] < '0' || text[i] > '9')) return false;
  return true;
}

// Runs the test inside a scratch directory (run.dir defaults are relative to it) and restores the
// logger's sinks, which prepare_run_dir extends with log.txt.
class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_cwd_ = fs::current_path();
    fs::current_path(scratch_.path());
    sinks_ = logger().sinks();
  }
  void TearDown() override {
    logger().sinks() = sinks_;
    fs::current_path(previous_cwd_);
  }

  TempDir scratch_;
  fs::path previous_cwd_;
  std::vector<spdlog::sink_ptr> sinks_;
  const std::chrono::system_clock::time_point start_ = std::chrono::system_clock::now();
};

TEST_F(RunDirTest, DefaultPathIsNamePlusTimestampAndAgreesForOneStartTime) {
  Config cfg;
  cfg.run.name = "ablation-3";
  const RunDir dir = resolve_run_dir(cfg, start_);
  const std::string root = dir.root.string();
  const std::string prefix = "runs/ablation-3-";
  EXPECT_TRUE(root.starts_with(prefix) && is_timestamp(std::string_view(root).substr(prefix.size()))) << root;
  EXPECT_EQ(resolve_run_dir(cfg, start_).root, dir.root);  // same start time: same directory on every rank
  EXPECT_NE(resolve_run_dir(cfg, start_ + std::chrono::seconds(1)).root, dir.root);
  EXPECT_EQ(dir.config_file, dir.root / "config.yaml");
  EXPECT_EQ(dir.metrics_file, dir.root / "metrics.jsonl");
  EXPECT_EQ(dir.log_file, dir.root / "log.txt");
  EXPECT_EQ(dir.checkpoint_dir, dir.root / "checkpoints");
  cfg.run.dir = "elsewhere/run";
  cfg.checkpoint.dir = "/scratch/ckpt";
  EXPECT_EQ(resolve_run_dir(cfg, start_).root, fs::path("elsewhere/run"));
  EXPECT_EQ(resolve_run_dir(cfg, start_).checkpoint_dir, fs::path("/scratch/ckpt"));
}

TEST_F(RunDirTest, RankZeroWritesTheResolvedConfigAndTheLog) {
  Config cfg;
  cfg.optim.lr = 0.0123;
  cfg.run.dir = "out/run";
  const RunDir other = prepare_run_dir(cfg, 1, start_);
  EXPECT_FALSE(fs::exists(other.root)) << "only rank 0 touches the file system";

  const RunDir dir = prepare_run_dir(cfg, 0, start_);
  EXPECT_FALSE(fs::exists(dir.config_file)) << "config.yaml waits for the checkpoint lock";
  write_run_config(cfg, dir);
  ASSERT_TRUE(fs::is_regular_file(dir.config_file));
  EXPECT_FALSE(fs::exists(fs::path(dir.config_file).concat(".tmp")));
  EXPECT_EQ(to_yaml(load_config(dir.config_file)), to_yaml(cfg));
  LOG_INFO("a line for log.txt");
  logger().flush();
  EXPECT_NE(testing::read_file(dir.log_file).find("[r0] info a line for log.txt"), std::string::npos);
}

TEST_F(RunDirTest, RefusesToMixTwoRunsInOneDirectory) {
  Config cfg;
  cfg.run.dir = "out/run";
  write_run_config(cfg, prepare_run_dir(cfg, 0, start_));
  EXPECT_THROW(prepare_run_dir(cfg, 0, start_), ConfigError);  // a fresh run over an old one
  cfg.train.resume = "auto";
  EXPECT_NO_THROW(prepare_run_dir(cfg, 0, start_));  // continuing it is fine

  Config timestamped;
  prepare_run_dir(timestamped, 0, start_);
  EXPECT_THROW(prepare_run_dir(timestamped, 0, start_), ConfigError);  // same name, same second
}

}  // namespace
}  // namespace attnscale
