// Builds the kernel mask descriptor (kernels/mask.h) from the attention config: the one mask that
// the fused kernel, the plain path (as an additive bias) and the distributed schedulers all read.
#pragma once

#include "framework/config/config.h"
#include "framework/core/tensor/tensor.h"
#include "kernels/mask.h"

namespace attnscale::attention {

// Masks for an autoregressive model over sequences of `seq_len` tokens (global positions
// 0..seq_len-1): causal; window = causal sliding window of `window` keys; block_sparse = the
// causal variant of the configured pattern. mask=none is refused (it would show the future).
kernels::Mask causal_lm_mask(const AttentionConfig& cfg, int64_t seq_len, uint64_t seed);

// The positional parts of `mask` as an additive bias [N, M] (0 allowed, -inf masked) for queries
// and keys at the given global positions: the plain path's view of the same descriptor.
Tensor mask_bias(const kernels::Mask& mask, const kernels::Positions& q_positions,
                 const kernels::Positions& k_positions, DType dtype);

}  // namespace attnscale::attention
