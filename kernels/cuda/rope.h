// CUDA launcher of rotary position embedding on global positions (kernels/cuda/rope.cu), the
// device side of framework/nn/rope.cpp; the angle and rotation come from kernels/rope.h.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// y = x [rows, n, d] (contiguous, d even) with pair (i, i + d/2) of token t rotated by
// rope_angle(positions[t], i, d, theta); `inverse` rotates back (the backward). y must not alias x.
template <typename T>
void rope_rotate(const T* x, T* y, int64_t rows, int64_t n, int64_t d, const int64_t* positions, double theta,
                 bool inverse, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
