// One writer per checkpoint directory: the lock in-process (flock and the exclusive-file fallback,
// with stale detection), and through the program: a second run on a directory another run holds
// is refused with exit code 4 naming the holder (fresh + fresh, and resume=auto + resume=auto),
// the holder goes on unharmed, and the lock is free again once the holder is gone, even by SIGKILL.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/lock.h"
#include "tests/config/test_support.h"

extern char** environ;

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

std::string lock_error(const fs::path& dir, const LockHolder& holder, LockMethod method) {
  try {
    CheckpointDirLock second(dir, holder, method);
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::checkpoint);
    return e.what();
  }
  return "(not refused)";
}

// A pid that no process has: a child that has exited and been reaped.
long dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

TEST(CheckpointLock, ASecondHolderIsRefusedNamingTheFirstUntilItReleases) {
  for (const LockMethod method : {LockMethod::automatic, LockMethod::exclusive_file}) {
    testing::TempDir tmp;
    const fs::path dir = tmp / "checkpoints";
    const LockHolder first = this_process(tmp / "run_a");
    {
      const CheckpointDirLock lock(dir, first, method);
      EXPECT_EQ(lock.uses_flock(), method == LockMethod::automatic);
      const std::string what = lock_error(dir, this_process(tmp / "run_b"), method);
      EXPECT_NE(what.find(fmt::format("[checkpoint] {} is in use by another run (host {}, pid {}, run directory {})",
                                      dir.string(), first.host, first.pid, first.run_dir)),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("give this one its own checkpoint.dir"), std::string::npos) << what;
    }
    EXPECT_NO_THROW(CheckpointDirLock(dir, this_process(tmp / "run_b"), method));
    EXPECT_FALSE(fs::exists(dir / kHeldFile)) << "the fallback's file outlived its lock";
  }
}

TEST(CheckpointLock, TheFallbackTakesOverAFileLeftByADeadProcessOnThisHost) {
  testing::TempDir tmp;
  const fs::path dir = tmp / "checkpoints";
  LockHolder dead = this_process(tmp / "crashed");
  dead.pid = dead_pid();
  testing::write_file(dir / kHeldFile, fmt::format("{} {} {}\n", dead.host, dead.pid, dead.run_dir));
  EXPECT_NO_THROW(CheckpointDirLock(dir, this_process(tmp / "run"), LockMethod::exclusive_file));

  // Another host's holder cannot be checked from here: refused, with how to remove it by hand.
  testing::write_file(dir / kHeldFile, fmt::format("node-17 {} /scratch/run with spaces\n", dead.pid));
  const std::string what = lock_error(dir, this_process(tmp / "run"), LockMethod::exclusive_file);
  EXPECT_NE(what.find(fmt::format("(host node-17, pid {}, run directory /scratch/run with spaces)", dead.pid)),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("remove " + (dir / kHeldFile).string()), std::string::npos) << what;
}

// ---- through the program ---------------------------------------------------------------------

// `attnscale train` started in the background, its output in files.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args, const fs::path& log) : log_(log) {
    std::vector<std::string> argv_text = {testing::program.string()};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) kill_now();
  }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  void kill_now() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits until `file` exists and contains `text` (up to a minute).
  bool wait_for(const fs::path& file, const std::string& text) const {
    for (int i = 0; i < 600; ++i) {
      if (testing::read_file(file).find(text) != std::string::npos) return true;
      if (!running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string output() const { return testing::read_file(log_); }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

std::vector<std::string> train_args(const fs::path& run_dir, const fs::path& checkpoint_dir, const std::string& steps,
                                    const std::string& resume) {
  return {"train",
          (testing::source_dir / "configs" / "quickstart.yaml").string(),
          "run.dir=" + run_dir.string(),
          "checkpoint.dir=" + checkpoint_dir.string(),
          "train.resume=" + resume,
          "train.steps=" + steps,
          "model.d_model=16",
          "model.n_layers=1",
          "model.n_heads=2",
          "data.seq_len=16",
          "data.batch_size=4",
          "data.vocab_size=16",
          "optim.warmup_steps=1",
          "train.eval_batches=1",
          "train.threads=1",
          "checkpoint.every=3",
          "checkpoint.keep=2",
          "logging.progress=off"};
}

class LockCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs::exists(testing::program)) << "build the program first"; }

  // Starts a long run holding `checkpoints`, then a second with `second_run_dir`: refused with
  // exit 4 naming the first; the first is still running, and once it is SIGKILLed its checkpoints
  // verify and a third run on the directory resumes from them.
  void second_writer_is_refused(const std::string& resume, const fs::path& second_run_dir) {
    Background first(train_args(tmp / "run_a", checkpoints, "100000", resume), tmp / "first.log");
    // The log line, not step 3's files: with checkpoint.keep = 2 a fast run prunes step 3 before a
    // poller on a loaded machine may see it.
    ASSERT_TRUE(first.wait_for(tmp / "first.log", " saved to ")) << first.output();
    const std::string first_config = testing::read_file(tmp / "run_a" / "config.yaml");
    const testing::ProgramResult second =
        testing::run_attnscale(train_args(second_run_dir, checkpoints, "6", resume));
    EXPECT_EQ(second.exit_code, 4) << second.err;
    const LockHolder holder = this_process(tmp / "run_a");
    EXPECT_NE(second.err.find(fmt::format("is in use by another run (host {}, pid {}, run directory {})", holder.host,
                                          first.pid(), holder.run_dir)),
              std::string::npos)
        << second.err;
    EXPECT_TRUE(first.running()) << "the refused run disturbed the holder:\n" << first.output();
    EXPECT_EQ(testing::read_file(tmp / "run_a" / "config.yaml"), first_config) << "the refused run rewrote it";
    EXPECT_EQ(first.output().find("a save that did not finish"), std::string::npos) << first.output();

    first.kill_now();  // like a crash: the kernel drops the flock with the process
    const testing::ProgramResult verify = testing::run_attnscale({"checkpoint", "verify", checkpoints.string()});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    const std::int64_t newest = list_checkpoints(checkpoints).back().step;
    const testing::ProgramResult third =
        testing::run_attnscale(train_args(tmp / "run_c", checkpoints, std::to_string(newest + 1), "auto"));
    EXPECT_EQ(third.exit_code, 0) << third.err;
    EXPECT_NE(third.err.find(fmt::format("resumed from {}", (checkpoints / step_dir_name(newest)).string())),
              std::string::npos)
        << third.err;
  }

  testing::TempDir tmp;
  fs::path checkpoints = tmp / "shared_checkpoints";
};

TEST_F(LockCli, TwoFreshRunsOnOneCheckpointDirectory) { second_writer_is_refused("none", tmp / "run_b"); }

TEST_F(LockCli, TwoResumingRunsOfOneRunDirectory) { second_writer_is_refused("auto", tmp / "run_a"); }

}  // namespace
}  // namespace attnscale::checkpoint
