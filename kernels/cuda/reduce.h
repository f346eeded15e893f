// CUDA launchers of the reductions along one axis (kernels/cuda/reduce.cu), the device side of
// framework/core/ops/reduce.cpp. x is contiguous and viewed as [outer, len, inner]; the axis is len; the
// outputs are [outer, inner].
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// out = sum over the axis (0 for len == 0).
template <typename T>
void sum_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, Stream stream);

// values = maximum over the axis, indices = position of its first occurrence (len > 0; NaN-free x).
template <typename T>
void max_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* values, int64_t* indices, Stream stream);

// out = log(sum exp(x)) over the axis; an all -inf slice gives -inf.
template <typename T>
void logsumexp_along(int64_t outer, int64_t len, int64_t inner, const T* x, T* out, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
