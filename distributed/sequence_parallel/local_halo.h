// Sequence-parallel Luong local attention (Luong, Pham & Manning 2015, 1508.04025, 3.2): the
// queries (a target sequence) and the source keys/values are each sharded over the ranks of a
// communicator by their own contiguous layout (uneven shards allowed, different lengths), and
// each rank receives only the source rows its queries' windows [p_t - D, p_t + D] reach, straight
// from their owners, however many ranks away. Outputs and gradients equal
// attention::LocalAttention (framework/attention/local.h) on the gathered sequences, step by
// step: the same windows (|s - p_t| <= D, clamped to the real source), softmax over the window and,
// for local-p, the Gaussian exp(-(s - p_t)^2 / (2 sigma^2)) on the weights.
//
//   local_m_halo_attention  p_t = t (the query's global position) clamped to S_b - 1. The windows
//                           follow from the layouts: no range exchange, only the halo rows travel.
//   local_p_halo_attention  p_t given per query (differentiable: the caller computes it, e.g.
//                           (S_b - 1) sigmoid(v_p^T tanh(W_p h_t)) as LocalAttention::centres).
//                           One all-gather of each rank's [lo, hi] window hull, then only the
//                           rows of those hulls travel; the gradient reaches p_t (and so W_p, v_p).
//
// Scores are q . k_s: Luong's `dot` (keys = the source states) and `general` (keys = the states
// projected by the score's key projection, GeneralScore::prepare_keys, applied to the shard).
// The `concat` / additive score is not covered.
//
// Shapes (this rank's shard): q [B, n_q, Dk] at query_layout.positions(rank), keys [B, n_s, Dk]
// and values [B, n_s, Dv] at source_layout.positions(rank), centres [B, n_q]. Returns the
// contexts [B, n_q, Dv]. Every rank calls the op together with the same options; a null comm
// means one rank (then the layouts are over one rank). The communicator must outlive the backward.
// Backward: dK/dV of fetched rows go back to their owners (point-to-point, while the queries
// whose windows lie inside the own shard compute) and are added there.
#pragma once

#include <cstdint>
#include <vector>

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/tensor.h"
#include "kernels/layout.h"

namespace attnscale {

struct LocalHaloOptions {
  int64_t window = 2;                   // D, the half-width, >= 1
  double sigma = 0.0;                   // local-p Gaussian width; 0 = D / 2 (as LocalOptions)
  std::vector<int64_t> source_lengths;  // S_b per sequence, 1 <= S_b <= source length; empty = all
};

struct LocalHaloGroup {
  Communicator* comm = nullptr;   // the ranks sharing the two sequences (null: one rank)
  kernels::Layout query_layout;   // which target positions each rank holds (contiguous)
  kernels::Layout source_layout;  // which source positions each rank holds (contiguous)
};

Tensor local_m_halo_attention(const Tensor& q, const Tensor& keys, const Tensor& values,
                              const LocalHaloOptions& options, const LocalHaloGroup& group);
Tensor local_p_halo_attention(const Tensor& q, const Tensor& keys, const Tensor& values, const Tensor& centres,
                              const LocalHaloOptions& options, const LocalHaloGroup& group);

}  // namespace attnscale
