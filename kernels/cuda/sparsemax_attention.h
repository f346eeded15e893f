// CUDA launchers of sparsemax attention, out = sparsemax(scale * q k^T, masked) v
// (kernels/cuda/sparsemax_attention.cu): the GPU counterpart of the CPU's general attention path
// with Normalizer::sparsemax and DotScore(head_dim, params.scale) (kernels/general_attention.h).
//
//   - The same params and buffer structs as kernels/cuda/attention.h, with its memory rules: every
//     span and the mask's per-token spans are device memory, positions and the block pattern stay
//     on the host (uploaded by the launcher, stream-ordered).
//   - The CPU's conventions: io.lse and io.delta must be empty and merge_into_output false
//     (sparsemax has no log-sum-exp state); a row with no allowed key gives out 0 and zero
//     gradients; accumulate_dq / accumulate_dkv add to dq / dk, dv.
//   - head_dim and value_dim up to 256 (UsageError otherwise); any key length (scores live in a
//     device scratch of at most 64 MiB; more keys mean fewer rows in flight).
//   - Arguments are checked as on the CPU (UsageError "[attention] ...").
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <typename T>
void sparsemax_attention_forward(const kernels::AttentionParams& params,
                                 const kernels::AttentionForwardBuffers<T>& io, Stream stream);

template <typename T>
void sparsemax_attention_backward(const kernels::AttentionParams& params,
                                  const kernels::AttentionBackwardBuffers<T>& io, Stream stream);

// Largest head_dim / value_dim the kernels take.
inline constexpr int64_t kSparsemaxAttentionMaxHeadDim = 256;

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
