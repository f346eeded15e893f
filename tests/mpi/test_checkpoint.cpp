// Checkpoints across ranks (test_mpi runs under 2, 3 and 4 ranks): a failure on one rank is agreed
// on and commits nothing; a checkpoint saved by one layout resumes on another (4 -> 2, 2 -> 4,
// 1 -> 3, dp <-> cp) with byte-identical tensors and per-rank state mapped by the rule of
// framework/checkpoint/reshard.h; training resumed on 2 ranks matches an uninterrupted run bit
// for bit. Each test uses as many ranks as it needs (the first ones) and is skipped with fewer.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <random>

#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/group.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/writer.h"
#include "framework/core/ops/ops.h"
#include "framework/train/lm_task.h"
#include "framework/train/train_checkpoint.h"
#include "framework/train/trainer.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/shared_temp_dir.h"

namespace attnscale::test {
namespace {

namespace fs = std::filesystem;
using test_checkpoint::digest;
using test_checkpoint::TinyModel;

// The first `size` ranks of the world (null on the others).
std::unique_ptr<Communicator> first_ranks(int size, const std::string& name) {
  return world().split(world().rank() < size ? 0 : Communicator::no_color, world().rank(), name);
}

// TinyModel with a loss and one random stream, so the trainer's checkpoint code runs unchanged.
class TinyTask : public train::TrainTask {
 public:
  TinyTask(double base, std::uint64_t seed, std::uint64_t offset) : model_(base), dropout_(seed) {
    dropout_.set_state(seed, offset);
  }
  nn::Module& model() override { return model_; }
  train::BatchResult train_batch(int64_t) override { return {loss(), 0, 0, 0}; }
  train::BatchResult eval_batch(int64_t) override { return {loss(), 0, 0, 0}; }
  double chance_accuracy() const override { return 0; }
  std::vector<train::NamedGenerator> generators() override { return {{"dropout", &dropout_}}; }
  const Generator& dropout() const { return dropout_; }

