// NcclCommunicator at one rank (bootstrapped over the MPI singleton). Built whenever CUDA and NCCL
// are found; skips with the reason when no GPU is visible (the development machine has none).
#include <gtest/gtest.h>

#if ATTNSCALE_HAVE_NCCL
#include <vector>

#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/nccl_communicator.h"
#include "tests/comm/mpi_singleton.h"

namespace attnscale {
namespace {

bool have_device() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

template <class T>
DeviceBuffer upload(const std::vector<T>& host, int device) {
  return to_device(std::span<const T>(host), device);
}

TEST(NcclCommunicator, EveryOperationOnOneRank) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device visible: NcclCommunicator is built but cannot run here";
  test::mpi_singleton();
  MpiCommunicator world(MPI_COMM_WORLD, CommSettings{}, "world");
  NcclCommunicator nccl(world);
  EXPECT_EQ(nccl.size(), 1);
  EXPECT_TRUE(nccl.uses_device_memory());
  const int dev = nccl.device();

  const std::vector<float> values{1, -2, 3.5f, 4};
  DeviceBuffer data = upload(values, dev);
  nccl.all_reduce(data.get(), values.size(), CommDType::f32, ReduceOp::sum);
  EXPECT_EQ(to_host<float>(data), values);

  DeviceBuffer gathered(values.size() * sizeof(float), dev);
  const std::vector<std::size_t> counts{values.size()}, displs{0};
  nccl.all_gather_v(data.get(), values.size(), gathered.get(), counts, displs, CommDType::f32);
  EXPECT_EQ(to_host<float>(gathered), values);
  nccl.all_to_all_v(data.get(), counts, displs, gathered.get(), counts, displs, CommDType::f32);
  EXPECT_EQ(to_host<float>(gathered), values);

  DeviceBuffer echoed(values.size() * sizeof(float), dev);
  nccl.sendrecv(data.get(), values.size(), 0, echoed.get(), values.size(), 0, CommDType::f32);
  EXPECT_EQ(to_host<float>(echoed), values);

  const std::vector<ValueIndex> pairs{{2.0, 5}, {-1.0, 3}};
  DeviceBuffer loc = upload(pairs, dev);
  nccl.all_reduce_loc(std::span(static_cast<ValueIndex*>(loc.get()), pairs.size()), LocOp::maxloc);
  EXPECT_EQ(to_host<ValueIndex>(loc), pairs);

  nccl.broadcast(data.get(), values.size(), CommDType::f32, 0);
  nccl.barrier();
  auto copy = nccl.split(0, 0, "nccl copy");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->backend(), "nccl");
  EXPECT_EQ(nccl.stats()[CommOp::all_reduce].bytes_sent, values.size() * sizeof(float));
}

}  // namespace
}  // namespace attnscale

#else
TEST(NcclCommunicator, EveryOperationOnOneRank) {
  GTEST_SKIP() << "built without CUDA and NCCL (ATTNSCALE_HAVE_NCCL unset)";
}
#endif
