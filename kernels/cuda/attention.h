// CUDA launchers of fused scaled-dot attention (kernels/cuda/attention.cu), parallel to
// kernels/attention.h: the same params and buffer structs, plus the stream.
//
//   - Every span of the buffers and the mask's per-token spans (q_segment, k_segment, k_valid) is
//     device memory; params.q_positions / k_positions and the BlockPattern stay on the host (the
//     launcher uploads their flat forms, stream-ordered).
//   - Same conventions as the CPU kernel: natural-log lse, a row with no allowed key gives out 0,
//     lse -inf and zero gradients; merge_into_output / accumulate_dq / accumulate_dkv modes.
//   - head_dim and value_dim up to 128 for float, up to 64 for double (UsageError otherwise).
//   - params.tiles and params.progress are not used: the kernels have their own tile shapes and
//     run asynchronously on `stream` (a ring overlaps its transfers through streams instead).
//   - Arguments are checked as on the CPU (UsageError "[attention] ...").
#pragma once

#include <cstdint>
#include <span>

#include "kernels/attention.h"
#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <typename T>
void attention_forward(const kernels::AttentionParams& params,
                       const kernels::AttentionForwardBuffers<T>& io, Stream stream);

template <typename T>
void attention_backward(const kernels::AttentionParams& params,
                        const kernels::AttentionBackwardBuffers<T>& io, Stream stream);

// delta[r] = sum_c dout[r, c] * out[r, c] for rows r of length dv.
template <typename T>
void attention_delta(std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta, Stream stream);

// Largest head_dim / value_dim the kernels take for T.
template <typename T>
constexpr int64_t attention_max_head_dim() {
  return sizeof(T) == 4 ? 128 : 64;
}

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda
