// The checkpoint features through the program, in separate processes: kills at every step of a
// save, damaged checkpoints refused with exit code 4, inspect and verify, and files that h5py and
// h5dump read.
#include <gtest/gtest.h>

#include <cstdlib>
#include <tuple>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "framework/checkpoint/fault.h"
#include "framework/io/hdf5.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;
using testing::ProgramResult;
using testing::run_attnscale;

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

ProgramResult train(const fs::path& run_dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"train",
                                   (testing::source_dir / "configs" / "quickstart.yaml").string(),
                                   "run.dir=" + run_dir.string(),
                                   "model.d_model=16",
                                   "model.n_layers=1",
                                   "model.n_heads=2",
                                   "model.dropout=0.1",
                                   "data.seq_len=16",
                                   "data.batch_size=4",
                                   "data.vocab_size=16",
                                   "data.num_pairs=3",
                                   "optim.warmup_steps=1",
                                   "train.steps=4",
                                   "train.log_every=1",
                                   "train.eval_batches=1",
                                   "train.threads=1",
                                   "checkpoint.every=2",
                                   "checkpoint.keep=1",
                                   "logging.progress=off"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_attnscale(args);
}

std::string file_hash(const fs::path& checkpoint, const std::string& file) {
  const auto manifest = nlohmann::json::parse(testing::read_file(checkpoint / "manifest.json"));
  for (const auto& f : manifest["files"])
    if (f["name"] == file) return f["sha256"];
  return "";
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::program)) << "build the program first: ninja -C build attnscale_app";
  }
  testing::TempDir tmp;
};

