// Indexing kernels: one thread per element of the index-shaped side, in grid-stride loops.
#include "kernels/cuda/find_first.cuh"
#include "kernels/cuda/indexing.h"
#include "kernels/cuda/primitives.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

struct OutOfRange {
  const int64_t* index;
  int64_t limit, ignored;
  __device__ bool operator()(int64_t i) const { return (index[i] < 0 || index[i] >= limit) && index[i] != ignored; }
};

template <typename T>
__global__ void gather_kernel(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len,
                              const int64_t* index, T* out) {
  const int64_t n = outer * index_len * inner;
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    const int64_t o = e / (index_len * inner), j = e % inner;
    out[e] = x[(o * x_len + index[e]) * inner + j];
  }
}

template <typename T>
__global__ void scatter_add_kernel(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len,
                                   const int64_t* index, const T* src) {
  const int64_t n = outer * index_len * inner;
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    const int64_t o = e / (index_len * inner), j = e % inner;
    atomicAdd(out + (o * out_len + index[e]) * inner + j, src[e]);
  }
}

template <typename T>
__global__ void index_select_kernel(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len,
                                    const int64_t* index, T* out) {
  const int64_t n = outer * index_len * inner;
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    const int64_t row = e / inner, j = e % inner, o = row / index_len, i = row % index_len;
    out[e] = x[(o * x_len + index[i]) * inner + j];
  }
}

template <typename T>
__global__ void index_add_kernel(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len,
                                 const int64_t* index, const T* src) {
  const int64_t n = outer * index_len * inner;
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    const int64_t row = e / inner, j = e % inner, o = row / index_len, i = row % index_len;
    atomicAdd(out + (o * out_len + index[i]) * inner + j, src[e]);
  }
}

}  // namespace

void find_index_out_of_range(int64_t n, const int64_t* index, int64_t limit, int64_t ignored, int64_t* first_bad,
                             Stream stream) {
  find_first(n, OutOfRange{index, limit, ignored}, first_bad, stream);
}

template <typename T>
void gather(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index, T* out,
            Stream stream) {
  const int64_t n = outer * index_len * inner;
  if (n > 0)
    launch(gather_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, outer, x_len, inner, x, index_len, index,
           out);
}

template <typename T>
void scatter_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
                 const T* src, Stream stream) {
  const int64_t n = outer * index_len * inner;
  if (n > 0)
    launch(scatter_add_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, outer, out_len, inner, out, index_len,
           index, src);
}

template <typename T>
void index_select(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index,
                  T* out, Stream stream) {
  const int64_t n = outer * index_len * inner;
  if (n > 0)
    launch(index_select_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, outer, x_len, inner, x, index_len,
           index, out);
}

template <typename T>
void index_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
               const T* src, Stream stream) {
  const int64_t n = outer * index_len * inner;
  if (n > 0)
    launch(index_add_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, outer, out_len, inner, out, index_len,
           index, src);
}

#define INSTANTIATE(T)                                                                                            \
  template void gather<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*, Stream);             \
  template void scatter_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*, Stream);        \
  template void index_select<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*, Stream);       \
  template void index_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*, Stream);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
