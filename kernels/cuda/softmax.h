// CUDA launchers of the row-wise softmax kernels (kernels/cuda/softmax.cu), parallel to
// kernels/softmax.h, with the backward passes fused into one kernel each.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// y = softmax (or log_softmax when `log`) of each row of the contiguous [rows, n] matrix x; a row
// that is entirely -inf gives zeros (softmax) or -inf (log_softmax), as kernels::softmax_rows.
template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t n, T* y, bool log, Stream stream);

// dx from y = softmax_rows(x) and dy: softmax dx = y * (dy - sum(dy * y)); log_softmax
// dx = dy - exp(y) * sum(dy), each sum over the row. dx may alias dy.
template <typename T>
void softmax_rows_backward(const T* y, const T* dy, int64_t rows, int64_t n, T* dx, bool log, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
