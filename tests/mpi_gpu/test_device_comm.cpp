// The device communicator under 2, 3 and 4 ranks: which backend is chosen (and that every rank
// chose alike), every operation on device buffers against the expected values, host buffers
// through the same communicator, and byte counters equal to the host communicator's for the same
// operations.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "framework/core/tensor/tensor.h"
#include "tests/mpi_gpu/device_test_env.h"

namespace attnscale {
namespace {

template <typename T>
Tensor on_device(const std::vector<T>& values, Device device) {
  return Tensor::from(values, {static_cast<int64_t>(values.size())}).to(device);
}

TEST(DeviceComm, ChoosesOneBackendOnEveryRankAndSaysWhy) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  EXPECT_TRUE(choice.comm->uses_device_memory());
  EXPECT_FALSE(choice.reason.empty());
  const std::vector<int> nccl = test::world().all_gather_value<int>(choice.comm->backend() == "nccl" ? 1 : 0);
  for (const int n : nccl) EXPECT_EQ(n, nccl[0]) << "ranks chose different backends";
  if (cuda::emulated()) {
    EXPECT_EQ(choice.comm->backend(), "mpi");
    EXPECT_NE(choice.reason.find("emulation"), std::string::npos) << choice.reason;
  }
  EXPECT_EQ(choice.comm->size(), test::world().size());
  EXPECT_EQ(choice.comm->rank(), test::world().rank());
}

TEST(DeviceComm, EveryOperationOnDeviceBuffers) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  Communicator& comm = *choice.comm;
  const int p = comm.size(), r = comm.rank();
  const int next = (r + 1) % p, prev = (r + p - 1) % p;

  // A ring step: blocks of different sizes per rank.
  const auto block = [](int rank) { return static_cast<std::size_t>(5 + 3 * rank); };
  Tensor send = on_device(std::vector<double>(block(r), r + 0.5), device);
  Tensor recv = on_device(std::vector<double>(block(prev), -1.0), device);
  // What the communicator stages: device memory (also inside a block), never host memory.
  EXPECT_TRUE(cuda::is_device_memory(send.device_data<double>() + 1));
  const std::vector<double> on_host(4);
  EXPECT_FALSE(cuda::is_device_memory(on_host.data()));
  comm.sendrecv(send.device_data<double>(), block(r), next, recv.device_data<double>(), block(prev), prev,
                CommDType::f64);
  EXPECT_EQ(recv.to_vector<double>(), std::vector<double>(block(prev), prev + 0.5));

  // All-reduce in place.
  Tensor sum = on_device(std::vector<double>(7, r + 1.0), device);
  comm.all_reduce(sum.device_data<double>(), 7, CommDType::f64, ReduceOp::sum);
  EXPECT_EQ(sum.to_vector<double>(), std::vector<double>(7, p * (p + 1) / 2.0));

  // All-gather-v: rank s contributes s + 1 values s.
  std::vector<std::size_t> counts;
  for (int s = 0; s < p; ++s) counts.push_back(static_cast<std::size_t>(s + 1));
  const std::size_t total = std::accumulate(counts.begin(), counts.end(), std::size_t{0});
  Tensor mine = on_device(std::vector<double>(counts[static_cast<std::size_t>(r)], double(r)), device);
  Tensor gathered = on_device(std::vector<double>(total, -1.0), device);
  comm.all_gather_v(mine.device_data<double>(), counts[static_cast<std::size_t>(r)], gathered.device_data<double>(),
                    counts, packed_displacements(counts), CommDType::f64);
  std::vector<double> expected;
  for (int s = 0; s < p; ++s) expected.insert(expected.end(), counts[static_cast<std::size_t>(s)], double(s));
  EXPECT_EQ(gathered.to_vector<double>(), expected);

