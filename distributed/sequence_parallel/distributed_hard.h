// Hard attention and log-softmax over a key axis sharded across the ranks of a communicator
// (DESIGN.md 3: "a distributed arg-max is an all-reduce MAXLOC"). Given the same scores and the
// same Gumbel noise (each rank its slice), the sample, the context, log p(sample) and all
// gradients equal the single-rank HardAttention (framework/attention/hard.h).
//
// Gradient convention (as Megatron's row-parallel layers): a tensor sharded along the key axis
// carries the gradient of its own entries; a tensor replicated on every rank (all_reduce_sum's
// output: the context, log p of the sample) feeds the same loss on every rank, counted once, so
// all_reduce_sum's backward passes the gradient through unchanged.
#pragma once

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/tensor.h"
#include "kernels/layout.h"

namespace attnscale {

// Sum over the ranks (forward), identity (backward): for values every rank then uses alike.
Tensor all_reduce_sum(const Tensor& x, Communicator& comm);

// log_softmax over the sharded last axis: the log-sum-exp of each row is merged across ranks
// (max, then sum of exp(z - max)). Backward: dz = g - softmax * sum_all(g), one all-reduce.
Tensor distributed_log_softmax(const Tensor& scores, Communicator& comm);

// The global position of the largest entry of each row of x [rows, m_local] over all ranks (ties:
// the smallest position, like argmax's first maximum), by one all_reduce_loc MAXLOC.
// key_positions: global positions of the m_local local entries. Returns int64 [rows].
Tensor distributed_argmax(const Tensor& x, Communicator& comm, const kernels::Positions& key_positions);

// One-hot rows over the local entries: out[r, j] = 1 iff key_positions[j] == index[r].
Tensor local_one_hot(const Tensor& index, const kernels::Positions& key_positions, DType dtype);

struct DistributedHardRead {
  Tensor context;   // [B, Dv], replicated: sum_j weights[b, j] values[b, j, :] over all ranks
  Tensor weights;   // [B, m_local]: one-hot (value); straight-through: relaxed gradient
  Tensor index;     // [B] int64: global position of the chosen key
  Tensor log_prob;  // [B], replicated: log p(index) (no gradient when straight_through)
};

struct DistributedHardOptions {
  bool straight_through = false;  // else REINFORCE: weights carry no gradient, log_prob does
  double temperature = 1.0;       // of the relaxed weights (straight_through)
};

// scores [B, m_local], values [B, m_local, Dv]: this rank's keys at key_positions. noise [B,
// m_local]: this rank's slice of the Gumbel noise (training), or undefined for the arg-max
// (evaluation). Mirrors HardAttention::forward without a padding mask (use -inf scores for it).
DistributedHardRead distributed_hard_attention(const Tensor& scores, const Tensor& values, const Tensor& noise,
                                               Communicator& comm, const kernels::Positions& key_positions,
                                               const DistributedHardOptions& options = {});

}  // namespace attnscale
