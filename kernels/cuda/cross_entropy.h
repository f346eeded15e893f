// CUDA launchers of cross-entropy fused with log-softmax (kernels/cuda/cross_entropy.cu), parallel
// to kernels/cross_entropy.h. Targets must have been validated (find_index_out_of_range).
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// lse[r] = log(sum_c exp(logits[r, c])), loss[r] = lse[r] - logits[r, targets[r]] (0 when ignored).
template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                           int64_t ignore_index, T* loss, T* lse, Stream stream);

// grad_logits[r, c] = grad_loss[r] * (exp(logits[r, c] - lse[r]) - [c == targets[r]]); ignored rows get 0.
template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                            int64_t ignore_index, const T* lse, const T* grad_loss, T* grad_logits, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
