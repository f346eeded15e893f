// The rows before a shard, for layers that attend over a band of recent tokens with their own
// score path (adaptive span): t [B, H, n_local, W], this rank's tokens of a sequence sharded
// contiguously, becomes [B, H, rows + n_local, W], the `rows` tokens before this rank's first one
// (zeros before the sequence start) followed by its own. The rows come straight from their owners,
// several ranks back when `rows` exceeds a shard: the FetchPlan of a causal window names them, as
// for halo_attention. Backward: the prefix's gradients go home and are added to their owners' rows.
#pragma once

#include <cstdint>

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/tensor.h"
#include "kernels/layout.h"

namespace attnscale {

// comm null or of one rank: `rows` zero rows, then t. Every rank of comm calls it together with the
// same rows and layout (contiguous, over comm's ranks).
Tensor halo_prefix(const Tensor& t, Communicator* comm, const kernels::Layout& layout, int64_t rows);

}  // namespace attnscale
