// Row-wise softmax and log-softmax on raw pointers (CPU in kernels/cpu/softmax.cpp).
#pragma once

#include <cstdint>

namespace attnscale::kernels {

// y = softmax (or log_softmax when `log`) of each row of the contiguous [rows, n] matrix x. A row
// that is entirely -inf gives zeros (softmax) or -inf (log_softmax) rather than NaN.
template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t n, T* y, bool log);

}  // namespace attnscale::kernels
