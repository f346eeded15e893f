// Ring attention on raw buffers (see ring_attention.h): the forward, then the backward, and the
// double buffer both walk the ring with.
#include "distributed/context_parallel/ring_attention.h"

#include <functional>
#include <limits>
#include <numeric>

namespace attnscale::cp {
namespace {

// The keys a rank holds at each step and the double buffer that brings the next step's: post()
// forwards what lies further on of the block held now and receives the next block; advance(),
// after the requests completed, makes the received block the current one. Forward and backward
// both walk the ring with it.
template <typename T>
class KvPipeline {
 public:
  KvPipeline(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in, int rank)
      : ring_(ring), plan_(plan), dims_(kv_dims(in)), rank_(rank),
        current_{in.k, in.v, in.k_segment, in.k_valid},
        blocks_{KvBuffer<T>(in.device), KvBuffer<T>(in.device)}, shed_(in.device) {}

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

}  // namespace

// ---- forward ----------------------------------------------------------------------------------
// Step s: post the transfer of step s + 1's keys, compute this rank's queries against the keys
// held now (merging into out, lse in the kernel), wait, advance.

template <typename T>
void ring_attention_forward(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in,
                            std::span<T> out, std::span<T> lse) {
  const int rank = check_ring_inputs(ring, plan, in);
  const int ranks = plan.ranks();
  fill<T>(in.device, out, T{0});
  fill<T>(in.device, lse, -std::numeric_limits<T>::infinity());
  KvPipeline<T> keys(ring, plan, in, rank);
  ProgressDriver progress(ring);

  for (int step = 0; step < ranks; ++step) {
    const int owner = plan.owner_at(rank, step);
    std::vector<Request> in_flight;
    keys.post(step, in_flight);
    if (step == 0 || !plan.needed(owner, step).empty()) {
      const KvView<T>& block = keys.current();
      kernels::AttentionParams params = step_params(in, plan, rank, owner, plan.carried(owner, step), block);
      if (in.overlap) params.progress = std::ref(progress);
      kernels::AttentionForwardBuffers<T> io{in.q, block.k, block.v, out, lse};
      io.merge_into_output = true;
      attention_forward<T>(in.device, params, io);
      progress.rethrow_if_failed();
    }
    Request::wait_all(in_flight);
    keys.advance(step);
  }
}

template void ring_attention_forward<float>(Communicator*, const RingPlan&, const RingInputs<float>&,
                                            std::span<float>, std::span<float>);
template void ring_attention_forward<double>(Communicator*, const RingPlan&, const RingInputs<double>&,
                                             std::span<double>, std::span<double>);

// ---- backward ---------------------------------------------------------------------------------
// Ring attention backward (see ring_attention.h). Per step s, holding the keys of owner o = r - s:
//   1. post the keys for step s + 1 (as in the forward);
//   2. compute this rank's share of dK/dV for o's rows into a fresh buffer (dq accumulates);
//   3. wait for o's accumulator (sent by the previous rank at the end of its step s - 1, so the
//      transfer hid behind step 2) and add the share;
//   4. send the accumulator on for the rows needed further on; rows whose last consumer this was
//      go into the home buffer, which one all-to-all returns to the owners at the end.
namespace {

template <typename T>
struct GradBlock {  // dK [outer, rows, D] and dV [outer, rows, Dv]
  explicit GradBlock(Device device) : dk_(device), dv_(device) {}
  void resize(const KvDims& d, int64_t rows) {
    dk_.resize(static_cast<size_t>(d.outer() * rows * d.head_dim));
    dv_.resize(static_cast<size_t>(d.outer() * rows * d.value_dim));
  }
  std::span<T> dk() { return dk_.span(); }
  std::span<T> dv() { return dv_.span(); }

