// Helpers of the kernel tests in tests/cuda_host/, which compile twice:
//  * test_cuda_host (label cuda_host): the CUDA kernels' sources on the host emulator
//    (kernels/cuda/primitives.cuh), in CI;
//  * test_gpu (label gpu, with the CUDA backend): the same test cases on the nvcc-compiled kernels
//    and a real GPU, skipped with the reason when there is none.
// Either way each kernel is compared with the CPU kernels on the same inputs. Kernel inputs and
// outputs live in KernelVector: plain host memory for the emulator, CUDA managed memory (readable
// on both sides) for the GPU, where test_gpu sets CUDA_LAUNCH_BLOCKING=1 before CUDA starts, so
// results are complete when a launcher returns.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <new>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"
#include "kernels/cuda/stream.h"

#if !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <cuda_runtime_api.h>

#include <cstdlib>
#endif

namespace attnscale::test {

// The default stream (the emulator runs every launch at once).
inline constexpr cuda::Stream kStream = nullptr;

#if defined(ATTNSCALE_CUDA_HOST_EMULATION)
template <typename T>
using KernelVector = std::vector<T>;

class KernelTest : public ::testing::Test {};
#else
// Set during static initialisation, before the first CUDA call creates the context.
inline const bool kLaunchBlocking = setenv("CUDA_LAUNCH_BLOCKING", "1", 1) == 0;

template <typename T>
struct ManagedAllocator {
  using value_type = T;
  ManagedAllocator() = default;
  template <typename U>
  ManagedAllocator(const ManagedAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = nullptr;
    if (cudaMallocManaged(&p, n * sizeof(T)) != cudaSuccess) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { cudaFree(p); }
  template <typename U>
  bool operator==(const ManagedAllocator<U>&) const { return true; }
};

template <typename T>
using KernelVector = std::vector<T, ManagedAllocator<T>>;

// Skips every test of the program when no GPU is usable, saying why.
class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) GTEST_SKIP() << "no CUDA device: " << cudaGetErrorString(status);
    if (count == 0) GTEST_SKIP() << "no CUDA device";
  }
};
#endif

// Waits for every kernel queued so far: the GPU's; nothing under the emulator (a launch has run its
// whole grid when it returns).
inline void wait_for_kernels() {
#if !defined(ATTNSCALE_CUDA_HOST_EMULATION)
  const cudaError_t status = cudaDeviceSynchronize();
  ASSERT_EQ(status, cudaSuccess) << cudaGetErrorString(status);
#endif
}

// The element types the float kernels are tested with (typed test suites).
using FloatTypes = ::testing::Types<float, double>;

// n values uniform in [low, high).
template <typename T>
KernelVector<T> uniform(int64_t n, uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> dist(low, high);
  KernelVector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(dist(engine));
  return v;
}

// A CPU tensor holding v.
template <typename T, typename Allocator>
Tensor tensor_from(const std::vector<T, Allocator>& v, const Shape& shape) {
  return Tensor::from<T>(std::span<const T>(v.data(), v.size()), shape);
}

template <typename T, typename Allocator>
std::vector<T> host_copy(const std::vector<T, Allocator>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Tolerances of a comparison: |got - want| <= atol + rtol * |want|.
struct Tolerance {
  double rtol;
  double atol;
};

template <typename T>
constexpr Tolerance default_tolerance() {
  return sizeof(T) == 4 ? Tolerance{2e-5, 1e-6} : Tolerance{1e-12, 1e-14};
}

// Every element within tolerance; a NaN on either side fails, infinities must match exactly. On
// failure: how many elements differ and the worst one.
template <typename T, typename GotAllocator, typename WantAllocator>
::testing::AssertionResult all_close(const std::vector<T, GotAllocator>& got, const std::vector<T, WantAllocator>& want,
                                     Tolerance tol = default_tolerance<T>()) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    double excess;
    if (std::isnan(g) || std::isnan(w)) {
      excess = INFINITY;
    } else if (std::isinf(g) || std::isinf(w)) {
      excess = g == w ? 0 : INFINITY;
    } else {
      excess = std::abs(g - w) - (tol.atol + tol.rtol * std::abs(w));
    }
    if (excess > 0) {
      ++bad;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ (rtol " << tol.rtol
                                       << ", atol " << tol.atol << "); worst at " << worst << ": got "
                                       << static_cast<double>(got[worst]) << ", want "
                                       << static_cast<double>(want[worst]);
}

}  // namespace attnscale::test
