// The few primitives every attnscale CUDA kernel is written against, with the CUDA implementation
// and the host emulation side by side, so that the same kernel source runs on a GPU (nvcc) and on
// the CPU in CI (g++ with ATTNSCALE_CUDA_HOST_EMULATION, the cuda_host tests).
//
// Kernel sources (kernels/cuda/*.cu) include this header and may use:
//
//   __global__ __device__ __host__ __forceinline__ __launch_bounds__(...)
//   threadIdx blockIdx blockDim gridDim        as in CUDA (x, y, z)
//   __syncthreads()                            block barrier
//   __syncwarp()                               warp barrier (all 32 lanes)
//   __shfl_xor_sync(kFullMask, v, lane_mask)   butterfly exchange within a warp (full mask only)
//   __shfl_sync(kFullMask, v, src_lane)        broadcast within a warp (full mask only)
//   atomicAdd(T* p, T v)                       float, double, int64_t
//   atomicMin(long long* p, long long v)
//   ATTNSCALE_SHARED(T, name, count)           a static shared array `name` of the block (T name[count])
//   dynamic_shared<T>()                        the launch's shared_bytes as T*, 16-byte aligned
//   warp_sum(v) warp_max(v)                    butterfly over the 32 lanes: every lane gets the result
//   block_sum(v) block_max(v)                  over the whole block: every thread gets the result;
//                                              every thread of the block must call it (it has
//                                              barriers) and blockDim.x * y * z must be a multiple of 32
//   lane_id() warp_id() warps_per_block()      kWarpSize = 32, kFullMask = 0xffffffff
//   global_index() global_stride()             for grid-stride loops over x, as int64
//   math::exp log log1p sqrt rsqrt tanh erf erfc pow abs sin cos isfinite max min, math::infinity<T>()
//                                              float and double overloads (device intrinsics on the
//                                              GPU, libm on the host)
//
// Host code (the launchers in the same .cu) uses:
//
//   launch(kernel, grid, block, shared_bytes, stream, args...)
//       nvcc: kernel<<<grid, block, shared_bytes, stream>>>(args...) and a checked
//             cudaGetLastError() (dynamic shared memory over 48 KiB is opted into first).
//       host: runs the whole grid before returning: blocks one after another, the threads of a
//             block as fibers (ucontext, one OS thread) switched at every barrier or shuffle, so
//             the emulation is deterministic. It checks the launch configuration as CUDA does
//             (1..1024 threads, no empty grid, shared memory <= 227 KiB), fills shared memory with
//             0xff bytes (NaN for floats) so reading it before writing shows, and reports a block
//             whose threads wait at different barriers (a divergent __syncthreads) instead of
//             hanging. Errors throw attnscale::Error ("[cuda emulation] ...").
//   blocks_for(n, threads)   blocks for a grid-stride loop over n elements (at most kMaxGridBlocks)
//
// What the emulation does not model: warps that diverge within a shuffle (only full masks are
// accepted), memory ordering between blocks (blocks run one after another), and timing. Kernels
// must not rely on more than this header offers; anything else belongs here, in both halves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/cuda/stream.h"
#include "kernels/host_device.h"

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "kernels/cuda/check.h"
#elif defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <tuple>
#else
#error "kernels/cuda/primitives.cuh is for kernel sources: compile them with nvcc or with ATTNSCALE_CUDA_HOST_EMULATION"
#endif

// ---- host emulation: the CUDA vocabulary and the runtime the emulator provides ---------------------
#if !defined(__CUDACC__)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct uint3 {
  unsigned int x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The emulator sets these before it resumes a thread (thread-local: each OS thread may run a grid).
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace attnscale::cuda::emulation {

// Runs `thread` once per thread of the grid (see launch below). Defined in host_emulation.cpp.
void run_grid(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const std::function<void()>& thread);
void block_barrier();
void warp_barrier();
// The calling thread's warp's 32 exchange slots of 8 bytes (shuffles go through them).
uint64_t* warp_slots();
void* dynamic_shared();
// The block's static shared array for one declaration (key: the address of a static at the
// declaration, so every template instantiation has its own, as with __shared__).
void* static_shared(const void* key, size_t bytes, size_t alignment);
// Throws for a shuffle whose mask is not the full warp.
void require_full_mask(unsigned mask, const char* what);

}  // namespace attnscale::cuda::emulation

