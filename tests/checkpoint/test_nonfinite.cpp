// Non-finite state and checkpoints: a save refuses NaN and infinity naming the tensor (the previous
// checkpoint stays the newest), verify reports every non-finite tensor (exit 4), retention never
// deletes the newest valid checkpoint for an invalid newer one, and a diverging run stops with
// exit 1 with its last good checkpoint intact.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/manifest.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/select.h"
#include "framework/checkpoint/writer.h"
#include "framework/io/durable_fs.h"
#include "framework/io/sha256.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;
using test_checkpoint::TinyModel;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<std::int64_t> steps_in(const fs::path& root) {
  std::vector<std::int64_t> steps;
  for (const CheckpointEntry& e : list_checkpoints(root)) steps.push_back(e.step);
  return steps;
}

void set_element(Tensor tensor, int64_t index, double value) {
  ATTNSCALE_DISPATCH_FLOAT(tensor.dtype(), "test", [&] { tensor.data<scalar_t>()[index] = static_cast<scalar_t>(value); });
}

// Rewrites a committed checkpoint's model.h5 from `content` and its manifest to match, as a program
// without the refusal (an older attnscale) would have saved it.
void rewrite_model(const fs::path& dir, const Content& content) {
  write_model_file(dir / kModelFile, content);
  Manifest manifest = parse_manifest(read_text_file(dir / kManifestFile), dir / kManifestFile);
  for (ManifestFile& f : manifest.files) {
    const FileDigest digest = sha256_file(dir / f.name);
    f.bytes = digest.bytes;
    f.sha256 = to_hex(digest.sha256);
  }
  write_file_durably(dir / kManifestFile, manifest_to_json(manifest));
}

class NonFinite : public ::testing::Test {
 protected:
  testing::TempDir tmp;
  fs::path root = tmp / "checkpoints";
  TinyModel model{1.0};
  std::unique_ptr<Adam> optimizer = test_checkpoint::make_adam(model);
  CheckpointWriter writer{{root, 1, {}}, nullptr};

  void SetUp() override { test_checkpoint::fill_state(*optimizer, 7.0); }
  Content content(std::int64_t step) const { return test_checkpoint::make_content(model, *optimizer, step); }
  std::string save_error(std::int64_t step) {
    try {
      writer.save(content(step));
    } catch (const RuntimeFailure& e) {
      return e.what();
    }
    return "(saved)";
  }
};

TEST_F(NonFinite, ASaveRefusesNaNOrInfinityNamingTheTensorAndKeepsThePreviousCheckpoint) {
  writer.save(content(1));
  set_element(model.named_parameters()[0].tensor, 3, kInf);  // encoder.weight [6, 5]
  const std::string parameter_error = save_error(2);
  EXPECT_NE(parameter_error.find("saving step 2"), std::string::npos) << parameter_error;
  EXPECT_NE(parameter_error.find("parameter 'encoder.weight' (shape [6, 5]) holds 1 non-finite value(s), the first "
                                 "at flat index 3 = inf: refusing to save a diverged state"),
            std::string::npos)
      << parameter_error;
  EXPECT_NE(parameter_error.find("nothing was committed"), std::string::npos) << parameter_error;

  set_element(model.named_parameters()[0].tensor, 3, 0.0);
  const NamedTensor moment = optimizer->state().back();  // state() returns a new list
  set_element(moment.tensor, 0, std::nan(""));
  const std::string state_error = save_error(2);
  EXPECT_NE(state_error.find("optimizer state '" + moment.name + "'"), std::string::npos) << state_error;
  EXPECT_NE(state_error.find("= nan"), std::string::npos) << state_error;

  EXPECT_EQ(steps_in(root), std::vector<std::int64_t>{1});
  EXPECT_EQ(read_latest(root), root / "step_00000001");
  CheckpointReader(root / "step_00000001").read_everything();
}

