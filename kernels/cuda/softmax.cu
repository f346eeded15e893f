// Row softmax forward and backward: one block per row, block reductions for the maximum and sums.
#include "kernels/cuda/row_block.cuh"
#include "kernels/cuda/softmax.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

template <typename T>
__global__ void softmax_rows_kernel(const T* x, int64_t rows, int64_t n, T* y, bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = -math::infinity<T>();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = math::max(m, xr[i]);
    m = block_max(m);
    if (!math::isfinite(m)) {  // the same m in every thread: a uniform branch
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = log ? -math::infinity<T>() : T(0);
      continue;
    }
    T sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += math::exp(xr[i] - m);
    sum = block_sum(sum);
    if (log) {
      const T shift = m + math::log(sum);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] - shift;
    } else {
      const T inv = T(1) / sum;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = math::exp(xr[i] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_rows_backward_kernel(const T* y, const T* dy, int64_t rows, int64_t n, T* dx, bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* yr = y + r * n;
    const T* dyr = dy + r * n;
    T* dxr = dx + r * n;
    T dot = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dot += log ? dyr[i] : dyr[i] * yr[i];
    dot = block_sum(dot);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      dxr[i] = log ? dyr[i] - math::exp(yr[i]) * dot : yr[i] * (dyr[i] - dot);
  }
}

}  // namespace

template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t n, T* y, bool log, Stream stream) {
  if (rows > 0 && n > 0)
    launch(softmax_rows_kernel<T>, row_blocks(rows), row_block_threads(n), 0, stream, x, rows, n, y, log);
}

template <typename T>
void softmax_rows_backward(const T* y, const T* dy, int64_t rows, int64_t n, T* dx, bool log, Stream stream) {
  if (rows > 0 && n > 0)
    launch(softmax_rows_backward_kernel<T>, row_blocks(rows), row_block_threads(n), 0, stream, y, dy, rows, n, dx,
           log);
}

template void softmax_rows<float>(const float*, int64_t, int64_t, float*, bool, Stream);
template void softmax_rows<double>(const double*, int64_t, int64_t, double*, bool, Stream);
template void softmax_rows_backward<float>(const float*, const float*, int64_t, int64_t, float*, bool, Stream);
template void softmax_rows_backward<double>(const double*, const double*, int64_t, int64_t, double*, bool, Stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
