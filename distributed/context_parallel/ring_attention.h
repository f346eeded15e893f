// Ring attention on raw buffers (layer 4 internals; the autograd op is context_parallel_attention).
//
// Forward: step s computes this rank's queries against the keys of owner r - s while the keys for
// step s + 1 are already in flight (double-buffered); the kernel's progress callback drives the
// transfer between tiles. Partial (out, lse) states merge in the kernel through
// merge_into_output, i.e. the one merge function of kernels/softmax_merge.h.
// Backward: the keys travel again; with them travels the fp32 (or fp64) dK/dV accumulator of their
// owner, to which every hop adds its share; dq stays local. A block's accumulator goes home from
// its last consumer (RingPlan::last_hop) in one all-to-all at the end; rows shed on the way go
// home in the same exchange.
// What travels and what is computed follows RingPlan: empty steps skip compute, rows nobody needs
// are not sent. GQA: only the kv heads travel.
// One schedule for both devices: with in.device a GPU, every buffer (inputs, outputs, the blocks
// and accumulators in flight) is GPU memory, the kernels are the CUDA ones on the compute stream
// (device_ops.h), and the communicator must take device buffers (device_communicator.h). There
// step s + 1's transfer is posted before step s's kernel is queued, so the transfer (NCCL's stream,
// or MPI) runs while the kernel does.
#pragma once

#include <cstdint>
#include <span>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/kv_block.h"
#include "distributed/context_parallel/ring_plan.h"
#include "kernels/attention.h"

namespace attnscale::cp {

// This rank's share of a ring: shape.q_len / k_len are its own query and key tokens, in the
// plan's order for this rank; mask holds the positional parts (per-token parts are below).
template <typename T>
struct RingInputs {
  kernels::AttentionShape shape;
  double scale = 0;
  kernels::Mask mask;
  kernels::TileSizes tiles;
  std::span<const T> q, k, v;                             // [B,Hq,n,D], [B,Hkv,m,D], [B,Hkv,m,Dv]
  std::span<const int32_t> q_segment, k_segment, k_valid;  // [B,n], [B,m], [B,m] or empty
  // Drive the transfers in flight between tiles (the overlap). Off only to measure what it buys.
  bool overlap = true;
  // Where every span above, and the outputs, live; kCpu or a GPU.
  Device device = kCpu;
};

// ring == nullptr (or of size 1): one rank, no communication. out [B,Hq,n,Dv], lse [B,Hq,n].
template <typename T>
void ring_attention_forward(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in,
                            std::span<T> out, std::span<T> lse);

// Gradients of the forward above, given its (out, lse) and dout; dq, dk, dv are overwritten.
template <typename T>
void ring_attention_backward(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in,
                             std::span<const T> out, std::span<const T> lse, std::span<const T> dout,
                             std::span<T> dq, std::span<T> dk, std::span<T> dv);

// What the ring's forward and backward share with the fetch ops and the benchmark: the shape of a
// travelling block and the kernel parameters of one step.
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

}  // namespace attnscale::cp
