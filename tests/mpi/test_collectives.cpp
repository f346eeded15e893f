#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// Element i of rank r's buffer: small integers, exact in every type (u8 sums included).
template <class T>
T value_at(int rank, std::size_t i) {
  return static_cast<T>((rank * 7 + static_cast<int>(i) * 3) % 11);
}

template <class T>
class AllReduceTyped : public ::testing::Test {};
using ReduceTypes = ::testing::Types<float, double, std::int32_t, std::int64_t, std::uint64_t, std::uint8_t>;
TYPED_TEST_SUITE(AllReduceTyped, ReduceTypes);

TYPED_TEST(AllReduceTyped, SumMaxMinMatchALocalReference) {
  using T = TypeParam;
  auto comm = test::fresh_comm();
  const int p = comm->size();
  constexpr std::size_t n = 37;
  for (const ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min}) {
    std::vector<T> data(n);
    for (std::size_t i = 0; i < n; ++i) data[i] = value_at<T>(comm->rank(), i);
    comm->all_reduce(data, op);
    for (std::size_t i = 0; i < n; ++i) {
      T expected = value_at<T>(0, i);
      for (int r = 1; r < p; ++r) {
        const T v = value_at<T>(r, i);
        expected = op == ReduceOp::sum ? static_cast<T>(expected + v)
                   : op == ReduceOp::max ? std::max(expected, v)
                                         : std::min(expected, v);
      }
      ASSERT_EQ(data[i], expected) << reduce_op_name(op) << " element " << i;
    }
  }
}

TEST(Collectives, ScalarAllReduceAndNonBlockingAllReduce) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  EXPECT_DOUBLE_EQ(comm->all_reduce_value(1.5 * comm->rank(), ReduceOp::sum), 1.5 * p * (p - 1) / 2);
  std::vector<std::int64_t> data(1000, comm->rank() + 1);
  Request pending = comm->iall_reduce(data, ReduceOp::sum);
  while (!pending.test()) comm->progress();
  EXPECT_EQ(data.front(), static_cast<std::int64_t>(p) * (p + 1) / 2);
  EXPECT_EQ(data.back(), data.front());
}

TEST(Collectives, AllReduceLocFindsArgMaxAndArgMinWithTiesToSmallerIndex) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  constexpr std::size_t n = 12;
  // Rank r holds keys r*n .. r*n+n-1; the values repeat across ranks so that ties happen.
  auto local = [&](int r) {
    std::vector<ValueIndex> v(n);
    for (std::size_t i = 0; i < n; ++i)
      v[i] = {static_cast<double>((r + static_cast<int>(i)) % 3), static_cast<std::int64_t>(r * n + i)};
    return v;
  };
  for (const LocOp op : {LocOp::maxloc, LocOp::minloc}) {
    std::vector<ValueIndex> data = local(comm->rank());
    comm->all_reduce_loc(data, op);
    for (std::size_t i = 0; i < n; ++i) {
      ValueIndex best = local(0)[i];
      for (int r = 1; r < p; ++r) {
        const ValueIndex c = local(r)[i];
        const bool better = op == LocOp::maxloc ? c.value > best.value : c.value < best.value;
        if (better || (c.value == best.value && c.index < best.index)) best = c;
      }
      ASSERT_EQ(data[i], best) << "element " << i;
    }
  }
}

TEST(Collectives, AllGatherAndAllGatherValue) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const std::vector<std::int32_t> mine{comm->rank(), 10 * comm->rank(), -comm->rank()};
  std::vector<std::int32_t> all(3 * static_cast<std::size_t>(p));
  comm->all_gather(mine, all);
  for (int r = 0; r < p; ++r) {
    EXPECT_EQ(all[3 * r], r);
    EXPECT_EQ(all[3 * r + 1], 10 * r);
    EXPECT_EQ(all[3 * r + 2], -r);
  }
  const std::vector<std::uint64_t> ids = comm->all_gather_value(static_cast<std::uint64_t>(comm->rank() * 5));
  for (int r = 0; r < p; ++r) EXPECT_EQ(ids[r], static_cast<std::uint64_t>(r * 5));
}