 private:
  Tensor loss() const {
    const Tensor w = model_.named_parameters().front().tensor;
    return sum(mul(w, w));
  }
  TinyModel model_;
  Generator dropout_;
};

Config grid_config(const fs::path& run_dir, GridShape grid) {
  Config cfg;
  cfg.run.dir = run_dir.string();
  cfg.parallel.dp = grid.dp;
  cfg.parallel.cp = grid.cp;
  cfg.logging.metrics = false;
  return cfg;
}

std::uint64_t seed_of(int rank) { return 100 + static_cast<std::uint64_t>(rank); }
std::uint64_t saved_offset_of(int rank) { return 1000 * (static_cast<std::uint64_t>(rank) + 1); }

// Saves step 9 with `from` (every rank at data cursor 40, its own stream), resumes with `to`.
void save_then_resume(GridShape from, GridShape to) {
  const int needed = std::max(from.world_size(), to.world_size());
  if (world().size() < needed) GTEST_SKIP() << "needs " << needed << " ranks";
  SharedTempDir dir(world());

  TinyModel reference_model(1.0);
  const auto reference_optimizer = test_checkpoint::make_adam(reference_model);
  test_checkpoint::fill_state(*reference_optimizer, 7.0);
  const std::string expected = digest(reference_model.named_parameters()) + digest(reference_model.named_buffers()) +
                               digest(reference_optimizer->state());

  const Config save_cfg = grid_config(dir.path(), from);
  const RunDir run_dir = resolve_run_dir(save_cfg, std::chrono::system_clock::now());
  if (const auto comm = first_ranks(from.world_size(), "save")) {
    TinyTask task(1.0, seed_of(comm->rank()), saved_offset_of(comm->rank()));
    const auto optimizer = test_checkpoint::make_adam(task.model());
    test_checkpoint::fill_state(*optimizer, 7.0);
    train::TrainCheckpoints checkpoints(save_cfg, run_dir, comm.get());
    checkpoints.save({9, 40}, task, *optimizer);
  }
  world().barrier();

  Config load_cfg = grid_config(dir.path(), to);
  load_cfg.train.resume = "auto";
  if (const auto comm = first_ranks(to.world_size(), "load")) {
    const int rank = comm->rank();
    TinyTask task(-5.0, seed_of(rank), 0);  // other values everywhere: a load that does nothing fails
    const auto optimizer = test_checkpoint::make_adam(task.model());
    ASSERT_NE(digest(task.model().named_parameters()), digest(reference_model.named_parameters()));
    train::TrainCheckpoints checkpoints(load_cfg, run_dir, comm.get());
    const auto position = checkpoints.resume(task, *optimizer);
    ASSERT_TRUE(position.has_value());
    EXPECT_EQ(position->step, 9);
    EXPECT_EQ(position->data_cursor, 40);
    EXPECT_EQ(digest(task.model().named_parameters()) + digest(task.model().named_buffers()) +
                  digest(optimizer->state()),
              expected)
        << "rank " << rank << " loaded other tensors";
    EXPECT_EQ(task.dropout().seed(), seed_of(rank));
    const bool same_layout = from.dp == to.dp && from.cp == to.cp;
    EXPECT_EQ(task.dropout().offset(), same_layout ? saved_offset_of(rank) : saved_offset_of(from.world_size() - 1))
        << "rank " << rank;
  }
}

TEST(CheckpointMpi, Reshard4To2) { save_then_resume({4, 1, 1}, {2, 1, 1}); }
TEST(CheckpointMpi, Reshard2To4) { save_then_resume({1, 2, 1}, {2, 2, 1}); }
TEST(CheckpointMpi, Reshard1To3) { save_then_resume({1, 1, 1}, {3, 1, 1}); }
TEST(CheckpointMpi, ReshardDpToCp) { save_then_resume({2, 1, 1}, {1, 2, 1}); }
TEST(CheckpointMpi, SameLayoutResumesEachRankExactly) { save_then_resume({2, 1, 1}, {2, 1, 1}); }

// A failure on one rank (the last, or rank 0 while writing) is agreed on by every rank: all of them
// throw the same error, nothing is committed, and the writer goes on afterwards.
TEST(CheckpointMpi, AFailureOnOneRankIsAgreedAndCommitsNothing) {
  const auto comm = world().split(0, world().rank(), "agree");
  const int n = comm->size();
  for (const auto& [point, failing_rank] :
       {std::pair{checkpoint::SavePoint::started, n - 1}, std::pair{checkpoint::SavePoint::model_written, 0}}) {
    SharedTempDir dir(*comm);
    const fs::path root = dir.path() / "checkpoints";
    checkpoint::CheckpointWriter writer({root, 3, {point, checkpoint::SaveFaultMode::fail, failing_rank, 2}},
                                        comm.get());
    TinyModel model(1.0);
    const auto optimizer = test_checkpoint::make_adam(model);
    const GridShape grid{n, 1, 1};
    writer.save(test_checkpoint::make_content(model, *optimizer, 1, grid));
    try {
      writer.save(test_checkpoint::make_content(model, *optimizer, 2, grid));
      ADD_FAILURE() << "rank " << comm->rank() << ": the save succeeded despite the failure on rank " << failing_rank;
    } catch (const RuntimeFailure& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(fmt::format("failed on rank {}", failing_rank)), std::string::npos) << message;
      EXPECT_NE(message.find("injected failure"), std::string::npos) << message;
    }
    comm->barrier();
    if (comm->rank() == 0) {
      std::vector<std::int64_t> steps;
      for (const auto& e : checkpoint::list_checkpoints(root)) steps.push_back(e.step);
      EXPECT_EQ(steps, std::vector<std::int64_t>{1});
      EXPECT_FALSE(fs::exists(root / "step_00000002.tmp"));
    }
    writer.save(test_checkpoint::make_content(model, *optimizer, 3, grid));
    if (comm->rank() == 0) {
      EXPECT_EQ(checkpoint::CheckpointReader(root / "step_00000003").manifest().world_size, n);
    }
  }
}

// Two ranks train, save at step 4, and fresh tasks and trainers resume from it: the losses and the
// final state equal an uninterrupted run's. dp = 2 is the data-parallel path of `attnscale train`;
// with cp = 2 the task shards every sequence's tokens and each rank draws dropout from its own
// stream (the trainer does not run cp attention across shards yet, but per-rank state is what a
// checkpoint must restore).
TEST(CheckpointMpi, TwoRankTrainingResumesBitExactly) {
  const auto comm = first_ranks(2, "train");
  if (!comm) return;
  for (const GridShape grid : {GridShape{2, 1, 1}, GridShape{1, 2, 1}}) {
    SharedTempDir dir(*comm);
    const auto config = [&](const std::string& name, std::int64_t every) {
      Config cfg = test_checkpoint::tiny_lm_config(dir.path() / name);
      cfg.parallel.dp = grid.dp;
      cfg.parallel.cp = grid.cp;
      cfg.logging.metrics = false;
      cfg.checkpoint.every = every;
      return cfg;
    };
    const ProcessGrid process_grid(*comm, grid);
    train::ParallelContext parallel;
    parallel.world = comm.get();
    parallel.grid = &process_grid;
    const auto train = [&](const Config& cfg) {
      const RunDir run_dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
      train::LMTask task(cfg, parallel);
      train::Trainer trainer(cfg, task, &run_dir, comm->rank(), comm.get());
      return trainer.run();
    };
    const auto reference = train(config("straight", 8));
    Config interrupted = config("interrupted", 4);
    train(interrupted);
    comm->barrier();
    if (comm->rank() == 0) fs::remove_all(dir.path() / "interrupted" / "checkpoints" / "step_00000008");
    comm->barrier();
    interrupted.train.resume = "auto";
    const auto resumed = train(interrupted);
    EXPECT_EQ(resumed.resumed_from_step, 4);
    std::vector<std::uint64_t> expected_bits, resumed_bits;
    for (std::size_t i = 4; i < reference.losses.size(); ++i) expected_bits.push_back(std::bit_cast<std::uint64_t>(reference.losses[i]));
    for (const double loss : resumed.losses) resumed_bits.push_back(std::bit_cast<std::uint64_t>(loss));
    EXPECT_EQ(resumed_bits, expected_bits) << "dp " << grid.dp << " cp " << grid.cp;
    if (comm->rank() == 0) {
      const checkpoint::CheckpointReader a(dir.path() / "straight" / "checkpoints" / "step_00000008");
      const checkpoint::CheckpointReader b(dir.path() / "interrupted" / "checkpoints" / "step_00000008");
      EXPECT_EQ(a.manifest().find("model.h5")->sha256, b.manifest().find("model.h5")->sha256);
      EXPECT_EQ(a.manifest().find("ranks.h5")->sha256, b.manifest().find("ranks.h5")->sha256);
      const checkpoint::SavedRanks ranks = b.read_ranks();
      ASSERT_EQ(ranks.ranks.size(), 2u);
      EXPECT_EQ(ranks.ranks[0].data_cursor, ranks.ranks[1].data_cursor);
      if (grid.cp == 2) {
        EXPECT_NE(ranks.ranks[0].generators[0].seed, ranks.ranks[1].generators[0].seed);
      }
    }
  }
}

}  // namespace
}  // namespace attnscale::test
