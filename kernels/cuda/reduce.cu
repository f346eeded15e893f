// Reductions along one axis of [outer, len, inner]. With inner == 1 the axis is contiguous: one
// block per row and block reductions. Otherwise one thread per (outer, inner) walks the axis, so a
// warp reads consecutive elements of each slice.
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/row_block.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

enum class Reduction { sum, max, logsumexp };

struct MinOp {
  template <typename U>
  __device__ U operator()(U a, U b) const { return b < a ? b : a; }
};

// One slice walked by one thread: x[0], x[stride], ..., len elements.
template <Reduction R, typename T>
__device__ void reduce_slice(const T* x, int64_t len, int64_t stride, T* out, int64_t* index) {
  if constexpr (R == Reduction::sum) {
    T acc = 0;
    for (int64_t i = 0; i < len; ++i) acc += x[i * stride];
    *out = acc;
  } else if constexpr (R == Reduction::max) {
    T best = -math::infinity<T>();
    int64_t arg = 0;
    for (int64_t i = 0; i < len; ++i)
      if (x[i * stride] > best) best = x[i * stride], arg = i;
    *out = best;
    *index = arg;
  } else {
    T m = -math::infinity<T>();
    for (int64_t i = 0; i < len; ++i) m = math::max(m, x[i * stride]);
    T acc = 0;
    if (math::isfinite(m))
      for (int64_t i = 0; i < len; ++i) acc += math::exp(x[i * stride] - m);
    *out = math::isfinite(m) ? m + math::log(acc) : m;
  }
}

// One contiguous row reduced by the whole block.
template <Reduction R, typename T>
__device__ void reduce_row(const T* x, int64_t len, T* out, int64_t* index) {
  if constexpr (R == Reduction::sum) {
    T acc = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) acc += x[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) *out = acc;
  } else if constexpr (R == Reduction::max) {
    T best = -math::infinity<T>();
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) best = math::max(best, x[i]);
    best = block_max(best);
    int64_t first = len;  // the first position holding the maximum
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
      if (x[i] == best && i < first) first = i;
    first = block_reduce(first, MinOp{}, len);
    if (threadIdx.x == 0) *out = best, *index = first;
  } else {
    T m = -math::infinity<T>();
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) m = math::max(m, x[i]);
    m = block_max(m);
    T acc = 0;
    if (math::isfinite(m))
      for (int64_t i = threadIdx.x; i < len; i += blockDim.x) acc += math::exp(x[i] - m);
    acc = block_sum(acc);
    if (threadIdx.x == 0) *out = math::isfinite(m) ? m + math::log(acc) : m;
  }
}

template <Reduction R, typename T>
__global__ void rows_kernel(int64_t rows, int64_t len, const T* x, T* out, int64_t* indices) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x)
    reduce_row<R>(x + r * len, len, out + r, indices ? indices + r : nullptr);
}

template <Reduction R, typename T>
__global__ void slices_kernel(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, int64_t* indices) {
  const int64_t n = outer * inner;
  for (int64_t s = global_index(); s < n; s += global_stride()) {
    const int64_t o = s / inner, j = s % inner;
    reduce_slice<R>(x + o * len * inner + j, len, inner, out + s, indices ? indices + s : nullptr);
  }
}

template <Reduction R, typename T>
void reduce_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, int64_t* indices, Stream stream) {
  if (outer <= 0 || inner <= 0) return;
  if (inner == 1 && len > 0)
    launch(rows_kernel<R, T>, row_blocks(outer), row_block_threads(len), 0, stream, outer, len, x, out, indices);
  else
    launch(slices_kernel<R, T>, blocks_for(outer * inner, kThreads), kThreads, 0, stream, outer, len, inner, x, out,
           indices);
}

}  // namespace

template <typename T>
void sum_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, Stream stream) {
  reduce_along<Reduction::sum>(outer, len, inner, x, out, nullptr, stream);
}

template <typename T>
void max_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* values, int64_t* indices, Stream stream) {
  reduce_along<Reduction::max>(outer, len, inner, x, values, indices, stream);
}

template <typename T>
void logsumexp_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, Stream stream) {
  reduce_along<Reduction::logsumexp>(outer, len, inner, x, out, nullptr, stream);
}

#define INSTANTIATE(T)                                                                             \
  template void sum_along<T>(int64_t, int64_t, int64_t, const T*, T*, Stream);                     \
  template void max_along<T>(int64_t, int64_t, int64_t, const T*, T*, int64_t*, Stream);           \
  template void logsumexp_along<T>(int64_t, int64_t, int64_t, const T*, T*, Stream);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
