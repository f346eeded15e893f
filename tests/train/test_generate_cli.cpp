// `attnscale prepare docs --unit char`, `train` on the character corpus (data.path), `eval` on its
// test split and `generate` from the checkpoint: with and without the cache (the same text), MLA's
// plain and absorbed paths (the same text), and the errors with their exit codes.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

// The generated text: stdout's first line (the JSON summary follows it).
std::string text_of(const ProgramResult& r) { return r.out.substr(0, r.out.find('\n')); }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// A character corpus (`prepare docs --unit char`) of `chapters` short chapters in dir/chars.h5.
std::string prepare_char_corpus(const TempDir& dir, int chapters) {
  std::string csv = "text,label\n";
  for (int i = 0; i < chapters; ++i)
    csv += "\"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
           "want of a wife. Chapter " + std::to_string(i) + ".\",pp\n";
  write_file(dir / "chapters.csv", csv);
  const std::string corpus = (dir / "chars.h5").string();
  const ProgramResult prepared = run_attnscale({"prepare", "docs", "--input", (dir / "chapters.csv").string(), "--unit",
                                                "char", "--vocab-size", "0", "--seed", "3", "--split", "0.8,0.1,0.1",
                                                "--output", corpus});
  EXPECT_EQ(prepared.exit_code, 0) << prepared.err;
  return corpus;
}

TEST(GenerateProgram, TrainsOnCharactersThenDecodesWithAndWithoutTheCache) {
  ASSERT_TRUE(std::filesystem::exists(program)) << "build the program first: ninja -C build attnscale_app";
  TempDir dir;
  const std::string corpus = prepare_char_corpus(dir, 30);
  const std::string config = (source_dir / "configs/quickstart.yaml").string();
  const std::vector<std::string> small{"data.path=" + corpus, "model.d_model=32", "model.n_heads=4", "data.seq_len=32",
                                       "data.batch_size=4", "train.eval_batches=2", "train.threads=1",
                                       "logging.progress=off"};
  for (const std::string mechanism : {"multi_head", "multi_head_latent"}) {
    const std::vector<std::string> common =
        with(small, {"attention.mechanism=" + mechanism, "train.steps=30", "run.dir=" + (dir / mechanism).string()});
    const ProgramResult trained = run_attnscale(with({"train", config}, with(common, {"checkpoint.every=30"})));
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    EXPECT_NE(trained.err.find("training tokens"), std::string::npos) << trained.err;
    const ProgramResult tested =
        run_attnscale(with({"eval", config}, with(common, {"data.eval_split=test", "train.resume=auto"})));
    ASSERT_EQ(tested.exit_code, 0) << tested.err;

    const std::vector<std::string> generate =
        with({"generate", config}, with(common, {"train.resume=auto", "--prompt", "It is", "--tokens", "40"}));
    const ProgramResult cached = run_attnscale(generate);
    ASSERT_EQ(cached.exit_code, 0) << cached.err;
    EXPECT_EQ(text_of(cached).rfind("It is", 0), 0u) << cached.out;
    EXPECT_NE(cached.out.find("\"new_tokens\": 40"), std::string::npos) << cached.out;
    const ProgramResult recomputed = run_attnscale(with(generate, {"--no-cache"}));
    ASSERT_EQ(recomputed.exit_code, 0) << recomputed.err;
    EXPECT_EQ(text_of(recomputed), text_of(cached));
    if (mechanism == "multi_head_latent") {
      EXPECT_NE(cached.out.find("\"cache_elements_per_token_per_layer\": 80"), std::string::npos) << cached.out;
      const ProgramResult plain = run_attnscale(with(generate, {"--latent-path", "plain"}));
      ASSERT_EQ(plain.exit_code, 0) << plain.err;
      EXPECT_EQ(text_of(plain), text_of(cached));
    } else {
      EXPECT_NE(cached.out.find("\"cache_elements_per_token_per_layer\": 64"), std::string::npos) << cached.out;
    }
  }

  const ProgramResult too_long = run_attnscale(with({"generate", config}, with(small, {"train.resume=auto",
      "run.dir=" + (dir / "multi_head").string(), "--prompt", "It", "--tokens", "600"})));
  EXPECT_EQ(too_long.exit_code, 2) << too_long.err;
  EXPECT_NE(too_long.err.find("model.max_seq_len"), std::string::npos) << too_long.err;
  const ProgramResult no_checkpoint = run_attnscale(with({"generate", config}, with(small, {"--prompt", "It"})));
  EXPECT_EQ(no_checkpoint.exit_code, 2) << no_checkpoint.err;
  EXPECT_NE(no_checkpoint.err.find("train.resume"), std::string::npos) << no_checkpoint.err;
  const ProgramResult too_many = run_attnscale(with({"train", config}, with(small, {"train.eval_batches=500"})));
  EXPECT_EQ(too_many.exit_code, 2) << too_many.err;
  EXPECT_NE(too_many.err.find("train.eval_batches"), std::string::npos) << too_many.err;
  // Its own run.dir: a run named like the one before, started in the same second, would collide.
  const ProgramResult missing = run_attnscale(
      {"train", config, "data.path=" + (dir / "nope.h5").string(), "run.dir=" + (dir / "missing").string()});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
}

// configs/papers/mla_novels_{mha,gqa,mqa,mla}.yaml as committed (only the data, the batch and the
// step counts shortened): they train, evaluate the test split, and decode caching the number of
// values per token and layer that experiments/mla/README.md reports.
TEST(GenerateProgram, CommittedMlaConfigsTrainAndCacheWhatTheReadmeSays) {
  ASSERT_TRUE(std::filesystem::exists(program)) << "build the program first: ninja -C build attnscale_app";
  TempDir dir;
  const std::string corpus = prepare_char_corpus(dir, 60);
  for (const auto& [scheme, cached_per_token] :
       std::vector<std::pair<std::string, int>>{{"mha", 256}, {"gqa", 64}, {"mqa", 32}, {"mla", 72}}) {
    const std::string config = (source_dir / ("configs/papers/mla_novels_" + scheme + ".yaml")).string();
    const std::vector<std::string> shortened{"data.path=" + corpus, "data.batch_size=2", "train.steps=2",
                                             "train.eval_every=2", "train.eval_batches=1", "checkpoint.every=2",
                                             "run.dir=" + (dir / scheme).string(), "logging.progress=off"};
    const ProgramResult trained = run_attnscale(with({"train", config}, shortened));
    ASSERT_EQ(trained.exit_code, 0) << scheme << ": " << trained.err;
    const ProgramResult tested =
        run_attnscale(with({"eval", config}, with(shortened, {"train.resume=auto", "data.eval_split=test"})));
    ASSERT_EQ(tested.exit_code, 0) << scheme << ": " << tested.err;
    const ProgramResult decoded = run_attnscale(
        with({"generate", config}, with(shortened, {"train.resume=auto", "--prompt", "It is", "--tokens", "8"})));
    ASSERT_EQ(decoded.exit_code, 0) << scheme << ": " << decoded.err;
    EXPECT_NE(decoded.out.find("\"cache_elements_per_token_per_layer\": " + std::to_string(cached_per_token)),
              std::string::npos)
        << scheme << ": " << decoded.out;
  }
}

}  // namespace
}  // namespace attnscale::testing