  // All-to-all-v (int64), some blocks empty.
  const auto count = [](int from, int to) { return static_cast<std::size_t>((from + 2 * to) % 3); };
  std::vector<std::size_t> send_counts(static_cast<std::size_t>(p)), recv_counts(static_cast<std::size_t>(p));
  std::vector<int64_t> outgoing;
  for (int d = 0; d < p; ++d) {
    send_counts[static_cast<std::size_t>(d)] = count(r, d);
    recv_counts[static_cast<std::size_t>(d)] = count(d, r);
    for (std::size_t i = 0; i < count(r, d); ++i) outgoing.push_back(r * 1000 + d * 10 + int64_t(i));
  }
  const std::size_t incoming = std::accumulate(recv_counts.begin(), recv_counts.end(), std::size_t{0});
  outgoing.push_back(0);  // never sent: keeps the tensor non-empty
  Tensor out_dev = on_device(outgoing, device);
  Tensor in_dev = on_device(std::vector<int64_t>(incoming + 1, -1), device);
  comm.all_to_all_v(out_dev.device_data<int64_t>(), send_counts, packed_displacements(send_counts),
                    in_dev.device_data<int64_t>(), recv_counts, packed_displacements(recv_counts), CommDType::i64);
  const std::vector<int64_t> got = in_dev.to_vector<int64_t>();
  std::size_t at = 0;
  for (int s = 0; s < p; ++s)
    for (std::size_t i = 0; i < recv_counts[static_cast<std::size_t>(s)]; ++i)
      EXPECT_EQ(got[at++], s * 1000 + r * 10 + int64_t(i));
  EXPECT_EQ(got.back(), -1) << "written past the received blocks";

  // Broadcast from the last rank.
  Tensor shared = on_device(std::vector<double>(4, r == p - 1 ? 42.0 : 0.0), device);
  comm.broadcast(shared.device_data<double>(), 4, CommDType::f64, p - 1);
  EXPECT_EQ(shared.to_vector<double>(), std::vector<double>(4, 42.0));
  comm.barrier();
}

// Metadata (segment summaries, token ids, arg-max) stays in host memory and goes through the same
// communicator.
TEST(DeviceComm, HostBuffersGoThroughTheSameCommunicator) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  Communicator& comm = *choice.comm;
  const int p = comm.size(), r = comm.rank();
  std::vector<int32_t> ids(3, r);
  comm.all_reduce(ids, ReduceOp::max);
  EXPECT_EQ(ids, std::vector<int32_t>(3, p - 1));
  std::vector<ValueIndex> best{{static_cast<double>(r % 2), r}};
  comm.all_reduce_loc(best, LocOp::maxloc);
  EXPECT_EQ(best[0], (ValueIndex{p > 1 ? 1.0 : 0.0, p > 1 ? 1 : 0}));
  const std::vector<int64_t> ranks = comm.all_gather_value<int64_t>(r);
  for (int s = 0; s < p; ++s) EXPECT_EQ(ranks[static_cast<std::size_t>(s)], s);
}

// The byte and call counters read the same on the device communicator as on MPI with host buffers.
TEST(DeviceComm, ByteCountersMatchTheHostCommunicator) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  auto host = test::fresh_comm("host twin");
  const int p = choice.comm->size(), r = choice.comm->rank();
  const std::size_t n = 11 + static_cast<std::size_t>(r);
  const std::size_t from_prev = 11 + static_cast<std::size_t>((r + p - 1) % p);
  std::vector<float> host_send(n, 1.f), host_recv(from_prev), host_sum(9, 1.f);
  Tensor dev_send = on_device(host_send, device), dev_recv = on_device(std::vector<float>(from_prev), device);
  Tensor dev_sum = on_device(host_sum, device);
  choice.comm->reset_stats();
  host->sendrecv(host_send, (r + 1) % p, host_recv, (r + p - 1) % p);
  choice.comm->sendrecv(dev_send.device_data<float>(), n, (r + 1) % p, dev_recv.device_data<float>(), from_prev,
                        (r + p - 1) % p, CommDType::f32);
  host->all_reduce(host_sum, ReduceOp::sum);
  choice.comm->all_reduce(dev_sum.device_data<float>(), 9, CommDType::f32, ReduceOp::sum);
  const OpStats h = host->stats().total(), d = choice.comm->stats().total();
  EXPECT_EQ(d.calls, h.calls);
  EXPECT_EQ(d.bytes_sent, h.bytes_sent);
  EXPECT_EQ(d.bytes_received, h.bytes_received);
  EXPECT_EQ(dev_recv.to_vector<float>(), host_recv);
  EXPECT_EQ(dev_sum.to_vector<float>(), host_sum);
}

}  // namespace
}  // namespace attnscale
