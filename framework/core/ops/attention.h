// Fused blockwise attention as one differentiable op over the kernels of kernels/attention.h:
// never materialises the [N, M] scores, keeps (out, lse) in fp32, skips tiles the mask empties.
// The backward recomputes scores tile by tile from the saved lse.
#pragma once

#include <memory>
#include <vector>

#include "framework/core/tensor/tensor.h"
#include "kernels/attention.h"

namespace attnscale {

// What the op needs besides q, k, v. The per-token mask parts (segments, key padding) are owned
// here, so the backward can use them after the caller's buffers are gone.
struct AttentionSpec {
  double scale = 0.0;  // 0 = 1/sqrt(D)
  kernels::Mask mask;  // positional parts (causal, window, block pattern); spans are set by the op
  kernels::Positions q_positions;  // global positions of the N queries (empty: 0..N-1)
  kernels::Positions k_positions;  // global positions of the M keys (empty: 0..M-1)
  std::vector<int32_t> q_segment, k_segment;  // [B*N], [B*M]; both or neither
  std::vector<int32_t> k_valid;               // [B*M]; empty = all keys present
};

// The kernel parameters for q, k, v and spec (shapes, dtypes and mask spans checked): the one
// translation of an AttentionSpec, shared by this op and the general-path ops
// (framework/core/ops/sparsemax.h). The mask's spans point into `spec`, which must outlive the result.
kernels::AttentionParams attention_params(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec);

// q [B, Hq, N, D], k [B, Hkv, M, D], v [B, Hkv, M, Dv] (float32 or float64) -> out [B, Hq, N, Dv].
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec);

// The same, also returning the log-sum-exp [B, Hq, N] of each row (-inf for fully masked rows).
// The lse output carries no gradient.
std::pair<Tensor, Tensor> fused_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                   const AttentionSpec& spec);

}  // namespace attnscale
