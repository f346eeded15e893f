// The NCCL backend on a real GPU at one rank (label gpu; NCCL refuses two ranks on one GPU, and a
// one-rank communicator is legal): initialisation in non-blocking mode over the MPI bootstrap, a
// send to self, all-reduce and all-gather on device buffers, host buffers staged through device
// memory, the byte counters, and the device communicator choosing NCCL. Skips with the reason
// without a GPU, and in builds without NCCL (the emulation build).
#include <gtest/gtest.h>

#include <vector>

#include "framework/core/tensor/cuda_runtime.h"

#if ATTNSCALE_HAVE_NCCL
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/nccl_communicator.h"
#include "distributed/device_communicator.h"
#include "framework/core/tensor/cuda_handles.h"
#include "framework/core/tensor/tensor.h"
#endif

namespace attnscale {
namespace {

#if ATTNSCALE_HAVE_NCCL
TEST(NcclOneRank, DeviceAndHostBuffersCountersAndTheChoice) {
  const cuda::Availability available = cuda::probe();
  if (available.device_count == 0) GTEST_SKIP() << "NCCL needs a GPU: " << available.reason;
  MpiEnvironment mpi;  // one rank, no mpirun needed
  const Device gpu = cuda_device(0);
  cuda::set_current(gpu);
  {
    MpiCommunicator world;
    NcclCommunicator nccl(world, "nccl one rank");
    nccl.order_after(cuda::compute_stream(gpu));
    ASSERT_EQ(nccl.size(), 1);

    const Tensor send = Tensor::from(std::vector<double>{1, 2, 3}, {3}).to(gpu);
    Tensor recv = Tensor::zeros({3}, DType::f64, gpu);
    nccl.sendrecv(send.device_data<double>(), 3, 0, recv.device_data<double>(), 3, 0, CommDType::f64);
    EXPECT_EQ(recv.to_vector<double>(), (std::vector<double>{1, 2, 3}));

    Tensor sum = Tensor::full({5}, 2.0, DType::f32).to(gpu);
    nccl.all_reduce(sum.device_data<float>(), 5, CommDType::f32, ReduceOp::sum);
    EXPECT_EQ(sum.to_vector<float>(), std::vector<float>(5, 2.f));

    std::vector<int32_t> host_ids{7, 8};  // metadata in host memory: staged through the device
    std::vector<int32_t> gathered(2);
    nccl.all_gather(host_ids, gathered);
    EXPECT_EQ(gathered, host_ids);

    EXPECT_EQ(nccl.stats().total().calls, 3u);
    EXPECT_EQ(nccl.stats().total().bytes_sent, 24u + 20u + 8u) << "counted as on MPI: what each call hands over";
    nccl.barrier();

    const DeviceCommChoice choice = make_device_communicator(world, gpu, "device world");
    EXPECT_EQ(choice.comm->backend(), "nccl") << choice.reason;
  }
}
#else
TEST(NcclOneRank, DeviceAndHostBuffersCountersAndTheChoice) {
  GTEST_SKIP() << "built without NCCL (the emulation build, or no NCCL next to the CUDA toolkit)";
}
#endif

}  // namespace
}  // namespace attnscale
