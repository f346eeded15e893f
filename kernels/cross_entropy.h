// Cross-entropy fused with log-softmax, on raw pointers (CPU in kernels/cpu/cross_entropy.cpp).
// logits are a contiguous [rows, classes] matrix; targets hold one class per row, or ignore_index.
// Targets must have been validated (kernels::find_index_out_of_range with ignore_index).
#pragma once

#include <cstdint>

namespace attnscale::kernels {

// lse[r] = log(sum_c exp(logits[r, c])) and loss[r] = lse[r] - logits[r, targets[r]];
// rows whose target is ignore_index get loss 0 (their lse is still written).
template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                           int64_t ignore_index, T* loss, T* lse);

// grad_logits[r, c] = grad_loss[r] * (exp(logits[r, c] - lse[r]) - [c == targets[r]]); ignored rows get 0.
template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                            int64_t ignore_index, const T* lse, const T* grad_loss, T* grad_logits);

}  // namespace attnscale::kernels
