// CUDA launchers of sparsemax over the rows of a contiguous [rows, n] matrix
// (kernels/cuda/sparsemax.cu), parallel to kernels/sparsemax.h (which works on one row): -inf
// entries are masked (p = 0), a row with no finite entry gives p = 0.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <typename T>
void sparsemax_forward(int64_t rows, int64_t n, const T* z, T* p, Stream stream);

// dz_i = dp_i - mean_{j : p_j > 0} dp_j where p_i > 0, else 0. dz may alias dp.
template <typename T>
void sparsemax_backward(int64_t rows, int64_t n, const T* p, const T* dp, T* dz, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
