// `attnscale eval` loads a run's checkpoint and reproduces the evaluation the run printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::string run(const std::string& command, int& exit_code) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

TEST(EvalCommand, ReproducesTheTrainedModelsEvaluation) {
  const std::string program = std::string(ATTNSCALE_BINARY_DIR) + "/bin/attnscale";
  const std::string config = std::string(ATTNSCALE_SOURCE_DIR) + "/configs/quickstart.yaml";
  const auto dir = std::filesystem::temp_directory_path() / "attnscale_eval_cli_test";
  std::filesystem::remove_all(dir);
  const std::string common = " model.d_model=32 data.seq_len=33 train.steps=20 train.threads=1 logging.progress=off";
  int code = -1;
  const std::string trained = run(program + " train " + config + common + " checkpoint.every=20 run.dir=" +
                                      dir.string(), code);
  ASSERT_EQ(code, 0) << trained;
  const auto at = trained.find("eval at step 20: ");
  ASSERT_NE(at, std::string::npos) << trained;
  const std::string expected = trained.substr(at + 17, trained.find('\n', at) - at - 17);  // "loss L, accuracy A"

  const std::string evaluated = run(program + " eval " + config + common + " train.resume=auto run.dir=" + dir.string(), code);
  ASSERT_EQ(code, 0) << evaluated;
  EXPECT_NE(evaluated.find("(step 20): " + expected), std::string::npos) << expected << "\n" << evaluated;

  const std::string refused = run(program + " eval " + config + common + " train.resume=none", code);
  EXPECT_EQ(code, 2) << refused;
  EXPECT_NE(refused.find("train.resume"), std::string::npos) << refused;
  const std::string missing = run(program + " eval " + config + common + " train.resume=" + (dir / "nope").string(), code);
  EXPECT_EQ(code, 4) << missing;
  std::filesystem::remove_all(dir);
}

}  // namespace