TEST_F(NonFinite, VerifyReportsEveryNonFiniteTensorWithExitCode4) {
  const fs::path dir = writer.save(content(1));
  Content diverged = content(1);
  set_element(model.named_parameters()[0].tensor, 2, kInf);
  set_element(model.named_parameters()[2].tensor, 0, std::nan(""));  // head.proj.weight, f64
  rewrite_model(dir, diverged);
  const CheckpointReader reader(dir);  // hashes match: only reading the tensors finds it
  try {
    reader.read_everything();
    FAIL() << "a checkpoint holding inf and NaN verified";
  } catch (const CheckpointError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.h5: 2 tensor(s) hold NaN or infinity"), std::string::npos) << what;
    EXPECT_NE(what.find("'params/encoder.weight' (shape [6, 5]) holds 1 non-finite value(s), the first at flat index 2 "
                        "= inf"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("'params/head.proj.weight'"), std::string::npos) << what;
  }
  const testing::ProgramResult verify = testing::run_attnscale({"checkpoint", "verify", root.string()});
  EXPECT_EQ(verify.exit_code, 4) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("FAILED"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("NaN or infinity"), std::string::npos) << verify.out;
}

TEST_F(NonFinite, RetentionKeepsTheNewestValidCheckpointWhenANewerOneIsInvalid) {
  CheckpointWriter keep_all({root, 10, {}}, nullptr);
  for (std::int64_t step = 1; step <= 3; ++step) keep_all.save(content(step));
  fs::remove(root / "step_00000003" / kModelFile);  // damaged: its manifest lists a missing file
  const std::vector<fs::path> deleted = prune_checkpoints(root, 1, 3);
  EXPECT_EQ(deleted, std::vector<fs::path>{root / "step_00000001"});
  EXPECT_EQ(steps_in(root), (std::vector<std::int64_t>{2, 3}));
  std::vector<std::string> skipped;
  EXPECT_EQ(newest_valid_checkpoint(root, skipped)->manifest().step, 2);
}

// The reproduction: a run that diverges (sgd, lr 1e300, no clipping) after a good
// checkpoint stops with exit 1 naming the tensor, and the good checkpoint is still there and valid
// with checkpoint.keep = 1.
TEST(NonFiniteRun, ADivergedRunStopsAndItsLastGoodCheckpointSurvives) {
  testing::TempDir tmp;
  const std::vector<std::string> base = {"train",
                                         (testing::source_dir / "configs" / "quickstart.yaml").string(),
                                         "run.dir=" + (tmp / "run").string(),
                                         "model.d_model=16",
                                         "model.n_layers=1",
                                         "model.n_heads=2",
                                         "data.seq_len=16",
                                         "data.batch_size=4",
                                         "data.vocab_size=16",
                                         "optim.name=sgd",
                                         "optim.grad_clip=0",
                                         "optim.warmup_steps=0",
                                         "train.eval_batches=1",
                                         "train.threads=1",
                                         "checkpoint.every=1",
                                         "checkpoint.keep=1",
                                         "logging.progress=off"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_attnscale(args);
  };
  const testing::ProgramResult good = with({"train.steps=2"});
  ASSERT_EQ(good.exit_code, 0) << good.err;
  const fs::path checkpoints = tmp / "run" / "checkpoints";
  ASSERT_EQ(steps_in(checkpoints), std::vector<std::int64_t>{2});

  const testing::ProgramResult diverged = with({"train.steps=4", "train.resume=auto", "optim.lr=1e300"});
  EXPECT_EQ(diverged.exit_code, 1) << diverged.err;
  EXPECT_NE(diverged.err.find("saving step 3"), std::string::npos) << diverged.err;
  EXPECT_NE(diverged.err.find("holds"), std::string::npos) << diverged.err;
  EXPECT_NE(diverged.err.find("refusing to save a diverged state"), std::string::npos) << diverged.err;
  EXPECT_EQ(steps_in(checkpoints), std::vector<std::int64_t>{2});
  const testing::ProgramResult verify = testing::run_attnscale({"checkpoint", "verify", checkpoints.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace attnscale::checkpoint
