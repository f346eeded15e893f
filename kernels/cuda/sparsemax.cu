// Sparsemax over the rows of a matrix: one block per row, the threshold by Michelot's algorithm
// (block_sparsemax_threshold, kernels/cuda/sparsemax_row.cuh), the weights and gradients by the
// per-entry formulas the CPU kernels use (kernels/sparsemax.h).
#include "kernels/cuda/row_block.cuh"
#include "kernels/cuda/sparsemax.h"
#include "kernels/cuda/sparsemax_row.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

template <typename T>
__global__ void sparsemax_forward_kernel(int64_t rows, int64_t n, const T* z, T* p) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* zr = z + r * n;
    T* pr = p + r * n;
    const T tau = block_sparsemax_threshold(zr, n);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) pr[i] = kernels::sparsemax_weight(zr[i], tau);
  }
}

template <typename T>
__global__ void sparsemax_backward_kernel(int64_t rows, int64_t n, const T* p, const T* dp, T* dz) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* pr = p + r * n;
    const T* dpr = dp + r * n;
    T sum = 0, count = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      if (pr[i] > T(0)) sum += dpr[i], count += 1;
    sum = block_sum(sum);
    count = block_sum(count);
    const T mean = kernels::sparsemax_support_mean(sum, count);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dz[r * n + i] = kernels::sparsemax_grad(pr[i], dpr[i], mean);
  }
}

}  // namespace

template <typename T>
void sparsemax_forward(int64_t rows, int64_t n, const T* z, T* p, Stream stream) {
  if (rows > 0 && n > 0)
    launch(sparsemax_forward_kernel<T>, row_blocks(rows), row_block_threads(n), 0, stream, rows, n, z, p);
}

template <typename T>
void sparsemax_backward(int64_t rows, int64_t n, const T* p, const T* dp, T* dz, Stream stream) {
  if (rows > 0 && n > 0)
    launch(sparsemax_backward_kernel<T>, row_blocks(rows), row_block_threads(n), 0, stream, rows, n, p, dp, dz);
}

template void sparsemax_forward<float>(int64_t, int64_t, const float*, float*, Stream);
template void sparsemax_forward<double>(int64_t, int64_t, const double*, double*, Stream);
template void sparsemax_backward<float>(int64_t, int64_t, const float*, const float*, float*, Stream);
template void sparsemax_backward<double>(int64_t, int64_t, const double*, const double*, double*, Stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
