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
//   sequence_parallel_attention with an algorithm, or the cheapest correct one (choose_algo); the
//                           form that takes a ContextParallelGroup is what models call: its ring
//                           runs the group's own algorithm (ring, Ulysses or hybrid).
//
// Every rank of the group calls the op together with the same shapes, mask and layout; q, k, v
// are this rank's shard [B, H, n_local, D] at group.layout.positions(rank). spec: as for
// fused_attention, with per-token parts (segments, key padding) in local order; they travel with
// the keys. spec.q_positions / k_positions are filled from the layout (if given they must equal
// it). The communicator must outlive the backward. A null group.comm means one rank.
#pragma once

#include <string>
#include <string_view>
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

// The algorithms of `--algo`: halo, sparse-fetch, ring (context_parallel_attention), all-gather
// (all_gather_attention.h), auto.
enum class SeqAlgo { halo, sparse_fetch, ring, all_gather, automatic };
SeqAlgo parse_seq_algo(std::string_view name);  // "halo", "sparse-fetch", "ring", "all-gather", "auto"
const char* seq_algo_name(SeqAlgo algo);

// What `auto` picks from the normaliser, the mask and the layout, with the reason in words:
//   all_gather    sparsemax (its threshold needs every score of a row on one rank);
//   halo          contiguous layout and a window narrower than the smallest shard (only the
//                 neighbours' edges travel);
//   sparse_fetch  a block pattern (only the named blocks travel);
//   ring          everything else (full, causal, wide windows, zigzag / striped layouts).
struct AlgoChoice {
  SeqAlgo algo;
  std::string reason;
};
AlgoChoice choose_algo(const kernels::Mask& mask, const kernels::Layout& layout,
                       kernels::Normalizer normalizer = kernels::Normalizer::softmax);

// Runs `algo` (automatic: choose_algo). Returns this rank's output shard [B, Hq, n_local, Dv].
Tensor sequence_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                   const SequenceParallelGroup& group, SeqAlgo algo = SeqAlgo::automatic);

// Over a context-parallel group (a model's MultiHeadOptions::context_parallel): halo,
// sparse_fetch and all_gather run over group.cp and group.layout; ring, and automatic where
// choose_algo picks ring, run context_parallel_attention with the group's own algorithm (ring,
// Ulysses or hybrid). Only all_gather runs sparsemax.
Tensor sequence_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                   const ContextParallelGroup& group, SeqAlgo algo,
                                   kernels::Normalizer normalizer = kernels::Normalizer::softmax);
// Softmax, with this rank's shard of the log-sum-exp [B, Hq, n_local] (no gradient).
std::pair<Tensor, Tensor> sequence_parallel_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                               const AttentionSpec& spec,
                                                               const ContextParallelGroup& group, SeqAlgo algo);

}  // namespace attnscale
