// train.skip_nonfinite_steps under data parallelism when only the last rank's gradient is NaN: every
// rank skips the same step (no update anywhere, the replicas stay identical), and with no budget
// left every rank stops with the same message naming that rank.
#include <gtest/gtest.h>

#include <cmath>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/train/poisoned_task.h"

namespace attnscale {
namespace {

struct DpRun {
  explicit DpRun(Communicator& comm, int64_t budget)
      : cfg(test::tiny_lm_config(comm.size(), budget)), grid(comm, GridShape::for_world(comm.size(), 1)) {
    set_log_level("error");  // every rank trains; keep the test output to results
    parallel.world = &comm;
    parallel.grid = &grid;
  }
  Config cfg;
  ProcessGrid grid;
  train::ParallelContext parallel;
};

// Batch 1 (step 2) is poisoned on the last rank only.
std::set<int64_t> poisoned_here(const Communicator& comm) {
  return comm.rank() == comm.size() - 1 ? std::set<int64_t>{1} : std::set<int64_t>{};
}

TEST(SkipNonFinite, EveryRankSkipsTheStepOneRankPoisoned) {
  auto comm = test::fresh_comm("skip");
  DpRun run(*comm, 1);
  train::LMTask inner(run.cfg, run.parallel);
  test::PoisonedTask task(inner, poisoned_here(*comm));
  const train::TrainSummary s = train::Trainer(run.cfg, task, nullptr, comm->rank(), comm.get()).run();
  EXPECT_EQ(s.skipped_steps, (std::vector<int64_t>{2}));
  EXPECT_EQ(s.losses.size(), 3u);
  const auto& before = task.params_before();
  ASSERT_EQ(before.size(), 4u);
  EXPECT_EQ(before[2], before[1]) << "rank " << comm->rank() << " updated in the skipped step";
  EXPECT_NE(before[3], before[2]) << "rank " << comm->rank() << " did not update after the skipped step";
  // The replicas are still identical and finite.
  const std::vector<double> mine = task.flat_parameters();
  std::vector<double> rank0 = mine;
  comm->broadcast(rank0, 0);
  EXPECT_EQ(mine, rank0) << "rank " << comm->rank() << " diverged from rank 0";
  for (const double v : mine) ASSERT_TRUE(std::isfinite(v));
}

TEST(SkipNonFinite, WithoutABudgetEveryRankStopsNamingThePoisonedRank) {
  auto comm = test::fresh_comm("stop");
  DpRun run(*comm, 0);
  train::LMTask inner(run.cfg, run.parallel);
  test::PoisonedTask task(inner, poisoned_here(*comm));
  std::string what = "(the run did not stop)";
  try {
    train::Trainer(run.cfg, task, nullptr, comm->rank(), comm.get()).run();
  } catch (const train::NonFiniteStep& e) {
    what = e.what();
  }
  const std::string expected = fmt::format(
      "[train] step 2: non-finite loss or gradient and train.skip_nonfinite_steps = 0: the run stops (rank {}: [train] "
      "the gradient of parameter '{}'",
      comm->size() - 1, inner.model().named_parameters().front().name);
  EXPECT_NE(what.find(expected), std::string::npos) << "rank " << comm->rank() << ": " << what;
}

}  // namespace
}  // namespace attnscale
