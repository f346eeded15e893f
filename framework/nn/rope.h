// Rotary position embedding (Su et al. 2021, "RoFormer"), on *global* positions so that a
// sequence shard rotates its queries and keys exactly as the unsharded sequence would.
// Pairs (i, i + d/2) of the last axis are rotated by angle pos * theta^(-2i/d) (the "rotate half"
// convention of GPT-NeoX / Llama).
#pragma once

#include "framework/core/tensor/tensor.h"

namespace attnscale::nn {

// x [..., N, D] (D even), positions int64 [N] (global positions of the N rows). Differentiable in x.
// The positions describe the rows, like a mask: they may stay on the host when x is on a GPU (they
// are copied to it, N integers).
Tensor apply_rope(const Tensor& x, const Tensor& positions, double theta = 10000.0);

}  // namespace attnscale::nn
