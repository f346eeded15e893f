// Context-parallel attention: one sequence sharded over the ranks of a cp group, attention
// computed as if the whole sequence sat on one rank (DESIGN.md 5). Autograd ops: outputs and the
// gradients of q, k, v equal those of fused_attention (framework/core/ops/attention.h) on the gathered
// sequence.
//
//   Algo::ring     K/V (and in the backward their dK/dV accumulators) travel round the cp group,
//                  the next block in flight while the current one computes (ring_attention.h);
//                  only the rows the mask needs travel (ring_plan.h).
//   Algo::ulysses  all-to-all from sequence shards to head shards, local attention over the whole
//                  sequence, all-to-all back (ulysses.h). Query heads must divide by the cp size.
//   Algo::hybrid   Ulysses inside groups of group.ulysses->size() ranks, ring across the groups
//                  over group.ring (ProcessGrid::ulysses() / ring(): cp rank = ring * U + ulysses).
//
// Every rank of the group calls the op together with the same shapes, mask and layout. The
// communicators must outlive the backward. A null group.cp means one rank (no communication).
#pragma once

#include <string_view>
#include <utility>

#include "distributed/comm/communicator.h"
#include "framework/core/ops/attention.h"
#include "kernels/layout.h"

namespace attnscale {

enum class Algo { ring, ulysses, hybrid };

Algo parse_algo(std::string_view name);  // "ring", "ulysses", "hybrid" (UsageError otherwise)
const char* algo_name(Algo algo);

struct ContextParallelGroup {
  Communicator* cp;                   // the ranks that share one sequence
  Communicator* ulysses = nullptr;    // hybrid: the all-to-all group inside cp
  Communicator* ring = nullptr;       // hybrid: the ring across Ulysses groups
  Algo algo = Algo::ring;
  kernels::Layout layout;             // which global positions each cp rank holds
};

// q [B, Hq, n_local, D], k [B, Hkv, n_local, D], v [B, Hkv, n_local, Dv]: this rank's shard, its
// tokens at group.layout.positions(cp rank). spec: scale and the mask's positional parts (global
// positions); per-token parts (q_segment / k_segment / k_valid) per local token, in local order;
// they travel with K/V. spec.q_positions / k_positions are filled from the layout (if given they
// must equal it). Returns this rank's shard of the output, [B, Hq, n_local, Dv].
Tensor context_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const AttentionSpec& spec, const ContextParallelGroup& group);

// Also returns this rank's shard of the log-sum-exp [B, Hq, n_local] (no gradient).
std::pair<Tensor, Tensor> context_parallel_attention_with_lse(const Tensor& q, const Tensor& k,
                                                              const Tensor& v, const AttentionSpec& spec,
                                                              const ContextParallelGroup& group);

// Cross-attention: queries from one sequence sharded by group.layout, keys and values from another
// sharded by key_layout over the same cp group (k, v hold key_layout.local_length(rank) tokens).
// The mask's positional parts compare query positions with key positions of their own sequences.
Tensor context_parallel_cross_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const AttentionSpec& spec, const ContextParallelGroup& group,
                                        const kernels::Layout& key_layout);
std::pair<Tensor, Tensor> context_parallel_cross_attention_with_lse(
    const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
    const ContextParallelGroup& group, const kernels::Layout& key_layout);

}  // namespace attnscale
