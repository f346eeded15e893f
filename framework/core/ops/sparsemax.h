// Sparsemax (Martins & Astudillo 2016, arXiv:1602.02068) as differentiable ops: the Euclidean
// projection of scores onto the probability simplex, which gives exact zeros. Two front ends over
// the CPU kernels of kernels/sparsemax.h and kernels/general_attention.h, and on a GPU over
// kernels/cuda/sparsemax.h and kernels/cuda/sparsemax_attention.h:
//   sparsemax            along one axis of any float tensor (the plain path: materialised scores)
//   sparsemax_attention  sparsemax(q k^T * scale) v over the general attention path, which holds
//                        one row block of scores per thread, never [N, M]
// Masked entries (-inf scores, masked pairs) get weight 0; a row with nothing allowed is all 0.
#pragma once

#include "framework/core/ops/attention.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale {

// p = sparsemax(x) along `axis`. The backward is dz_i = dp_i - mean_{j in S} dp_j on the support
// S = {p_j > 0} and 0 elsewhere.
Tensor sparsemax(const Tensor& x, int axis = -1);

// q [B, Hq, N, D], k [B, Hkv, M, D], v [B, Hkv, M, Dv] (float32 or float64) -> [B, Hq, N, Dv]:
// the fused op's inputs and spec (mask, positions, key padding, scale) with sparsemax weights.
Tensor sparsemax_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec);

}  // namespace attnscale
