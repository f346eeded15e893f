// The threshold of sparsemax over one row, found by a whole block: shared by the row kernels
// (sparsemax.cu) and the sparsemax attention kernels (sparsemax_attention.cu).
//
// Michelot's algorithm (1986; Condat, "Fast projection onto the simplex and the l1 ball", 2016),
// which needs no sort: start from the support S = all finite entries and
// tau = (sum_S z - 1) / |S|; drop every entry <= tau and recompute, until S no longer shrinks. tau
// only grows, so S = {z > previous tau} each round, one block reduction over the row (which may
// live in global memory: no row length limit); it ends at the exact threshold of the CPU's
// sort-based kernels::sparsemax_threshold, in at most n rounds and in practice a handful.
#pragma once

#include <cstdint>

#include "kernels/cuda/primitives.cuh"
#include "kernels/sparsemax.h"

namespace attnscale::cuda {

// tau of z[0, n) (+inf when no entry is finite, so every weight is 0). Every thread of the block
// calls it and gets the result. Counts are held as T (block_sum reduces one type): exact below 2^24
// entries in float.
template <typename T>
__device__ T block_sparsemax_threshold(const T* z, int64_t n) {
  T tau = -math::infinity<T>();
  T previous_count = -1;
  // At most n + 1 rounds even if rounding ever made tau step back.
  for (int64_t round = 0; round <= n; ++round) {
    T sum = 0, count = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      if (z[i] > tau) sum += z[i], count += 1;
    sum = block_sum(sum);
    count = block_sum(count);
    if (count == 0) return math::infinity<T>();
    tau = kernels::sparsemax_support_threshold(sum, count);
    if (count == previous_count) break;
    previous_count = count;
  }
  return tau;
}

}  // namespace attnscale::cuda
