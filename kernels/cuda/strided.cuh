// A contiguous output shape read through the strides of N operands (0 on broadcast axes): what the
// elementwise, copy and `where` kernels pass by value to map a linear output index to each
// operand's offset.
#pragma once

#include <cstdint>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch_checks.h"
#include "kernels/cuda/primitives.cuh"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <int N>
struct StridedShape {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  __device__ void offsets(int64_t linear, int64_t (&at)[N]) const {
    for (int k = 0; k < N; ++k) at[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t coordinate = linear % shape[d];
      linear /= shape[d];
      for (int k = 0; k < N; ++k) at[k] += coordinate * strides[k][d];
    }
  }
};

// Checks ndim against kMaxDims (naming `where`) and returns the shape with its element count.
template <int N>
StridedShape<N> strided_shape(const char* where, int ndim, const int64_t* shape,
                              const int64_t* const (&strides)[N], int64_t& numel) {
  check_dims(where, ndim, kMaxDims);
  StridedShape<N> s;
  s.ndim = ndim;
  numel = 1;
  for (int d = 0; d < ndim; ++d) {
    s.shape[d] = shape[d];
    numel *= shape[d];
    for (int k = 0; k < N; ++k) s.strides[k][d] = strides[k][d];
  }
  return s;
}

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
