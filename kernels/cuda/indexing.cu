// Indexing, joining and selection kernels: one thread per element of the output (or of the
// index-shaped side for the accumulating ones), in grid-stride loops.
#include "kernels/cuda/find_first.cuh"
#include "kernels/cuda/indexing.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/cuda/strided.cuh"

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

template <typename T>
__global__ void copy_rows_kernel(int64_t rows, int64_t row_len, const T* src, int64_t src_stride, T* dst,
                                 int64_t dst_stride) {
  const int64_t n = rows * row_len;
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    const int64_t r = e / row_len, i = e % row_len;
    dst[r * dst_stride + i] = src[r * src_stride + i];
  }
}

template <typename T, typename C>
__global__ void where_kernel(StridedShape<3> shape, int64_t n, const C* cond, const T* a, const T* b, T* out) {
  for (int64_t e = global_index(); e < n; e += global_stride()) {
    int64_t at[3];
    shape.offsets(e, at);
    out[e] = cond[at[0]] != C(0) ? a[at[1]] : b[at[2]];
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

template <typename T>
void copy_rows(int64_t rows, int64_t row_len, const T* src, int64_t src_stride, T* dst, int64_t dst_stride,
               Stream stream) {
  const int64_t n = rows * row_len;
  if (n > 0)
    launch(copy_rows_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, rows, row_len, src, src_stride, dst,
           dst_stride);
}

template <typename T, typename C>
void where(int ndim, const int64_t* shape, const C* cond, const int64_t* cond_strides, const T* a,
           const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out, Stream stream) {
  int64_t n = 0;
  const StridedShape<3> s = strided_shape<3>("where", ndim, shape, {cond_strides, a_strides, b_strides}, n);
  if (n > 0) launch(where_kernel<T, C>, blocks_for(n, kThreads), kThreads, 0, stream, s, n, cond, a, b, out);
}

template void index_add<float>(int64_t, int64_t, int64_t, float*, int64_t, const int64_t*, const float*, Stream);
template void index_add<double>(int64_t, int64_t, int64_t, double*, int64_t, const int64_t*, const double*, Stream);

// Selection and joining also move integer tensors (ids, positions, masks), as on the CPU.
#define INSTANTIATE_ANY(T)                                                                                          \
  template void gather<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*, Stream);               \
  template void scatter_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*, Stream);          \
  template void index_select<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*, Stream);         \
  template void copy_rows<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t, Stream);                            \
  template void where<T, float>(int, const int64_t*, const float*, const int64_t*, const T*, const int64_t*,       \
                                const T*, const int64_t*, T*, Stream);                                             \
  template void where<T, double>(int, const int64_t*, const double*, const int64_t*, const T*, const int64_t*,     \
                                 const T*, const int64_t*, T*, Stream);                                            \
  template void where<T, int64_t>(int, const int64_t*, const int64_t*, const int64_t*, const T*, const int64_t*,   \
                                  const T*, const int64_t*, T*, Stream);
INSTANTIATE_ANY(float)
INSTANTIATE_ANY(double)
INSTANTIATE_ANY(int64_t)
#undef INSTANTIATE_ANY

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
