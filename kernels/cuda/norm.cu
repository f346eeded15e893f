// LayerNorm and RMSNorm: one block per row for the forward and for dx (block reductions over the
// row); dgamma and dbeta by a second kernel with one thread per column summing over the rows, so
// the sums have a fixed order (no atomics) and a warp reads consecutive columns.
#include "kernels/cuda/norm.h"
#include "kernels/cuda/row_block.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kColumnThreads = 256;

// Centered: LayerNorm (subtracts the mean); otherwise RMSNorm. mean may be null for RMSNorm.
template <bool Centered, typename T>
__global__ void norm_forward_kernel(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* beta, T eps, T* y,
                                    T* mean, T* rstd) {
  const T inv_dim = T(1) / static_cast<T>(dim);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * dim;
    T* yr = y + r * dim;
    T mu = 0;
    if constexpr (Centered) {
      for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) mu += xr[j];
      mu = block_sum(mu) * inv_dim;
    }
    T squares = 0;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) squares += (xr[j] - mu) * (xr[j] - mu);
    const T inv = math::rsqrt(block_sum(squares) * inv_dim + eps);
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
      const T scaled = (xr[j] - mu) * inv * gamma[j];
      yr[j] = beta ? scaled + beta[j] : scaled;
    }
    if (threadIdx.x == 0) {
      if constexpr (Centered) mean[r] = mu;
      rstd[r] = inv;
    }
  }
}

template <bool Centered, typename T>
__global__ void norm_backward_dx_kernel(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* mean,
                                        const T* rstd, const T* dy, T* dx) {
  const T inv_dim = T(1) / static_cast<T>(dim);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * dim;
    const T* dyr = dy + r * dim;
    const T mu = Centered ? mean[r] : T(0), inv = rstd[r];
    T g_sum = 0, gx_sum = 0;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
      const T g = dyr[j] * gamma[j];
      g_sum += g;
      gx_sum += g * (xr[j] - mu) * inv;
    }
    const T g_mean = Centered ? block_sum(g_sum) * inv_dim : T(0);
    const T gx_mean = block_sum(gx_sum) * inv_dim;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
      const T xhat = (xr[j] - mu) * inv;
      dx[r * dim + j] = inv * (dyr[j] * gamma[j] - g_mean - xhat * gx_mean);
    }
  }
}

// dgamma[j] = sum_r dy[r, j] * xhat[r, j]; dbeta[j] = sum_r dy[r, j] (when dbeta is not null).
template <bool Centered, typename T>
__global__ void norm_backward_params_kernel(int64_t rows, int64_t dim, const T* x, const T* mean, const T* rstd,
                                            const T* dy, T* dgamma, T* dbeta) {
  for (int64_t j = global_index(); j < dim; j += global_stride()) {
    T g_acc = 0, b_acc = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T mu = Centered ? mean[r] : T(0);
      const T d = dy[r * dim + j];
      g_acc += d * (x[r * dim + j] - mu) * rstd[r];
      b_acc += d;
    }
    dgamma[j] = g_acc;
    if (dbeta) dbeta[j] = b_acc;
  }
}

template <bool Centered, typename T>
void norm_forward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                  T* rstd, Stream stream) {
  if (rows > 0 && dim > 0)
    launch(norm_forward_kernel<Centered, T>, row_blocks(rows), row_block_threads(dim), 0, stream, rows, dim, x, gamma,
           beta, static_cast<T>(eps), y, mean, rstd);
}

template <bool Centered, typename T>
void norm_backward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                   T* dx, T* dgamma, T* dbeta, Stream stream) {
  if (rows <= 0 || dim <= 0) return;
  launch(norm_backward_dx_kernel<Centered, T>, row_blocks(rows), row_block_threads(dim), 0, stream, rows, dim, x,
         gamma, mean, rstd, dy, dx);
  launch(norm_backward_params_kernel<Centered, T>, blocks_for(dim, kColumnThreads), kColumnThreads, 0, stream, rows,
         dim, x, mean, rstd, dy, dgamma, dbeta);
}

}  // namespace

template <typename T>
void layer_norm_forward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* beta, double eps, T* y,
                        T* mean, T* rstd, Stream stream) {
  norm_forward<true>(rows, dim, x, gamma, beta, eps, y, mean, rstd, stream);
}

template <typename T>
void layer_norm_backward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* mean, const T* rstd,
                         const T* dy, T* dx, T* dgamma, T* dbeta, Stream stream) {
  norm_backward<true>(rows, dim, x, gamma, mean, rstd, dy, dx, dgamma, dbeta, stream);
}

template <typename T>
void rms_norm_forward(int64_t rows, int64_t dim, const T* x, const T* gamma, double eps, T* y, T* rstd, Stream stream) {
  norm_forward<false>(rows, dim, x, gamma, static_cast<const T*>(nullptr), eps, y, static_cast<T*>(nullptr), rstd,
                      stream);
}

template <typename T>
void rms_norm_backward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* rstd, const T* dy, T* dx,
                       T* dgamma, Stream stream) {
  norm_backward<false>(rows, dim, x, gamma, static_cast<const T*>(nullptr), rstd, dy, dx, dgamma,
                       static_cast<T*>(nullptr), stream);
}

#define INSTANTIATE(T)                                                                                             \
  template void layer_norm_forward<T>(int64_t, int64_t, const T*, const T*, const T*, double, T*, T*, T*, Stream); \
  template void layer_norm_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, Stream);                                                               \
  template void rms_norm_forward<T>(int64_t, int64_t, const T*, const T*, double, T*, T*, Stream);                 \
  template void rms_norm_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, T*, T*, Stream);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
