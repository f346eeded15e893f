// Attention with fetched keys on raw buffers (layer 4 internals; the autograd ops are in
// sequence_parallel_attention.h). Each rank computes its queries against its own key shard and
// against the rows of other shards that the FetchPlan names.
//
// Forward: post the fetch, compute the local block while it travels (point_to_point: the kernel's
// progress callback drives the transfers between tiles, DESIGN.md 9), then each fetched block as
// it arrives, merging (out, lse) in the kernel (merge_into_output: the one merge function).
// Backward: the fetched blocks' dK/dV are computed first and their return to the owners is posted;
// the local block computes while they travel; the owners add what comes home into their dK/dV.
#pragma once

#include <cstdint>
#include <span>

#include "distributed/context_parallel/ring_attention.h"
#include "distributed/context_parallel/fetch_exchange.h"
#include "kernels/attention.h"

namespace attnscale::sp {

// This rank's share: shape.q_len / k_len are its own tokens (plan.queries(rank) / keys(rank));
// mask holds the positional parts (per-token parts in local order). The same inputs as a ring's.
template <typename T>
using FetchInputs = cp::RingInputs<T>;

// out [B,Hq,n,Dv], lse [B,Hq,n]; `fetched` keeps the fetched rows for the backward.
template <typename T>
void fetch_attention_forward(Communicator& comm, const FetchPlan& plan, Transport transport, const FetchInputs<T>& in,
                             std::span<T> out, std::span<T> lse, FetchedBlocks<T>& fetched);

// Gradients of the forward above; dq, dk, dv are overwritten.
template <typename T>
void fetch_attention_backward(Communicator& comm, const FetchPlan& plan, Transport transport, const FetchInputs<T>& in,
                              const FetchedBlocks<T>& fetched, std::span<const T> out, std::span<const T> lse,
                              std::span<const T> dout, std::span<T> dq, std::span<T> dk, std::span<T> dv);

// Shared by the forward and the backward: this rank's queries against `rows` of `owner`'s keys held in `keys` (owner == rank: all own keys).
template <typename T>
kernels::AttentionParams block_params(const FetchInputs<T>& in, const FetchPlan& plan, int rank, int owner,
                                      const cp::KvView<T>& keys) {
  kernels::AttentionParams p;
  p.shape = in.shape;
  p.scale = in.scale;
  p.mask = in.mask.with_keys(keys.segment, keys.valid);
  p.mask.q_segment = in.q_segment;
  p.q_positions = plan.queries(rank);
  if (owner == rank) {
    p.k_positions = plan.keys(rank);
  } else {
    p.shape.k_len = plan.rows(rank, owner).size();
    p.k_positions = cp::subset_positions(plan.keys(owner), plan.rows(rank, owner));
  }
  p.tiles = in.tiles;
  return p;
}

}  // namespace attnscale::sp
