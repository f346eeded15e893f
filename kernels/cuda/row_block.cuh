// Shared by the row kernels (softmax, cross-entropy, norms, sparsemax): one block per row of a
// [rows, n] matrix, its threads striding over the row.
#pragma once

#include <cstdint>

#include "kernels/cuda/primitives.cuh"

namespace attnscale::cuda {

// Threads per row block: a whole number of warps, enough for the row, at most 256.
inline int row_block_threads(int64_t n) {
  const int64_t warps = (n + kWarpSize - 1) / kWarpSize;
  return static_cast<int>(warps < 1 ? kWarpSize : (warps > 8 ? 256 : warps * kWarpSize));
}

// Blocks for `rows` rows (a block takes rows blockIdx.x, blockIdx.x + gridDim.x, ...).
inline unsigned int row_blocks(int64_t rows) {
  return static_cast<unsigned int>(rows < kMaxGridBlocks ? rows : kMaxGridBlocks);
}

}  // namespace attnscale::cuda
