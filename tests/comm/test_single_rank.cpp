// MpiCommunicator on one rank, without mpirun: every operation, validation, timeouts, counters.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/process_grid.h"
#include "distributed/comm/node_info.h"
#include "tests/comm/mpi_singleton.h"

namespace attnscale {
namespace {

using namespace std::chrono_literals;

class SingleRank : public ::testing::Test {
 protected:
  MpiEnvironment& mpi = test::mpi_singleton();  // declared first: initialised before world
  MpiCommunicator world{MPI_COMM_WORLD, CommSettings{}, "world"};
};

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST_F(SingleRank, RunsWithoutMpirun) {
  EXPECT_TRUE(test::mpi_singleton().owns_mpi());
  EXPECT_EQ(test::mpi_singleton().world_size(), 1);
  EXPECT_GE(test::mpi_singleton().provided(), ThreadLevel::funneled);
  EXPECT_EQ(world.rank(), 0);
  EXPECT_EQ(world.size(), 1);
  EXPECT_EQ(world.backend(), "mpi");
  const NodeInfo node = node_info();
  EXPECT_EQ(node.local_rank, 0);
  EXPECT_EQ(node.local_size, 1);
}

TEST_F(SingleRank, CollectivesAreIdentities) {
  std::vector<double> data{1.5, -2.0, 3.0};
  world.all_reduce(data, ReduceOp::sum);
  EXPECT_EQ(data, (std::vector<double>{1.5, -2.0, 3.0}));
  EXPECT_EQ(world.all_reduce_value(std::int64_t{7}, ReduceOp::max), 7);

  std::vector<ValueIndex> loc{{1.0, 3}, {-4.0, 8}};
  world.all_reduce_loc(loc, LocOp::minloc);
  EXPECT_EQ(loc[1], (ValueIndex{-4.0, 8}));

  const std::vector<float> block{1, 2, 3};
  std::vector<float> gathered(3);
  world.all_gather(block, gathered);
  EXPECT_EQ(gathered, block);
  EXPECT_EQ(world.all_gather_value(42), std::vector<int>{42});

  const std::vector<std::size_t> counts{3};
  std::vector<float> gathered_v(3);
  world.all_gather_v(block, gathered_v, counts);
  EXPECT_EQ(gathered_v, block);

  std::vector<float> exchanged(3);
  world.all_to_all(block, exchanged);
  EXPECT_EQ(exchanged, block);
  world.all_to_all_v(block, counts, exchanged, counts);
  EXPECT_EQ(exchanged, block);

  std::vector<std::int32_t> bcast{5, 6};
  world.broadcast(bcast, 0);
  EXPECT_EQ(bcast, (std::vector<std::int32_t>{5, 6}));
  world.barrier();
}

TEST_F(SingleRank, SendToSelfAndProgressCompletesRequests) {
  std::vector<float> out(1 << 20);  // 4 MiB: larger than any eager limit
  std::iota(out.begin(), out.end(), 0.0f);
  std::vector<float> in(out.size());
  Request recv = world.irecv(in, 0, 3);
  Request send = world.isend(out, 0, 3);
  while (!(recv.test() && send.test())) world.progress();
  EXPECT_FALSE(recv.pending());
  EXPECT_EQ(in, out);

  std::vector<int> a{1, 2}, b(2);
  world.sendrecv(a, 0, b, 0, 4);
  EXPECT_EQ(b, a);
}

TEST_F(SingleRank, SplitAndNoColour) {
  auto same = world.split(0, 0, "copy");
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->name(), "copy");
  EXPECT_EQ(same->size(), 1);
  EXPECT_EQ(same->timeout(), world.timeout());
  world.set_step("shared step");
  EXPECT_EQ(same->step(), "shared step");
  EXPECT_EQ(world.split(Communicator::no_color, 0, "none"), nullptr);
  EXPECT_THROW(world.split(-5, 0, "bad"), UsageError);

