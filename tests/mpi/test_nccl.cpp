// NcclCommunicator across ranks: the same checks as the MPI tests on device memory. Needs one
// visible GPU per rank on the node; skips with the reason otherwise (identically on every rank).
#include <gtest/gtest.h>

#if ATTNSCALE_HAVE_NCCL
#include <numeric>
#include <vector>

#include "distributed/comm/nccl_communicator.h"
#include "distributed/comm/node_info.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

template <class T>
DeviceBuffer upload(const std::vector<T>& host, int device) {
  return to_device(std::span<const T>(host), device);
}

TEST(Nccl, RingAllReduceAndAllToAllVOnDevices) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  if (devices < node_info().local_size)
    GTEST_SKIP() << devices << " visible GPU(s) for " << node_info().local_size << " ranks on this node";
  NcclCommunicator nccl(test::world());
  const int p = nccl.size();
  const int r = nccl.rank();
  const int dev = nccl.device();

  std::vector<float> mine(1000 + 10 * static_cast<std::size_t>(r), static_cast<float>(r));
  DeviceBuffer out = upload(mine, dev);
  const int prev = (r + p - 1) % p;
  DeviceBuffer in(std::size_t(1000 + 10 * prev) * sizeof(float), dev);
  nccl.sendrecv(out.get(), mine.size(), (r + 1) % p, in.get(), 1000 + 10 * static_cast<std::size_t>(prev), prev,
                CommDType::f32);
  EXPECT_EQ(to_host<float>(in), std::vector<float>(1000 + 10 * static_cast<std::size_t>(prev), float(prev)));

  DeviceBuffer sum = upload(std::vector<double>(64, r + 1.0), dev);
  nccl.all_reduce(sum.get(), 64, CommDType::f64, ReduceOp::sum);
  EXPECT_EQ(to_host<double>(sum), std::vector<double>(64, p * (p + 1) / 2.0));

  auto count = [](int from, int to) { return static_cast<std::size_t>((from + 2 * to) % 3); };
  std::vector<std::size_t> send_counts(p), recv_counts(p);
  std::vector<std::int64_t> send;
  for (int d = 0; d < p; ++d) {
    send_counts[d] = count(r, d);
    recv_counts[d] = count(d, r);
    for (std::size_t i = 0; i < send_counts[d]; ++i) send.push_back(r * 1000 + d * 10 + std::int64_t(i));
  }
  const std::size_t total = std::accumulate(recv_counts.begin(), recv_counts.end(), std::size_t{0});
  DeviceBuffer send_dev = upload(send.empty() ? std::vector<std::int64_t>{0} : send, dev);
  DeviceBuffer recv_dev(std::max<std::size_t>(total, 1) * sizeof(std::int64_t), dev);
  nccl.all_to_all_v(send_dev.get(), send_counts, packed_displacements(send_counts), recv_dev.get(), recv_counts,
                    packed_displacements(recv_counts), CommDType::i64);
  const std::vector<std::int64_t> got = to_host<std::int64_t>(recv_dev);
  std::size_t at = 0;
  for (int s = 0; s < p; ++s)
    for (std::size_t i = 0; i < recv_counts[s]; ++i) EXPECT_EQ(got[at++], s * 1000 + r * 10 + std::int64_t(i));
  nccl.barrier();
}

}  // namespace
}  // namespace attnscale

#else
TEST(Nccl, RingAllReduceAndAllToAllVOnDevices) { GTEST_SKIP() << "built without CUDA and NCCL"; }
#endif
