// Sparsemax without sorting: Michelot's algorithm (1986; Condat, "Fast projection onto the simplex
// and the l1 ball", 2016). Start from the support S = all finite entries and
// tau = (sum_S z - 1) / |S|; drop every entry <= tau and recompute, until S no longer shrinks. tau
// only grows, so S = {z > previous tau} each round, one block reduction over the row in global
// memory (no row length limit); it ends at the exact threshold of the CPU's sort-based
// kernels::sparsemax_threshold, in at most n rounds and in practice a handful.
#include "kernels/cuda/row_block.cuh"
#include "kernels/cuda/sparsemax.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

template <typename T>
__global__ void sparsemax_forward_kernel(int64_t rows, int64_t n, const T* z, T* p) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* zr = z + r * n;
    T* pr = p + r * n;
    T tau = -math::infinity<T>();
    T previous_count = -1;  // counts as T: block_sum reduces one type
    // At most n + 1 rounds even if rounding ever made tau step back.
    for (int64_t round = 0; round <= n; ++round) {
      T sum = 0, count = 0;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        if (zr[i] > tau) sum += zr[i], count += 1;
      sum = block_sum(sum);
      count = block_sum(count);
      if (count == 0) {  // no finite entry: p = 0 everywhere
        tau = math::infinity<T>();
        break;
      }
      tau = (sum - T(1)) / count;
      if (count == previous_count) break;
      previous_count = count;
    }
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) pr[i] = math::max(zr[i] - tau, T(0));
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
    const T mean = count > 0 ? sum / count : T(0);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dz[r * n + i] = pr[i] > T(0) ? dpr[i] - mean : T(0);
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