inline void __syncthreads() { attnscale::cuda::emulation::block_barrier(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  attnscale::cuda::emulation::require_full_mask(mask, "__syncwarp");
  attnscale::cuda::emulation::warp_barrier();
}

namespace attnscale::cuda::emulation {
// Every lane writes v, the warp meets, every lane reads lane `source(lane)`, the warp meets again
// (so the slots may be reused by the next shuffle).
template <typename T, typename Source>
T exchange(T v, Source source) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffles move at most 8 bytes");
  uint64_t* slots = warp_slots();
  const unsigned lane = (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
  std::memcpy(&slots[lane], &v, sizeof(T));
  warp_barrier();
  T r;
  std::memcpy(&r, &slots[source(lane) % 32], sizeof(T));
  warp_barrier();
  return r;
}
}  // namespace attnscale::cuda::emulation

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  attnscale::cuda::emulation::require_full_mask(mask, "__shfl_xor_sync");
  return attnscale::cuda::emulation::exchange(v, [&](unsigned lane) { return lane ^ static_cast<unsigned>(lane_mask); });
}

template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane) {
  attnscale::cuda::emulation::require_full_mask(mask, "__shfl_sync");
  return attnscale::cuda::emulation::exchange(v, [&](unsigned) { return static_cast<unsigned>(src_lane); });
}

template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}

template <typename T>
T atomicMin(T* address, T value) {
  std::atomic_ref<T> target(*address);
  T old = target.load();
  while (value < old && !target.compare_exchange_weak(old, value)) {
  }
  return old;
}
#endif  // !__CUDACC__

#if defined(__CUDACC__)
// CUDA has atomicAdd for unsigned long long only; two's complement makes it the signed sum too.
__device__ __forceinline__ int64_t atomicAdd(int64_t* address, int64_t value) {
  static_assert(sizeof(int64_t) == sizeof(unsigned long long));
  return static_cast<int64_t>(
      atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value)));
}
#endif