TEST(Collectives, AllGatherVWithUnevenAndEmptyBlocks) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  // Rank r contributes r elements (rank 0 none): the shape of an uneven sequence shard.
  std::vector<std::size_t> counts(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r) counts[r] = static_cast<std::size_t>(r);
  std::vector<double> mine(counts[comm->rank()]);
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = comm->rank() + 0.01 * static_cast<double>(i);
  std::vector<double> all(static_cast<std::size_t>(p * (p - 1) / 2));
  comm->all_gather_v(mine, all, counts);
  std::size_t at = 0;
  for (int r = 0; r < p; ++r)
    for (int i = 0; i < r; ++i) EXPECT_DOUBLE_EQ(all[at++], r + 0.01 * i);
}

TEST(Collectives, AllToAllSendsBlockRToRankR) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  constexpr std::size_t block = 5;
  std::vector<float> send(block * p), recv(block * p);
  for (int d = 0; d < p; ++d)
    for (std::size_t i = 0; i < block; ++i) send[d * block + i] = static_cast<float>(comm->rank() * 100 + d * 10 + i);
  comm->all_to_all(send, recv);
  for (int s = 0; s < p; ++s)
    for (std::size_t i = 0; i < block; ++i)
      EXPECT_EQ(recv[s * block + i], static_cast<float>(s * 100 + comm->rank() * 10 + i));
}

TEST(Collectives, AllToAllVWithUnevenAndEmptyBlocks) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int me = comm->rank();
  auto count = [](int from, int to) { return static_cast<std::size_t>((from + 2 * to) % 3); };  // 0, 1 or 2
  std::vector<std::size_t> send_counts(p), recv_counts(p);
  for (int r = 0; r < p; ++r) {
    send_counts[r] = count(me, r);
    recv_counts[r] = count(r, me);
  }
  std::vector<std::int64_t> send;
  for (int d = 0; d < p; ++d)
    for (std::size_t i = 0; i < send_counts[d]; ++i) send.push_back(me * 1000 + d * 10 + static_cast<std::int64_t>(i));
  std::vector<std::int64_t> recv(std::accumulate(recv_counts.begin(), recv_counts.end(), std::size_t{0}));
  comm->all_to_all_v(send, send_counts, recv, recv_counts);
  std::size_t at = 0;
  for (int s = 0; s < p; ++s)
    for (std::size_t i = 0; i < recv_counts[s]; ++i)
      EXPECT_EQ(recv[at++], s * 1000 + me * 10 + static_cast<std::int64_t>(i));
}

TEST(Collectives, BroadcastFromEveryRootAndBarrier) {
  auto comm = test::fresh_comm();
  for (int root = 0; root < comm->size(); ++root) {
    std::vector<std::int32_t> data(9, comm->rank() == root ? root + 40 : -1);
    comm->broadcast(data, root);
    EXPECT_EQ(data, std::vector<std::int32_t>(9, root + 40));
  }
  comm->barrier();
}

TEST(Collectives, HalfTypesMoveButDoNotReduceOverMpi) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const std::uint16_t word = static_cast<std::uint16_t>(0x4000 + comm->rank());
  std::vector<std::uint16_t> all(static_cast<std::size_t>(p));
  comm->all_gather(&word, 1, all.data(), CommDType::f16);
  for (int r = 0; r < p; ++r) EXPECT_EQ(all[r], 0x4000 + r);
  // Rejected identically on every rank before anything starts, so no rank is left waiting.
  EXPECT_THROW(comm->all_reduce(all.data(), all.size(), CommDType::bf16, ReduceOp::sum), UsageError);
  comm->barrier();
}

}  // namespace
}  // namespace attnscale
