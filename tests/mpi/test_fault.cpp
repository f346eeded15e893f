// Fault injection: runs only when ATTNSCALE_FAULT_KILL_RANK is set, which the CTest entries
// mpi_fault_kill and mpi_fault_hang do through tests/mpi/run_fault_test.sh. The planned rank dies
// (or hangs) mid-run; the others must not hang: their waits time out and run_job ends the job.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "distributed/comm/mpi_environment.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

TEST(FaultInjection, JobEndsOnEveryRank) {
  if (std::getenv("ATTNSCALE_FAULT_KILL_RANK") == nullptr)
    GTEST_SKIP() << "set ATTNSCALE_FAULT_KILL_RANK (the CTest entries mpi_fault_* do)";
  MpiCommunicator& world = test::world();
  const int p = world.size();
  const int r = world.rank();
  // The same loop a training step runs: a reduction and a ring exchange per step.
  const int code = run_job([&] {
    std::vector<float> grads(1024, 1.0f), kv(4096, static_cast<float>(r)), kv_in(4096);
    for (int step = 0; step < 1000; ++step) {
      world.set_step(fmt::format("fault step {}", step));
      world.all_reduce(grads, ReduceOp::sum);
      world.sendrecv(kv, (r + 1) % p, kv_in, (r + p - 1) % p);
    }
    return 0;
  });
  ADD_FAILURE() << "the job survived the injected fault (run_job returned " << code << ")";
}

}  // namespace
}  // namespace attnscale
