// Cross-entropy: the forward is one block per row (maximum and sum of exponentials by block
// reductions); the backward is elementwise given lse.
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/row_block.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

template <typename T>
__global__ void cross_entropy_forward_kernel(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                                             int64_t ignore_index, T* loss, T* lse) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* x = logits + r * classes;
    T m = -math::infinity<T>();
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) m = math::max(m, x[c]);
    m = block_max(m);
    T sum = 0;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) sum += math::exp(x[c] - m);
    sum = block_sum(sum);
    if (threadIdx.x == 0) {
      const T row_lse = m + math::log(sum);
      lse[r] = row_lse;
      loss[r] = targets[r] == ignore_index ? T(0) : row_lse - x[targets[r]];
    }
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                                              int64_t ignore_index, const T* lse, const T* grad_loss, T* grad_logits) {
  const int64_t n = rows * classes;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const int64_t r = i / classes, c = i % classes, target = targets[r];
    if (target == ignore_index) {
      grad_logits[i] = T(0);
    } else {
      const T g = grad_loss[r] * math::exp(logits[i] - lse[r]);
      grad_logits[i] = c == target ? g - grad_loss[r] : g;
    }
  }
}

constexpr int kThreads = 256;

}  // namespace

template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                           int64_t ignore_index, T* loss, T* lse, Stream stream) {
  if (rows > 0)
    launch(cross_entropy_forward_kernel<T>, row_blocks(rows), row_block_threads(classes), 0, stream, rows, classes,
           logits, targets, ignore_index, loss, lse);
}

template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                            int64_t ignore_index, const T* lse, const T* grad_loss, T* grad_logits, Stream stream) {
  if (rows > 0 && classes > 0)
    launch(cross_entropy_backward_kernel<T>, blocks_for(rows * classes, kThreads), kThreads, 0, stream, rows, classes,
           logits, targets, ignore_index, lse, grad_loss, grad_logits);
}

#define INSTANTIATE(T)                                                                                           \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, T*, T*, Stream);  \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, const T*,        \
                                          const T*, T*, Stream);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
