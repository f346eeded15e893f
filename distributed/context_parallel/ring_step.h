// What the ring's forward and backward share: the kernel parameters of one step and the shape of
// a travelling block. Internal to distributed/context_parallel.
#pragma once

#include "distributed/context_parallel/kv_block.h"
#include "distributed/context_parallel/ring_attention.h"

namespace attnscale::cp {

template <typename T>
KvDims kv_dims(const RingInputs<T>& in) {
  return {in.shape.batch, in.shape.kv_heads, in.shape.head_dim, in.shape.value_dim,
          !in.k_segment.empty(), !in.k_valid.empty()};
}

// This rank's queries against `rows` of `owner`'s keys, held in `keys`.
template <typename T>
kernels::AttentionParams step_params(const RingInputs<T>& in, const RingPlan& plan, int rank,
                                     int owner, const RowSet& rows, const KvView<T>& keys) {
  kernels::AttentionParams p;
  p.shape = in.shape;
  p.shape.k_len = rows.size();
  p.scale = in.scale;
  p.mask = in.mask.with_keys(keys.segment, keys.valid);
  p.mask.q_segment = in.q_segment;
  p.q_positions = plan.queries(rank);
  p.k_positions = subset_positions(plan.keys(owner), rows);
  p.tiles = in.tiles;
  return p;
}

// Checks the inputs against the plan and the communicator; returns this rank's index.
template <typename T>
int check_ring_inputs(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in) {
  const int rank = ring ? ring->rank() : 0;
  const int ranks = ring ? ring->size() : 1;
  ATTNSCALE_CHECK(plan.ranks() == ranks, "ring_attention", "the plan is for {} ranks, the ring has {}",
                  plan.ranks(), ranks);
  ATTNSCALE_CHECK(plan.queries(rank).size() == in.shape.q_len && plan.keys(rank).size() == in.shape.k_len,
                  "ring_attention", "rank {} holds {} queries and {} keys, the plan says {} and {}", rank,
                  in.shape.q_len, in.shape.k_len, plan.queries(rank).size(), plan.keys(rank).size());
  return rank;
}

}  // namespace attnscale::cp
