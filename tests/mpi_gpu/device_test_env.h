// What the device tests under mpirun share: this rank's GPU (the emulated cuda:0 in the emulation
// build; on a GPU machine the one local_rank % devices picks, so ranks may share it) and the
// communicator that moves its buffers (distributed/device_communicator.h: NCCL with a GPU per
// rank, else MPI staged through pinned host memory).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "distributed/comm/node_info.h"
#include "distributed/device_communicator.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale::test {

// This rank's GPU, made current; a device without index (cpu) when the runtime sees none.
inline Device rank_gpu() {
  const cuda::Availability available = cuda::probe();
  if (available.device_count == 0) return kCpu;
  const Device device = cuda_device(cuda::gpu_for_local_rank(node_info().local_rank, available.device_count));
  cuda::set_current(device);
  return device;
}

// Skips the test (identically on every rank) when no GPU is visible.
#define ATTNSCALE_REQUIRE_RANK_GPU(device)                                      \
  const Device device = ::attnscale::test::rank_gpu();                          \
  if (device.is_cpu()) GTEST_SKIP() << "no CUDA device: " << cuda::probe().reason

// A device communicator over every rank of the world.
inline DeviceCommChoice device_world(Device device, const std::string& name = "device test") {
  return make_device_communicator(world(), device, name);
}

}  // namespace attnscale::test
