// Scaled dot-product attention (Vaswani et al. 2017), written with plain differentiable ops:
// softmax(q k^T * scale + bias) v. It materialises the [N, M] scores, so it is the reference the
// fused blockwise kernel is checked against, and the path for small problems.
#pragma once

#include "framework/core/tensor/tensor.h"

namespace attnscale::attention {

// q [B, Hq, N, D], k [B, Hkv, M, D], v [B, Hkv, M, Dv] with Hkv dividing Hq (grouped-query heads
// share a key/value head); bias broadcasts to [B, Hq, N, M] (0 = allowed, -inf = masked) or is
// undefined. Fully masked rows give zero output. Returns [B, Hq, N, Dv].
Tensor scaled_dot_attention_plain(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, double scale);

// Repeats each of the Hkv heads Hq/Hkv times along axis 1: [B, Hkv, M, D] -> [B, Hq, M, D].
Tensor repeat_kv_heads(const Tensor& kv, int64_t q_heads);

}  // namespace attnscale::attention
