// CUDA launchers of the optimizer kernels (kernels/cuda/optim.cu), parallel to kernels/optim.h: the
// same per-element updates (kernels/optim_math.h) and the pieces of gradient clipping.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/optim.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const kernels::SgdStep& step, Stream stream);

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const kernels::AdamStep& step,
                 Stream stream);

// Doubles of device workspace sum_of_squares needs.
inline constexpr int64_t kSumOfSquaresPartials = 1024;

// *total (device memory) += sum of x[i]^2, accumulated in double in a fixed order (fixed blocks,
// then the block sums in order), so a result does not vary between runs. Call it for every
// gradient into one total, then read the total once: the clipping norm is sqrt(total).
// workspace: kSumOfSquaresPartials doubles of device memory.
template <typename T>
void sum_of_squares(int64_t n, const T* x, double* workspace, double* total, Stream stream);

// *first (device memory) = index of the first NaN or infinity in x, or -1.
template <typename T>
void first_non_finite(int64_t n, const T* x, int64_t* first, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