// A SIGKILL at any step of a save leaves a loadable newest committed checkpoint, and the resumed
// run ends in the same state as one that never died.
TEST_F(Cli, AKillAtAnyStepOfASaveLeavesAResumableCheckpoint) {
  const ProgramResult reference = train(tmp / "reference");
  ASSERT_EQ(reference.exit_code, 0) << reference.err << reference.out;
  const fs::path reference_final = tmp / "reference" / "checkpoints" / "step_00000004";

  using checkpoint::SavePoint;
  for (const SavePoint point : {SavePoint::started, SavePoint::model_written, SavePoint::ranks_written,
                                SavePoint::manifest_written, SavePoint::committed, SavePoint::latest_updated,
                                SavePoint::pruned}) {
    const std::string name(checkpoint::save_point_name(point));
    SCOPED_TRACE(name);
    const fs::path run = tmp / name;
    {
      const ScopedEnv fault("ATTNSCALE_CHECKPOINT_FAULT", name + ":kill:0:2");  // the save of step 4
      const ProgramResult killed = train(run);
      // The shell that runs the program reports a SIGKILL as 128 + 9.
      ASSERT_TRUE(killed.exit_code == 137 || killed.exit_code == -1) << "not killed: " << killed.err << killed.out;
    }
    const bool committed = point >= SavePoint::committed;
    const ProgramResult verified = run_attnscale({"checkpoint", "verify", (run / "checkpoints").string()});
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    EXPECT_NE(verified.out.find(committed ? "step_00000004 (step 4" : "step_00000002 (step 2"), std::string::npos)
        << verified.out;

    const ProgramResult resumed = train(run, {"train.resume=auto"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err << resumed.out;
    const std::string log = resumed.out + resumed.err;
    EXPECT_NE(log.find(committed ? "at step 4" : "at step 2"), std::string::npos) << log;
    const fs::path final_dir = run / "checkpoints" / "step_00000004";
    EXPECT_EQ(file_hash(final_dir, "model.h5"), file_hash(reference_final, "model.h5"));
    EXPECT_EQ(file_hash(final_dir, "ranks.h5"), file_hash(reference_final, "ranks.h5"));
  }
}

TEST_F(Cli, DamagedCheckpointsAreRefusedWithExitCode4NamingTheFile) {
  ASSERT_EQ(train(tmp / "run", {"train.steps=2"}).exit_code, 0);
  const fs::path good = tmp / "run" / "checkpoints" / "step_00000002";
  struct Damage {
    std::string name;
    std::function<void(const fs::path&)> apply;
    std::string expected;  // in the message, after the directory
  };
  const std::vector<Damage> damages = {
      {"flipped_byte",
       [](const fs::path& dir) {
         std::string bytes = testing::read_file(dir / "model.h5");
         bytes[bytes.size() / 2] ^= 0x01;
         testing::write_file(dir / "model.h5", bytes);
       },
       "model.h5: corrupt (SHA-256"},
      {"truncated", [](const fs::path& dir) { fs::resize_file(dir / "ranks.h5", 100); },
       "ranks.h5: truncated (100 bytes"},
      {"missing_file", [](const fs::path& dir) { fs::remove(dir / "metrics.jsonl"); }, "metrics.jsonl: missing file"},
      {"missing_manifest", [](const fs::path& dir) { fs::remove(dir / "manifest.json"); }, "manifest.json: missing"},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    const fs::path dir = tmp / damage.name / "step_00000002";
    fs::create_directories(dir.parent_path());
    fs::copy(good, dir);
    damage.apply(dir);
    const ProgramResult verified = run_attnscale({"checkpoint", "verify", dir.string()});
    EXPECT_EQ(verified.exit_code, 4);
    EXPECT_NE(verified.err.find(dir.string() + "/" + damage.expected), std::string::npos) << verified.err;
    const ProgramResult resumed =
        train(tmp / (damage.name + "_run"), {"train.steps=3", "train.resume=" + dir.string()});
    EXPECT_EQ(resumed.exit_code, 4) << resumed.out;
    EXPECT_NE(resumed.err.find(damage.expected), std::string::npos) << resumed.err;
  }
}

// Resume and pruning go by the step in a directory's name: swapped names are caught by verify
// (exit 4) and by resume, which names both instead of loading the wrong step.
TEST_F(Cli, ADirectoryNamedForAnotherStepIsRefused) {
  ASSERT_EQ(train(tmp / "run", {"checkpoint.keep=2"}).exit_code, 0);
  const fs::path root = tmp / "run" / "checkpoints";
  fs::rename(root / "step_00000002", root / "swap");
  fs::rename(root / "step_00000004", root / "step_00000002");
  fs::rename(root / "swap", root / "step_00000004");
  for (const auto& [dir, named, saved] : {std::tuple{"step_00000002", 2, 4}, std::tuple{"step_00000004", 4, 2}}) {
    const ProgramResult verified = run_attnscale({"checkpoint", "verify", (root / dir).string()});
    EXPECT_EQ(verified.exit_code, 4) << verified.out;
    EXPECT_NE(verified.err.find(fmt::format("{}: the directory is named for step {}, but its manifest says step {}",
                                            (root / dir).string(), named, saved)),
              std::string::npos)
        << verified.err;
  }
  const ProgramResult all = run_attnscale({"checkpoint", "verify", root.string()});
  EXPECT_EQ(all.exit_code, 4) << all.out;
  const ProgramResult resumed = train(tmp / "run", {"train.steps=6", "train.resume=auto"});
  EXPECT_EQ(resumed.exit_code, 4) << resumed.out;
  EXPECT_NE(resumed.err.find("none of its 2 checkpoints is valid"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("the directory is named for step 4, but its manifest says step 2"), std::string::npos)
      << resumed.err;
}

TEST_F(Cli, InspectPrintsManifestTensorsAndRanks) {
  ASSERT_EQ(train(tmp / "run").exit_code, 0);
  const fs::path checkpoints = tmp / "run" / "checkpoints";
  const ProgramResult inspected = run_attnscale({"checkpoint", "inspect", checkpoints.string(), "--config"});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  for (const std::string& expected :
       {std::string("latest = step_00000004"), std::string("step 4, format 1"), std::string("dp 1 x cp 1"),
        "sha256 " + file_hash(checkpoints / "step_00000004", "model.h5"), std::string("embed.weight"),
        std::string("float32  [16, 16]"), std::string("adam.v/blocks.0.mlp.fc1.weight"),
        std::string("rank 0: data cursor 4, dropout (seed 1236, offset"), std::string("d_model: 16")})
    EXPECT_NE(inspected.out.find(expected), std::string::npos) << expected << "\n" << inspected.out;
  EXPECT_EQ(run_attnscale({"checkpoint", "verify", checkpoints.string()}).exit_code, 0);
  EXPECT_EQ(run_attnscale({"checkpoint", "verify", (tmp / "nowhere").string()}).exit_code, 4);
  EXPECT_EQ(run_attnscale({"checkpoint", "inspect", (tmp / "nowhere").string()}).exit_code, 4);
}

TEST_F(Cli, H5pyAndH5dumpReadTheTensors) {
  ASSERT_EQ(train(tmp / "run", {"train.steps=2"}).exit_code, 0);
  const fs::path model = tmp / "run" / "checkpoints" / "step_00000002" / "model.h5";
  const Tensor weight = h5::File::open_read(model).read_tensor("params/blocks.0.mlp.fc1.weight");
  const std::string expected(reinterpret_cast<const char*>(weight.data<float>()),
                             static_cast<std::size_t>(weight.numel()) * sizeof(float));

  const std::string h5dump_out = (tmp / "h5dump.bin").string();
  const std::string h5dump = "h5dump -d /params/blocks.0.mlp.fc1.weight -b LE -o " + testing::shell_quote(h5dump_out) +
                             " " + testing::shell_quote(model.string()) + " >/dev/null 2>&1";
  if (std::system("command -v h5dump >/dev/null 2>&1") == 0) {
    ASSERT_EQ(std::system(h5dump.c_str()), 0);
    EXPECT_TRUE(testing::read_file(h5dump_out) == expected) << "h5dump read other bytes";
  }

  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 has no h5py (scripts/install-deps.sh installs python3-h5py)";
  const std::string python_out = (tmp / "h5py.bin").string();
  const std::string python = "/usr/bin/python3 -c \"import h5py, sys; f = h5py.File(sys.argv[1], 'r'); "
                             "open(sys.argv[2], 'wb').write(f['params/blocks.0.mlp.fc1.weight'][()].astype('<f4').tobytes()); "
                             "assert f['optimizer/adam.step/embed.weight'][()] == 2; assert f.attrs['step'] == 2\" " +
                             testing::shell_quote(model.string()) + " " + testing::shell_quote(python_out);
  ASSERT_EQ(std::system(python.c_str()), 0);
  EXPECT_TRUE(testing::read_file(python_out) == expected) << "h5py read other bytes";
}

}  // namespace
}  // namespace attnscale
