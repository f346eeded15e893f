// Optimizer updates (one thread per element, the shared per-element math of kernels/optim_math.h)
// and the reductions of gradient clipping.
#include "kernels/cuda/find_first.cuh"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/optim_math.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

struct DeviceSqrt {
  template <typename T>
  __device__ T operator()(T x) const { return math::sqrt(x); }
};

template <typename T>
__global__ void sgd_kernel(int64_t n, T* param, const T* grad, kernels::SgdScalars<T> s) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    T p = param[i];
    kernels::sgd_element(s, p, grad[i]);
    param[i] = p;
  }
}

template <typename T>
__global__ void sgd_momentum_kernel(int64_t n, T* param, const T* grad, T* momentum_buf, kernels::SgdScalars<T> s) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    T p = param[i], buf = momentum_buf[i];
    kernels::sgd_momentum_element(s, p, grad[i], buf);
    momentum_buf[i] = buf;
    param[i] = p;
  }
}

template <typename T>
__global__ void adam_kernel(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, kernels::AdamScalars<T> s) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    T p = param[i], m = exp_avg[i], v = exp_avg_sq[i];
    kernels::adam_element(s, p, grad[i], m, v, DeviceSqrt{});
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p;
  }
}

// Block b sums the squares of its grid-stride share into partials[b].
template <typename T>
__global__ void partial_squares_kernel(int64_t n, const T* x, double* partials) {
  double acc = 0;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const double v = static_cast<double>(x[i]);
    acc += v * v;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// One block adds the partials (a fixed tree) to *total.
__global__ void add_partials_kernel(int blocks, const double* partials, double* total) {
  double acc = 0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) acc += partials[b];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *total += acc;
}

template <typename T>
struct NonFinite {
  const T* x;
  __device__ bool operator()(int64_t i) const { return !math::isfinite(x[i]); }
};

}  // namespace

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const kernels::SgdStep& step, Stream stream) {
  if (n <= 0) return;
  const kernels::SgdScalars<T> s(step);
  if (step.momentum == 0)
    launch(sgd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, n, param, grad, s);
  else
    launch(sgd_momentum_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, n, param, grad, momentum_buf, s);
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const kernels::AdamStep& step,
                 Stream stream) {
  if (n > 0)
    launch(adam_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, n, param, grad, exp_avg, exp_avg_sq,
           kernels::AdamScalars<T>(step));
}

template <typename T>
void sum_of_squares(int64_t n, const T* x, double* workspace, double* total, Stream stream) {
  if (n <= 0) return;
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(wanted < kSumOfSquaresPartials ? wanted : kSumOfSquaresPartials);
  launch(partial_squares_kernel<T>, blocks, kThreads, 0, stream, n, x, workspace);
  launch(add_partials_kernel, 1, kThreads, 0, stream, static_cast<int>(blocks), static_cast<const double*>(workspace),
         total);
}

template <typename T>
void first_non_finite(int64_t n, const T* x, int64_t* first, Stream stream) {
  find_first(n, NonFinite<T>{x}, first, stream);
}

#define INSTANTIATE(T)                                                                                       \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const kernels::SgdStep&, Stream);                  \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, const kernels::AdamStep&, Stream);            \
  template void sum_of_squares<T>(int64_t, const T*, double*, double*, Stream);                             \
  template void first_non_finite<T>(int64_t, const T*, int64_t*, Stream);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
