// test_mpi: GoogleTest under mpirun (CTest runs it with 2, 3 and 4 ranks). Rank 0 prints the
// usual output; other ranks print only their failures, prefixed with their rank. Every rank's
// failures count: the exit code is non-zero when any rank failed a test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/error.h"
#include "distributed/comm/mpi_environment.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale::test {
namespace {

std::unique_ptr<MpiCommunicator>& world_slot() {
  static std::unique_ptr<MpiCommunicator> world;
  return world;
}

// Prints "[r2] FAILED Suite.Test" and the failure text, nothing else.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}

  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[r%d] %s:%d: Failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                 result.line_number(), result.message());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed())
      std::fprintf(stderr, "[r%d] [  FAILED  ] %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

int run_tests(int rank) {
  CommSettings settings = CommSettings::from_env();
  if (std::getenv("ATTNSCALE_COMM_TIMEOUT_S") == nullptr) settings.timeout = std::chrono::seconds(60);
  world_slot() = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, settings, "world");

  ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) {
    std::unique_ptr<::testing::TestEventListener> quiet(listeners.Release(listeners.default_result_printer()));
    listeners.Append(std::make_unique<FailurePrinter>(rank).release());  // gtest takes ownership
  }
  const bool all_passed = RUN_ALL_TESTS() == 0;
  // A failure outside any test (e.g. in a global set-up) still counts as one.
  const int failed = all_passed ? 0 : std::max(1, ::testing::UnitTest::GetInstance()->failed_test_count());
  const int passed = ::testing::UnitTest::GetInstance()->successful_test_count();

  MpiCommunicator& comm = *world_slot();
  const std::vector<int> failed_per_rank = comm.all_gather_value(failed);
  int ranks_failing = 0;
  for (const int f : failed_per_rank) ranks_failing += f > 0 ? 1 : 0;
  if (rank == 0) {
    std::string detail;
    for (std::size_t r = 0; r < failed_per_rank.size(); ++r)
      if (failed_per_rank[r] > 0) detail += fmt::format(" r{}:{}", r, failed_per_rank[r]);
    std::printf("[mpi tests] %d ranks; rank 0: %d passed, %d failed; ranks with failures: %d%s\n",
                comm.size(), passed, failed, ranks_failing, detail.c_str());
    std::fflush(stdout);
  }
  world_slot().reset();
  return ranks_failing > 0 ? 1 : 0;
}

}  // namespace

MpiCommunicator& world() { return *world_slot(); }

std::unique_ptr<Communicator> fresh_comm(const std::string& name) {
  return world().split(0, world().rank(), name);
}

}  // namespace attnscale::test

int main(int argc, char** argv) {
  attnscale::MpiEnvironment mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  return attnscale::run_job([&] { return attnscale::test::run_tests(mpi.world_rank()); });
}
