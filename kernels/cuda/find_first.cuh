// find_first: the smallest i < n for which a predicate holds, left in device memory (-1 if none).
// Threads that find one lower the result with atomicMin, so the answer does not depend on their
// order. Used to locate bad indices and non-finite gradients for error messages.
#pragma once

#include <cstdint>
#include <limits>

#include "kernels/cuda/primitives.cuh"

namespace attnscale::cuda {
namespace find_first_detail {

inline constexpr long long kNone = std::numeric_limits<long long>::max();
inline constexpr int kThreads = 256;

__global__ inline void set_none_kernel(long long* first) { *first = kNone; }

template <typename Predicate>
__global__ void scan_kernel(int64_t n, Predicate predicate, long long* first) {
  for (int64_t i = global_index(); i < n; i += global_stride())
    if (predicate(i)) atomicMin(first, static_cast<long long>(i));
}

__global__ inline void none_to_minus_one_kernel(long long* first) {
  if (*first == kNone) *first = -1;
}

}  // namespace find_first_detail

// predicate: a copyable functor with a __device__ bool operator()(int64_t i).
template <typename Predicate>
void find_first(int64_t n, Predicate predicate, int64_t* first, Stream stream) {
  static_assert(sizeof(long long) == sizeof(int64_t), "atomicMin works on long long");
  using namespace find_first_detail;
  long long* result = reinterpret_cast<long long*>(first);
  launch(set_none_kernel, 1, 1, 0, stream, result);
  if (n > 0) launch(scan_kernel<Predicate>, blocks_for(n, kThreads), kThreads, 0, stream, n, predicate, result);
  launch(none_to_minus_one_kernel, 1, 1, 0, stream, result);
}

}  // namespace attnscale::cuda