  ProcessGrid grid(world, GridShape::for_world(1, 1));
  EXPECT_EQ(grid.ring().size(), 1);
  EXPECT_EQ(grid.ring().name(), "ring");
  EXPECT_EQ(grid.coords(), GridCoords{});
}

TEST_F(SingleRank, ValidatesArgumentsNamingTheOperation) {
  std::vector<float> data(4);
  EXPECT_NE(message_of([&] { world.isend(data, 1); }).find("[comm] send: destination 1 is not a rank of 'world' (size 1)"),
            std::string::npos);
  EXPECT_NE(message_of([&] { world.irecv(data, 0, -1); }).find("recv: tag -1 is outside"), std::string::npos);
  EXPECT_NE(message_of([&] { world.broadcast(data, 2); }).find("broadcast: root 2"), std::string::npos);
  EXPECT_THROW(world.all_reduce(nullptr, 4, CommDType::f32, ReduceOp::sum), UsageError);
  EXPECT_NE(message_of([&] { world.all_reduce(data.data(), 4, CommDType::bf16, ReduceOp::sum); })
                .find("cannot reduce bf16"),
            std::string::npos);
  std::vector<float> wrong(5);
  EXPECT_NE(message_of([&] { world.all_gather(data, wrong); }).find("all_gather: receive range holds 5 elements, expected 4"),
            std::string::npos);
  const std::vector<std::size_t> two_counts{2, 2};
  EXPECT_THROW(world.all_to_all_v(data, two_counts, data, two_counts), UsageError);
  EXPECT_THROW(world.set_timeout(0ms), UsageError);
  // A rejected call starts nothing and counts nothing.
  EXPECT_EQ(world.stats().total().calls, 0u);
}

TEST_F(SingleRank, ReceiveThatNeverArrivesTimesOutNamingRankOpAndStep) {
  world.set_timeout(200ms);
  world.set_step("unit step 3");
  std::vector<float> data(16);
  Request recv = world.irecv(data, 0, 9);
  const std::string what = message_of([&] { recv.wait(); });
  EXPECT_NE(what.find("[comm] rank 0 (world rank 0 of 1): recv of 16 x f32 from rank 0 (tag 9) timed out after 0.2 s"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("at step 'unit step 3'"), std::string::npos) << what;
  EXPECT_FALSE(recv.pending());
  EXPECT_GT(world.stats()[CommOp::recv].wait_seconds, 0.0);

  // The timed-out receive was cancelled: a later message on the same tag reaches a new receive.
  const std::vector<float> payload(16, 2.5f);
  world.sendrecv(payload, 0, data, 0, 9);
  EXPECT_EQ(data, payload);
}

TEST_F(SingleRank, RequestDroppedDuringUnwindingIsCancelled) {
  world.set_timeout(std::chrono::minutes(1));
  std::vector<int> lost(8, -1);
  try {
    Request recv = world.irecv(lost, 0, 11);
    throw std::runtime_error("compute failed");
  } catch (const std::runtime_error&) {
  }
  // If the dropped receive were still posted it would take this message.
  const std::vector<int> payload(8, 7);
  std::vector<int> got(8);
  world.sendrecv(payload, 0, got, 0, 11);
  EXPECT_EQ(got, payload);
  EXPECT_EQ(lost, std::vector<int>(8, -1));
}

TEST_F(SingleRank, RequestDroppedNormallyWaitsForCompletion) {
  std::vector<double> in(4);
  const std::vector<double> out{1, 2, 3, 4};
  {
    Request recv = world.irecv(in, 0, 12);
    Request send = world.isend(out, 0, 12);
  }  // both destructors wait
  EXPECT_EQ(in, out);
}

TEST_F(SingleRank, CountersFollowTheDocumentedRules) {
  world.reset_stats();
  std::vector<float> f(10);
  world.all_reduce(f, ReduceOp::max);
  std::vector<float> g(10);
  world.all_gather(f, g);
  world.sendrecv(f, 0, g, 0, 1);
  world.barrier();
  const CommStats& s = world.stats();
  EXPECT_EQ(s[CommOp::all_reduce].calls, 1u);
  EXPECT_EQ(s[CommOp::all_reduce].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::all_reduce].bytes_received, 40u);
  EXPECT_EQ(s[CommOp::all_gather].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::all_gather].bytes_received, 0u);  // one rank: nothing from others
  EXPECT_EQ(s[CommOp::sendrecv].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::sendrecv].bytes_received, 40u);
  EXPECT_EQ(s[CommOp::barrier].calls, 1u);
  EXPECT_EQ(s.total().calls, 4u);
  world.reset_stats();
  EXPECT_EQ(world.stats().total().calls, 0u);
}

}  // namespace
}  // namespace attnscale

namespace attnscale {
namespace {

TEST_F(SingleRank, RunJobMapsErrorsToExitCodesOnOneRank) {
  // One rank: run_job logs and returns the code; there is no job to abort.
  EXPECT_EQ(run_job([]() -> int { throw ConfigError("[config] bad key"); }), 2);
  EXPECT_EQ(run_job([]() -> int { throw RuntimeFailure("[comm] timed out"); }), 1);
  EXPECT_EQ(run_job([]() -> int { throw std::runtime_error("boom"); }), 1);
  EXPECT_EQ(run_job([] { return 0; }), 0);
}

TEST_F(SingleRank, SecondEnvironmentAdoptsRunningMpi) {
  MpiEnvironment again;
  EXPECT_FALSE(again.owns_mpi());
  EXPECT_EQ(again.provided(), mpi.provided());
  EXPECT_EQ(again.world_size(), 1);
}  // `again` must not finalise MPI: the next line still works
TEST_F(SingleRank, MpiStillRunsAfterAnAdoptingEnvironmentEnded) {
  {
    MpiEnvironment again;
  }
  EXPECT_EQ(world.all_reduce_value(3, ReduceOp::sum), 3);
}

// Async operations keep a pointer into their range: a temporary container is refused at compile
// time, lvalues and views are accepted.
template <class R>
concept CanIsend = requires(Communicator& c, R&& r) { c.isend(std::forward<R>(r), 0); };
template <class R>
concept CanIrecv = requires(Communicator& c, R&& r) { c.irecv(std::forward<R>(r), 0); };
static_assert(!CanIsend<std::vector<float>>);
static_assert(CanIsend<std::vector<float>&>);
static_assert(CanIsend<const std::vector<float>&>);
static_assert(CanIsend<std::span<const float>>);
static_assert(!CanIrecv<std::vector<float>>);
static_assert(!CanIrecv<const std::vector<float>&>);  // cannot receive into const data
static_assert(CanIrecv<std::span<double>>);
static_assert(!CanIsend<std::vector<std::string>&>);  // not a type a communicator moves

}  // namespace
}  // namespace attnscale
