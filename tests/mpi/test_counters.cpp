// Byte counters follow the rules documented in distributed/comm/comm_stats.h, on every rank.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

TEST(Counters, EveryOperationKind) {
  auto comm = test::fresh_comm("counted");
  const auto p = static_cast<std::uint64_t>(comm->size());
  const int r = comm->rank();
  comm->reset_stats();

  std::vector<float> f(10, 1.0f);  // 40 bytes
  comm->all_reduce(f, ReduceOp::sum);
  std::vector<float> gathered(10 * p);
  comm->all_gather(f, gathered);
  // all_gather_v: rank q contributes q + 1 doubles.
  std::vector<std::size_t> counts(p);
  std::iota(counts.begin(), counts.end(), std::size_t{1});
  std::vector<double> mine(static_cast<std::size_t>(r) + 1), all(p * (p + 1) / 2);
  comm->all_gather_v(mine, all, counts);
  std::vector<std::int32_t> a2a(3 * p), a2a_out(3 * p);
  comm->all_to_all(a2a, a2a_out);
  std::vector<std::uint8_t> bytes(5);
  comm->broadcast(bytes, 0);
  std::vector<ValueIndex> loc(2);
  comm->all_reduce_loc(loc, LocOp::maxloc);
  std::vector<float> ring_in(10);
  comm->sendrecv(f, (r + 1) % comm->size(), ring_in, (r + comm->size() - 1) % comm->size());
  comm->barrier();

  const CommStats& s = comm->stats();
  EXPECT_EQ(s[CommOp::all_reduce].calls, 1u);
  EXPECT_EQ(s[CommOp::all_reduce].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::all_reduce].bytes_received, 40u);
  EXPECT_EQ(s[CommOp::all_gather].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::all_gather].bytes_received, 40u * (p - 1));
  const std::uint64_t all_doubles = p * (p + 1) / 2;
  EXPECT_EQ(s[CommOp::all_gather_v].bytes_sent, 8u * (static_cast<std::uint64_t>(r) + 1));
  EXPECT_EQ(s[CommOp::all_gather_v].bytes_received, 8u * (all_doubles - static_cast<std::uint64_t>(r) - 1));
  EXPECT_EQ(s[CommOp::all_to_all].bytes_sent, 12u * (p - 1));
  EXPECT_EQ(s[CommOp::all_to_all].bytes_received, 12u * (p - 1));
  EXPECT_EQ(s[CommOp::broadcast].bytes_sent, r == 0 ? 5u : 0u);
  EXPECT_EQ(s[CommOp::broadcast].bytes_received, r == 0 ? 0u : 5u);
  EXPECT_EQ(s[CommOp::all_reduce_loc].bytes_sent, 2 * sizeof(ValueIndex));
  EXPECT_EQ(s[CommOp::sendrecv].calls, 1u);
  EXPECT_EQ(s[CommOp::sendrecv].bytes_sent, 40u);
  EXPECT_EQ(s[CommOp::sendrecv].bytes_received, 40u);
  EXPECT_EQ(s[CommOp::barrier].calls, 1u);
  EXPECT_EQ(s.total().calls, 8u);

  // Point to point: what the ranks sent in total, the ranks received in total.
  comm->reset_stats();
  std::vector<std::uint8_t> msg(static_cast<std::size_t>(r) * 3 + 1);
  const int next = (r + 1) % comm->size();
  Request send = comm->isend(msg, next, 4);
  std::vector<std::uint8_t> from_prev(static_cast<std::size_t>((r + comm->size() - 1) % comm->size()) * 3 + 1);
  comm->irecv(from_prev, (r + comm->size() - 1) % comm->size(), 4).wait();
  send.wait();
  EXPECT_EQ(comm->stats()[CommOp::send].bytes_sent, msg.size());
  EXPECT_EQ(comm->stats()[CommOp::recv].bytes_received, from_prev.size());
  const auto sent = comm->all_reduce_value(comm->stats()[CommOp::send].bytes_sent, ReduceOp::sum);
  const auto received = comm->all_reduce_value(comm->stats()[CommOp::recv].bytes_received, ReduceOp::sum);
  EXPECT_EQ(sent, received);
  comm->reset_stats();
  EXPECT_EQ(comm->stats().total().calls, 0u);
}

TEST(Counters, WaitTimeAccumulatesWhileAPeerIsLate) {
  auto comm = test::fresh_comm("late");
  std::vector<double> x(4, 1.0);
  if (comm->rank() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (comm->rank() == 0) comm->irecv(x, 1).wait();
  if (comm->rank() == 1) comm->isend(x, 0).wait();
  if (comm->rank() == 0) {
    EXPECT_GT(comm->stats()[CommOp::recv].wait_seconds, 0.0);
  }
  // progress() and test() never count as waiting.
  EXPECT_EQ(comm->stats()[CommOp::barrier].wait_seconds, 0.0);
  comm->barrier();
}

}  // namespace
}  // namespace attnscale
