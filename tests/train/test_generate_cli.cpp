// `attnscale prepare docs --unit char`, `train` on the character corpus (data.path), `eval` on its
// test split and `generate` from the checkpoint: with and without the cache (the same text), MLA's
// plain and absorbed paths (the same text), and the errors with their exit codes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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

// The generated text: the line before the JSON summary.
std::string text_of(const std::string& output) {
  const size_t json = output.rfind("\n{\"checkpoint\"");
  if (json == std::string::npos) return "<no summary in: " + output + ">";
  const size_t start = output.rfind('\n', json - 1);
  return output.substr(start == std::string::npos ? 0 : start + 1, json - (start == std::string::npos ? 0 : start + 1));
}

class GenerateProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("attnscale_generate_cli_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream csv(dir_ / "chapters.csv");
    csv << "text,label\n";
    for (int i = 0; i < 30; ++i)
      csv << "\"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
             "in want of a wife. Chapter "
          << i << ".\",pp\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string program_ = std::string(ATTNSCALE_BINARY_DIR) + "/bin/attnscale";
  std::filesystem::path dir_;
};

TEST_F(GenerateProgram, TrainsOnCharactersThenDecodesWithAndWithoutTheCache) {
  int code = -1;
  const std::string corpus = (dir_ / "chars.h5").string();
  const std::string prepared = run(program_ + " prepare docs --input " + (dir_ / "chapters.csv").string() +
                                       " --unit char --vocab-size 0 --seed 3 --split 0.8,0.1,0.1 --output " + corpus,
                                   code);
  ASSERT_EQ(code, 0) << prepared;
  const std::string config = std::string(ATTNSCALE_SOURCE_DIR) + "/configs/quickstart.yaml";
  for (const std::string mechanism : {"multi_head", "multi_head_latent"}) {
    const std::string common = " data.path=" + corpus + " attention.mechanism=" + mechanism +
                               " model.d_model=32 model.n_heads=4 data.seq_len=32 data.batch_size=4 train.steps=30 "
                               "train.eval_batches=2 train.threads=1 logging.progress=off run.dir=" +
                               (dir_ / mechanism).string();
    const std::string trained = run(program_ + " train " + config + common + " checkpoint.every=30", code);
    ASSERT_EQ(code, 0) << trained;
    EXPECT_NE(trained.find("training tokens"), std::string::npos) << trained;
    const std::string tested = run(program_ + " eval " + config + common + " data.eval_split=test train.resume=auto", code);
    ASSERT_EQ(code, 0) << tested;

    const std::string generate = program_ + " generate " + config + common + " train.resume=auto --prompt 'It is' --tokens 40";
    const std::string cached = run(generate, code);
    ASSERT_EQ(code, 0) << cached;
    EXPECT_EQ(text_of(cached).rfind("It is", 0), 0u) << cached;
    EXPECT_NE(cached.find("\"new_tokens\": 40"), std::string::npos) << cached;
    const std::string recomputed = run(generate + " --no-cache", code);
    ASSERT_EQ(code, 0) << recomputed;
    EXPECT_EQ(text_of(recomputed), text_of(cached));
    if (mechanism == "multi_head_latent") {
      EXPECT_NE(cached.find("\"cache_elements_per_token_per_layer\": 80"), std::string::npos) << cached;  // 64 + 16
      const std::string plain = run(generate + " --latent-path plain", code);
      ASSERT_EQ(code, 0) << plain;
      EXPECT_EQ(text_of(plain), text_of(cached));
    } else {
      EXPECT_NE(cached.find("\"cache_elements_per_token_per_layer\": 64"), std::string::npos) << cached;  // 2 * 32
    }
  }

  const std::string common = " data.path=" + corpus +
                             " model.d_model=32 data.seq_len=32 data.batch_size=4 train.eval_batches=2 train.threads=1";
  const std::string too_long = run(program_ + " generate " + config + common + " train.resume=auto run.dir=" +
                                       (dir_ / "multi_head").string() + " --prompt 'It' --tokens 600",
                                   code);
  EXPECT_EQ(code, 2) << too_long;
  EXPECT_NE(too_long.find("model.max_seq_len"), std::string::npos) << too_long;
  const std::string no_checkpoint = run(program_ + " generate " + config + common + " --prompt 'It'", code);
  EXPECT_EQ(code, 2) << no_checkpoint;
  EXPECT_NE(no_checkpoint.find("train.resume"), std::string::npos) << no_checkpoint;
  const std::string too_many = run(program_ + " train " + config + common + " train.eval_batches=500", code);
  EXPECT_EQ(code, 2) << too_many;
  EXPECT_NE(too_many.find("train.eval_batches"), std::string::npos) << too_many;
  const std::string missing = run(program_ + " train " + config + " data.path=" + (dir_ / "nope.h5").string(), code);
  EXPECT_EQ(code, 3) << missing;
}

}  // namespace
