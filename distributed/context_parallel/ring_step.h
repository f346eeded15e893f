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

// The keys a rank holds at each step and the double buffer that brings the next step's: post()
// forwards what lies further on of the block held now and receives the next block; advance(),
// after the requests completed, makes the received block the current one. Forward and backward
// both walk the ring with it.
template <typename T>
class KvPipeline {
 public:
  KvPipeline(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in, int rank)
      : ring_(ring), plan_(plan), dims_(kv_dims(in)), rank_(rank),
        current_{in.k, in.v, in.k_segment, in.k_valid} {}

  const KvView<T>& current() const { return current_; }

  // Step `step`: posts the transfers that bring step + 1's block (tags 0..3), if any rank moves data.
  void post(int step, std::vector<Request>& in_flight) {
    if (!plan_.step_moves_data(step + 1)) return;
    const int ranks = plan_.ranks(), owner = plan_.owner_at(rank_, step);
    const RowSet& rows = plan_.carried(owner, step);
    const RowSet& send_rows = plan_.carried(owner, step + 1);
    KvView<T> send;
    if (send_rows == rows) {
      send = current_;
    } else if (!send_rows.empty()) {  // shed the rows nobody further on needs
      gather_kv(current_, rows, shed_, send_rows, dims_);
      send = shed_.view();
    }
    KvBuffer<T>& next = blocks_[next_];
    next.resize(dims_, plan_.carried(plan_.owner_at(rank_, step + 1), step + 1).size());
    exchange_kv(*ring_, send, (rank_ + 1) % ranks, next, (rank_ + ranks - 1) % ranks, 0, in_flight);
  }

  // After step `step`'s transfers completed: the block received becomes the current one.
  void advance(int step) {
    if (!plan_.step_moves_data(step + 1)) {
      current_ = {};
      return;
    }
    current_ = blocks_[next_].view();
    next_ ^= 1;
  }

 private:
  Communicator* ring_;
  const RingPlan& plan_;
  KvDims dims_;
  int rank_;
  KvView<T> current_;
  KvBuffer<T> blocks_[2], shed_;  // double buffer, and the rows forwarded when some are shed
  int next_ = 0;
};

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
