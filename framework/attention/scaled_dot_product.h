// Scaled dot-product attention (Vaswani et al. 2017, arXiv:1706.03762, section 3.2.1):
//   Attention(Q, K, V) = normalise(Q K^T * scale + mask) V
// the one function every dot-product mechanism (self, cross, multi-head, MLA, sparse) calls, and
// the one place that picks the implementation:
//   softmax   + fused  -> the fused blockwise kernel (framework/core/ops/attention.h)
//   sparsemax + fused  -> the general attention path (framework/core/ops/sparsemax.h)
//   either    + plain  -> plain ops on materialised [N, M] scores (the reference)
// The mask is the kernel descriptor of AttentionSpec (positional parts in global positions,
// segments, key padding); the plain path reads the same descriptor as an additive bias.
#pragma once

#include "framework/core/ops/attention.h"
#include "kernels/general_attention.h"

namespace attnscale::attention {

struct ScaledDotProductOptions {
  kernels::Normalizer normalizer = kernels::Normalizer::softmax;
  bool fused = true;  // false = plain ops (materialised scores)
};

// q [B, Hq, N, D], k [B, Hkv, M, D], v [B, Hkv, M, Dv] with Hkv dividing Hq (grouped-query heads
// share a key/value head) -> [B, Hq, N, Dv]. spec.scale 0 = 1/sqrt(D). Rows with no allowed key
// give zero output on every path.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                    const ScaledDotProductOptions& options = {});

// The whole mask of `spec` (positional parts, segments, key padding) as an additive bias for
// `batch` rows of n queries and m keys: [batch, 1, n, m], or [n, m] when the mask has no per-token
// part; 0 = allowed, -inf = masked. Undefined when nothing is masked.
Tensor attention_bias(const AttentionSpec& spec, int64_t batch, int64_t n, int64_t m, DType dtype);

}  // namespace attnscale::attention