// ---- static shared memory ---------------------------------------------------------------------
#if defined(__CUDACC__)
#define ATTNSCALE_SHARED(T, name, count) __shared__ T name[count]
#else
#define ATTNSCALE_SHARED(T, name, count)                                                             \
  static const char name##_shared_key = 0;                                                           \
  T* const name = static_cast<T*>(::attnscale::cuda::emulation::static_shared(                       \
      &name##_shared_key, sizeof(T) * static_cast<size_t>(count), alignof(T)))
#endif

namespace attnscale::cuda {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullMask = 0xffffffffu;
inline constexpr int64_t kMaxGridBlocks = 4096;

// ---- indices ----------------------------------------------------------------------------------
__device__ __forceinline__ int thread_rank() {
  return static_cast<int>(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
}
__device__ __forceinline__ int lane_id() { return thread_rank() % kWarpSize; }
__device__ __forceinline__ int warp_id() { return thread_rank() / kWarpSize; }
__device__ __forceinline__ int warps_per_block() {
  return static_cast<int>((blockDim.x * blockDim.y * blockDim.z + kWarpSize - 1) / kWarpSize);
}
__device__ __forceinline__ int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t global_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// ---- dynamic shared memory ----------------------------------------------------------------------
template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
#if defined(__CUDACC__)
  extern __shared__ __align__(16) unsigned char attnscale_dynamic_shared_memory[];
  return reinterpret_cast<T*>(attnscale_dynamic_shared_memory);
#else
  return static_cast<T*>(emulation::dynamic_shared());
#endif
}

// ---- math: one name per function for float and double -------------------------------------------
namespace math {
#if defined(__CUDACC__)
__device__ __forceinline__ float exp(float x) { return ::expf(x); }
__device__ __forceinline__ double exp(double x) { return ::exp(x); }
__device__ __forceinline__ float log(float x) { return ::logf(x); }
__device__ __forceinline__ double log(double x) { return ::log(x); }
__device__ __forceinline__ float log1p(float x) { return ::log1pf(x); }
__device__ __forceinline__ double log1p(double x) { return ::log1p(x); }
__device__ __forceinline__ float sqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float rsqrt(float x) { return ::rsqrtf(x); }
__device__ __forceinline__ double rsqrt(double x) { return ::rsqrt(x); }
__device__ __forceinline__ float tanh(float x) { return ::tanhf(x); }
__device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float erf(float x) { return ::erff(x); }
__device__ __forceinline__ double erf(double x) { return ::erf(x); }
__device__ __forceinline__ float erfc(float x) { return ::erfcf(x); }
__device__ __forceinline__ double erfc(double x) { return ::erfc(x); }
__device__ __forceinline__ float pow(float x, float y) { return ::powf(x, y); }
__device__ __forceinline__ double pow(double x, double y) { return ::pow(x, y); }
__device__ __forceinline__ float abs(float x) { return ::fabsf(x); }
__device__ __forceinline__ double abs(double x) { return ::fabs(x); }
__device__ __forceinline__ float sin(float x) { return ::sinf(x); }
__device__ __forceinline__ double sin(double x) { return ::sin(x); }
__device__ __forceinline__ float cos(float x) { return ::cosf(x); }
__device__ __forceinline__ double cos(double x) { return ::cos(x); }
template <typename T>
__device__ __forceinline__ bool isfinite(T x) { return ::isfinite(x); }
#else
template <typename T> T exp(T x) { return std::exp(x); }
template <typename T> T log(T x) { return std::log(x); }
template <typename T> T log1p(T x) { return std::log1p(x); }
template <typename T> T sqrt(T x) { return std::sqrt(x); }
template <typename T> T rsqrt(T x) { return T(1) / std::sqrt(x); }
template <typename T> T tanh(T x) { return std::tanh(x); }
template <typename T> T erf(T x) { return std::erf(x); }
template <typename T> T erfc(T x) { return std::erfc(x); }
template <typename T> T pow(T x, T y) { return std::pow(x, y); }
template <typename T> T abs(T x) { return std::fabs(x); }
template <typename T> T sin(T x) { return std::sin(x); }
template <typename T> T cos(T x) { return std::cos(x); }
template <typename T> bool isfinite(T x) { return std::isfinite(x); }
#endif
// max/min as fmax/fmin would be: a NaN argument loses to a number. Kernels that must propagate NaN
// (reductions feeding a softmax) compare explicitly.
template <typename T>
__device__ __forceinline__ T max(T a, T b) { return a > b ? a : b; }
template <typename T>
__device__ __forceinline__ T min(T a, T b) { return a < b ? a : b; }
template <typename T>
__device__ __forceinline__ T infinity() { return std::numeric_limits<T>::infinity(); }
}  // namespace math

// ---- reductions -----------------------------------------------------------------------------------
// Butterfly over the warp: after log2(32) exchanges every lane holds op over all 32 lanes, combined
// in the same order on every lane (bitwise the same result everywhere).
template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // propagates NaN: a NaN anywhere makes the maximum NaN
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return (a != a || a > b) ? a : b; }
};

template <typename T>
__device__ __forceinline__ T warp_sum(T v) { return warp_reduce(v, SumOp{}); }
template <typename T>
__device__ __forceinline__ T warp_max(T v) { return warp_reduce(v, MaxOp{}); }

// Warp results meet in shared memory, then every warp reduces the per-warp partials, so every
// thread returns the block's result. The trailing barrier lets the caller reduce again at once.
template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T identity) {
  ATTNSCALE_SHARED(T, partials, kWarpSize);
  v = warp_reduce(v, op);
  if (lane_id() == 0) partials[warp_id()] = v;
  __syncthreads();
  v = lane_id() < warps_per_block() ? partials[lane_id()] : identity;
  v = warp_reduce(v, op);
  __syncthreads();
  return v;
}

template <typename T>
__device__ __forceinline__ T block_sum(T v) { return block_reduce(v, SumOp{}, T(0)); }
template <typename T>
__device__ __forceinline__ T block_max(T v) { return block_reduce(v, MaxOp{}, -math::infinity<T>()); }

// ---- launch --------------------------------------------------------------------------------------
// Blocks of `threads` for a grid-stride loop over n elements (n > 0).
inline unsigned int blocks_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned int>(blocks < kMaxGridBlocks ? blocks : kMaxGridBlocks);
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, Stream stream, Args... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: the kernel takes a different number of arguments");
#if defined(__CUDACC__)
  constexpr size_t kDefaultDynamicShared = 48 * 1024;
  if (shared_bytes > kDefaultDynamicShared)
    ATTNSCALE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              static_cast<int>(shared_bytes)));
  kernel<<<grid, block, shared_bytes, stream>>>(static_cast<Params>(args)...);
  ATTNSCALE_CUDA_CHECK(cudaGetLastError());
#else
  (void)stream;
  const std::tuple<Params...> params(static_cast<Params>(args)...);
  emulation::run_grid(grid, block, shared_bytes, [&] { std::apply(kernel, params); });
#endif
}

}  // namespace attnscale::cuda
