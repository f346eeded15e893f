// Distributed global attention: a few queries, replicated on every rank of `group`, attend over a
// memory whose keys and values are sharded across the group (Luong global attention over a
// sharded source, MemN2N reads, sentence-level pooling over a sharded document).
//
// Forward: each rank computes its partial (out, lse) over its own keys with the fused kernel; one
// all-gather of the partial states; every rank merges them in rank order with the one merge
// function (kernels/softmax_merge.h), so every rank holds the same output.
//
// Gradient convention (that of every tensor replicated over a cp group, whose parameter gradients
// the trainer sums over the group): the gradient of the replicated output is the sum of the
// gradients the ranks pass in (one all-reduce), and the gradient returned for the replicated q is
// this rank's share, whose sum over the group is the full gradient. A loss computed identically on
// every rank should therefore be scaled by 1 / group size (or counted on one rank only).
// dk, dv are the gradients of this rank's shard.
#pragma once

#include <utility>

#include "distributed/comm/communicator.h"
#include "framework/core/ops/attention.h"

namespace attnscale {

// q [B, Hq, Nq, D] (the same on every rank), k [B, Hkv, m_rank, D], v [B, Hkv, m_rank, Dv] ->
// out [B, Hq, Nq, Dv] (the same on every rank). spec as for fused_attention, per rank: k_positions
// and the key parts (k_segment, k_valid) describe the local keys; empty k_positions put the shards
// one after another in rank order. group == nullptr: one rank.
Tensor distributed_global_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionSpec& spec, Communicator* group);

// Also returns the merged log-sum-exp [B, Hq, Nq] (no gradient).
std::pair<Tensor, Tensor> distributed_global_attention_with_lse(const Tensor& q, const Tensor& k,
                                                                const Tensor& v, const AttentionSpec& spec,
                                                                Communicator* group);

}  // namespace attnscale
