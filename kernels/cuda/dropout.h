// CUDA launcher of inverted dropout (kernels/cuda/dropout.cu), parallel to kernels/dropout.h: the
// same Philox words decide the same elements, so a seed and counter give the CPU's mask exactly.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// out[i] = in[i] * scale where element i's Philox word is >= drop_below, else 0 (kernels::dropout).
template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale,
             Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
