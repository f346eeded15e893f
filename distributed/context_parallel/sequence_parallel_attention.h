// Sequence-parallel attention for masks that need only part of the other shards (DESIGN.md 5):
// autograd ops whose outputs and q, k, v gradients equal fused_attention (framework/core/ops/attention.h)
// on the gathered sequence, while each rank receives only the key rows its queries can meet.
//
//   halo_attention          sliding-window masks (Mask::window, with or without causal) on a
//                           contiguous layout: the last `left` keys of the rank(s) before and the
//                           first `right` keys of the rank(s) after, several ranks away when the
//                           window is wider than a shard; point-to-point transfers overlapped
//                           with the local block; the backward returns the halo's dK/dV.
//   block_sparse_attention  block-pattern masks (Mask::blocks: Sparse Transformer strided / fixed,
//                           Longformer, BigBird): each rank fetches exactly the key rows of the
//                           blocks its query blocks name, in one all_to_all_v; any layout.
//   sequence_parallel_attention the group's algorithm (parallel_algo.h), or the cheapest correct
//                           one (choose_algo): what models call.
//
// Every rank of the group calls the op together with the same shapes, mask and layout; q, k, v
// are this rank's shard [B, H, n_local, D] at group.layout.positions(rank). spec: as for
// fused_attention, with per-token parts (segments, key padding) in local order; they travel with
// the keys. spec.q_positions / k_positions are filled from the layout (if given they must equal
// it). The communicator must outlive the backward. A null group.comm means one rank.
#pragma once

#include <utility>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/context_parallel_attention.h"
#include "framework/core/ops/attention.h"
#include "kernels/general_attention.h"
#include "kernels/layout.h"

namespace attnscale {

struct SequenceParallelGroup {
  Communicator* comm;      // the ranks that share one sequence
  kernels::Layout layout;  // which global positions each rank holds
};

Tensor halo_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                      const SequenceParallelGroup& group);
Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                              const SequenceParallelGroup& group);

// Runs group.algo over group.cp and group.layout (distributed/parallel_algo.h): halo,
// sparse_fetch and all_gather here; ring, ulysses and hybrid through context_parallel_attention;
// auto_ as choose_algo picks for this mask, layout and normaliser (a model resolves auto once, at
// setup: resolve_algo). Only all_gather runs sparsemax. Returns this rank's output shard
// [B, Hq, n_local, Dv].
Tensor sequence_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                   const ContextParallelGroup& group,
                                   kernels::Normalizer normalizer = kernels::Normalizer::softmax);
// Softmax, with this rank's shard of the log-sum-exp [B, Hq, n_local] (no gradient).
std::pair<Tensor, Tensor> sequence_parallel_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                               const AttentionSpec& spec,
                                                               const ContextParallelGroup& group);

}  // namespace attnscale
