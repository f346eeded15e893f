// All-gather attention over a sequence group (the context parallelism of Llama 3, Dubey et al.
// 2024, arXiv:2407.21783, section 3.3.2): every rank gathers the whole sequence's keys and values
// and attends with its own queries; the backward sums each key row's gradient over the ranks and
// hands it to the row's owner. Each query sees its whole key row on one rank, so any normaliser
// works: this is the sequence-parallel path of sparsemax attention, whose threshold needs every
// score of a row. The price is the whole sequence's K and V in memory and on the wire per rank.
#pragma once

#include <utility>

#include "distributed/sequence_parallel/sequence_parallel_attention.h"
#include "kernels/general_attention.h"

namespace attnscale {

// q, k, v: this rank's shard [B, H, n_local, D] at group.layout.positions(rank); spec as for
// sequence_parallel_attention (per-token parts in local order; q/k positions from the layout).
// Returns this rank's output shard [B, Hq, n_local, Dv], equal to fused_attention (softmax) or
// sparsemax_attention (framework/core/ops) on the gathered sequence.
Tensor all_gather_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                            const SequenceParallelGroup& group,
                            kernels::Normalizer normalizer = kernels::Normalizer::softmax);
// Softmax, with this rank's shard of the log-sum-exp [B, Hq, n_local] (no gradient).
std::pair<Tensor, Tensor> all_gather_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                        const AttentionSpec& spec, const SequenceParallelGroup& group);

// The op underneath: t [B, H, n_local, W], this rank's tokens of a sequence sharded by `layout` ->
// [B, H, layout.length, W] in sequence order on every rank. Backward: the gradients of the gathered
// tensor summed over the ranks, this rank's rows. comm null or of one rank: t itself.
Tensor all_gather_sequence(const Tensor& t, Communicator* comm, const kernels::Layout& layout);

}  // namespace attnscale
