// The host emulator itself (kernels/cuda/primitives.cuh, host_emulation.cpp): indices, barriers,
// shared memory per block, warp shuffles and reductions, and the errors CUDA would give.
#include <numeric>
#include <vector>

#include "base/error.h"
#include "kernels/cuda/primitives.cuh"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

using cuda::launch;

// Each thread writes its global 3-d coordinates.
__global__ void index_kernel(int* out) {
  const int block = static_cast<int>(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z));
  const int per_block = static_cast<int>(blockDim.x * blockDim.y * blockDim.z);
  out[block * per_block + cuda::thread_rank()] = block * 1000 + cuda::thread_rank();
}

TEST(CudaHostEmulator, EveryThreadOfEveryBlockRunsOnce) {
  std::vector<int> out(2 * 3 * 4 * 5 * 2, -1);
  launch(index_kernel, dim3(2, 3, 4), dim3(5, 2), 0, kStream, out.data());
  for (int b = 0; b < 24; ++b)
    for (int t = 0; t < 10; ++t) EXPECT_EQ(out[b * 10 + t], b * 1000 + t);
}

// Reverses each block's slice through shared memory: correct only if __syncthreads separates the
// writes from the reads, and only if each block has its own shared memory.
__global__ void reverse_kernel(const float* in, float* out) {
  ATTNSCALE_SHARED(float, tile, 128);
  const int t = static_cast<int>(threadIdx.x), base = static_cast<int>(blockIdx.x * blockDim.x);
  tile[t] = in[base + t];
  __syncthreads();
  out[base + t] = tile[blockDim.x - 1 - t];
}

TEST(CudaHostEmulator, BarrierAndSharedMemoryPerBlock) {
  std::vector<float> in(3 * 128), out(3 * 128);
  std::iota(in.begin(), in.end(), 0.0f);
  launch(reverse_kernel, 3, 128, 0, kStream, in.data(), out.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 128; ++t) EXPECT_EQ(out[b * 128 + t], in[b * 128 + 127 - t]);
}

// Block sum and max, with dynamic shared memory holding the inputs.
__global__ void reduce_kernel(const double* in, double* sums, double* maxes) {
  double* staged = cuda::dynamic_shared<double>();
  const int t = cuda::thread_rank();
  staged[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  const double s = cuda::block_sum(staged[t]);
  const double m = cuda::block_max(staged[t]);
  if (t == 0) sums[blockIdx.x] = s, maxes[blockIdx.x] = m;
  // every thread got the same value
  if (s != cuda::block_sum(staged[t])) sums[blockIdx.x] = -1;
}

TEST(CudaHostEmulator, BlockReductions) {
  const int threads = 96, blocks = 2;
  const std::vector<double> in = uniform<double>(threads * blocks, 7);
  std::vector<double> sums(blocks), maxes(blocks);
  launch(reduce_kernel, blocks, threads, threads * sizeof(double), kStream, in.data(), sums.data(), maxes.data());
  for (int b = 0; b < blocks; ++b) {
    const auto first = in.begin() + b * threads, last = first + threads;
    EXPECT_NEAR(sums[b], std::accumulate(first, last, 0.0), 1e-12);
    EXPECT_EQ(maxes[b], *std::max_element(first, last));
  }
}

// __shfl_xor_sync and __shfl_sync exchange values between the lanes of a warp.
__global__ void shuffle_kernel(int* xor_out, int* broadcast_out) {
  const int lane = cuda::lane_id();
  xor_out[threadIdx.x] = __shfl_xor_sync(cuda::kFullMask, static_cast<int>(threadIdx.x), 5);
  broadcast_out[threadIdx.x] = __shfl_sync(cuda::kFullMask, lane * 10, 3);
}

TEST(CudaHostEmulator, WarpShuffles) {
  std::vector<int> xor_out(64), broadcast_out(64);
  launch(shuffle_kernel, 1, 64, 0, kStream, xor_out.data(), broadcast_out.data());
  for (int t = 0; t < 64; ++t) {
    EXPECT_EQ(xor_out[t], t ^ 5);
    EXPECT_EQ(broadcast_out[t], 30);
  }
}

// Shared memory starts as 0xff bytes, so a read before any write gives NaN.
__global__ void read_unwritten_kernel(float* out) {
  ATTNSCALE_SHARED(float, never_written, 32);
  out[threadIdx.x] = never_written[threadIdx.x];
}

TEST(CudaHostEmulator, UnwrittenSharedMemoryIsNaN) {
  std::vector<float> out(32, 0.0f);
  launch(read_unwritten_kernel, 1, 32, 0, kStream, out.data());
  for (const float x : out) EXPECT_TRUE(std::isnan(x));
}

// Half of a warp waits at __syncthreads, the other half at __syncwarp: neither barrier can complete
// (a hang or undefined behaviour on a GPU).
__global__ void divergent_barrier_kernel() {
  if (cuda::lane_id() < 16)
    __syncthreads();
  else
    __syncwarp();
}

TEST(CudaHostEmulator, DivergentBarriersAreReported) {
  try {
    launch(divergent_barrier_kernel, 1, 64, 0, kStream);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos) << e.what();
  }
}

__global__ void empty_kernel() {}

TEST(CudaHostEmulator, InvalidLaunchConfigurationsAreErrors) {
  EXPECT_THROW(launch(empty_kernel, 0, 32, 0, kStream), Error);
  EXPECT_THROW(launch(empty_kernel, 1, 1025, 0, kStream), Error);
  EXPECT_THROW(launch(empty_kernel, 1, 32, 300 * 1024, kStream), Error);
}

__global__ void partial_mask_kernel(int* out) { out[threadIdx.x] = __shfl_xor_sync(0xffffu, 1, 1); }

TEST(CudaHostEmulator, PartialShuffleMasksAreRefused) {
  std::vector<int> out(32);
  EXPECT_THROW(launch(partial_mask_kernel, 1, 32, 0, kStream, out.data()), Error);
}

}  // namespace
}  // namespace attnscale::test