 private:
  DeviceVector<T> dk_, dv_;
};

// Rows of owner's keys whose accumulator is complete at hop `hop` (no consumer further on).
RowSet finished_at(const RingPlan& plan, int owner, int hop) {
  if (hop >= plan.last_hop(owner)) return plan.carried(owner, hop);
  return set_difference(plan.carried(owner, hop), plan.carried(owner, hop + 1));
}

// Elements of one home-bound block of `rows` rows (dK then dV).
int64_t home_elements(const KvDims& d, int64_t rows) {
  return d.outer() * rows * (d.head_dim + d.value_dim);
}

}  // namespace

template <typename T>
void ring_attention_backward(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in,
                             std::span<const T> out, std::span<const T> lse, std::span<const T> dout,
                             std::span<T> dq, std::span<T> dk, std::span<T> dv) {
  const int rank = check_ring_inputs(ring, plan, in);
  const int ranks = plan.ranks();
  const int next_rank = (rank + 1) % ranks, prev_rank = (rank + ranks - 1) % ranks;
  const KvDims dims = kv_dims(in);
  const auto& s = in.shape;
  const Device device = in.device;

  DeviceVector<T> delta(device);
  delta.resize(static_cast<size_t>(s.rows()));
  attention_delta<T>(device, dout, out, s.value_dim, delta.span());
  fill<T>(device, dq, T{0});

  // Home buffer: block o holds the rows of owner o finished here (hop r - o), dK then dV.
  std::vector<size_t> home_send(static_cast<size_t>(ranks), 0), home_recv(static_cast<size_t>(ranks), 0);
  bool any_home = false;
  for (int o = 0; o < ranks; ++o) {
    any_home = any_home || plan.last_hop(o) > 0;
    const int hop_there = (rank - o + ranks) % ranks, hop_here = (o - rank + ranks) % ranks;
    if (o != rank && hop_there <= plan.last_hop(o))
      home_send[static_cast<size_t>(o)] = static_cast<size_t>(home_elements(dims, finished_at(plan, o, hop_there).size()));
    if (o != rank && hop_here <= plan.last_hop(rank))
      home_recv[static_cast<size_t>(o)] = static_cast<size_t>(home_elements(dims, finished_at(plan, rank, hop_here).size()));
  }
  const std::vector<size_t> home_displs = packed_displacements(home_send);
  DeviceVector<T> home_buffer(device);
  home_buffer.resize(std::accumulate(home_send.begin(), home_send.end(), size_t{0}));
  const std::span<T> home = home_buffer.span();

  KvPipeline<T> keys(ring, plan, in, rank);
  // accumulators in flight, this hop's share, shed rows
  GradBlock<T> acc[2] = {GradBlock<T>(device), GradBlock<T>(device)}, share(device), acc_shed(device);
  int acc_next = 0;
  std::vector<Request> acc_in_flight;
  ProgressDriver progress(ring);

  for (int step = 0; step < ranks; ++step) {
    const int owner = plan.owner_at(rank, step);
    const RowSet& rows = plan.carried(owner, step);
    std::vector<Request> kv_in_flight;
    keys.post(step, kv_in_flight);

    // 2. This hop's share. Step 0 writes the own block's gradients straight into dk, dv.
    const bool compute = step == 0 || !plan.needed(owner, step).empty();
    if (compute) {
      const KvView<T>& block = keys.current();
      kernels::AttentionParams params = step_params(in, plan, rank, owner, rows, block);
      if (in.overlap) params.progress = std::ref(progress);
      std::span<T> share_dk = dk, share_dv = dv;
      if (step > 0) {
        share.resize(dims, rows.size());
        share_dk = share.dk();
        share_dv = share.dv();
      }
      kernels::AttentionBackwardBuffers<T> io{in.q, block.k, block.v, dout, lse, delta.span(),
                                              dq, share_dk, share_dv};
      io.accumulate_dq = true;
      attention_backward<T>(device, params, io);
      progress.rethrow_if_failed();
    }

    // 3. The accumulator of this block: the own gradients at step 0, else the one received.
    GradBlock<T>* held = nullptr;
    Request::wait_all(acc_in_flight);  // also frees the buffer the last accumulator left from
    acc_in_flight.clear();
    if (step > 0 && !rows.empty()) {
      held = &acc[acc_next ^ 1];
      if (compute) {
        add_into<T>(device, held->dk(), share.dk());
        add_into<T>(device, held->dv(), share.dv());
      }
      const RowSet done = finished_at(plan, owner, step);
      const size_t at = home_displs[static_cast<size_t>(owner)];
      const int64_t dk_count = dims.outer() * done.size() * dims.head_dim;
      gather_rows<T>(device, held->dk(), rows, home.subspan(at, static_cast<size_t>(dk_count)), done,
                     dims.outer(), dims.head_dim);
      gather_rows<T>(device, held->dv(), rows,
                     home.subspan(at + static_cast<size_t>(dk_count),
                                  static_cast<size_t>(dims.outer() * done.size() * dims.value_dim)),
                     done, dims.outer(), dims.value_dim);
    }

    // 4. Pass the accumulator on; receive the next block's.
    if (step + 1 < ranks) {
      const int next_owner = plan.owner_at(rank, step + 1);
      std::span<const T> send_dk, send_dv;
      if (step + 1 <= plan.last_hop(owner)) {
        const RowSet& send_rows = plan.carried(owner, step + 1);
        const std::span<const T> from_dk = held ? std::span<const T>(held->dk()) : std::span<const T>(dk);
        const std::span<const T> from_dv = held ? std::span<const T>(held->dv()) : std::span<const T>(dv);
        if (send_rows == rows) {
          send_dk = from_dk;
          send_dv = from_dv;
        } else {
          acc_shed.resize(dims, send_rows.size());
          gather_rows<T>(device, from_dk, rows, acc_shed.dk(), send_rows, dims.outer(), dims.head_dim);
          gather_rows<T>(device, from_dv, rows, acc_shed.dv(), send_rows, dims.outer(), dims.value_dim);
          send_dk = acc_shed.dk();
          send_dv = acc_shed.dv();
        }
      }
      GradBlock<T>& incoming = acc[acc_next];
      incoming.resize(dims, step + 1 <= plan.last_hop(next_owner) ? plan.carried(next_owner, step + 1).size() : 0);
      acc_in_flight.push_back(ring_transfer<T>(*ring, send_dk, next_rank, incoming.dk(), prev_rank, 8));
      acc_in_flight.push_back(ring_transfer<T>(*ring, send_dv, next_rank, incoming.dv(), prev_rank, 9));
      acc_next ^= 1;
    }

    Request::wait_all(kv_in_flight);
    keys.advance(step);
  }
  Request::wait_all(acc_in_flight);

  // Every finished accumulator goes home; the rows that travelled are overwritten (their
  // accumulator started from the owner's own share at step 0).
  if (!any_home) return;
  DeviceVector<T> returned_buffer(device);
  returned_buffer.resize(std::accumulate(home_recv.begin(), home_recv.end(), size_t{0}));
  const std::span<T> returned = returned_buffer.span();
  ring->all_to_all_v(std::span<const T>(home), home_send, returned, home_recv);
  size_t at = 0;
  for (int source = 0; source < ranks; ++source) {
    if (home_recv[static_cast<size_t>(source)] == 0) continue;
    const RowSet done = finished_at(plan, rank, (source - rank + ranks) % ranks);
    const auto dk_count = static_cast<size_t>(dims.outer() * done.size() * dims.head_dim);
    const auto dv_count = static_cast<size_t>(dims.outer() * done.size() * dims.value_dim);
    const RowSet all = RowSet::all(s.k_len);
    scatter_rows<T>(device, std::span<const T>(returned).subspan(at, dk_count), done, dk, all, dims.outer(),
                    dims.head_dim, false);
    scatter_rows<T>(device, std::span<const T>(returned).subspan(at + dk_count, dv_count), done, dv, all,
                    dims.outer(), dims.value_dim, false);
    at += dk_count + dv_count;
  }
}

template void ring_attention_backward<float>(Communicator*, const RingPlan&, const RingInputs<float>&,
                                             std::span<const float>, std::span<const float>,
                                             std::span<const float>, std::span<float>, std::span<float>,
                                             std::span<float>);
template void ring_attention_backward<double>(Communicator*, const RingPlan&, const RingInputs<double>&,
                                              std::span<const double>, std::span<const double>,
                                              std::span<const double>, std::span<double>,
                                              std::span<double>, std::span<double>);

}  // namespace attnscale::cp
