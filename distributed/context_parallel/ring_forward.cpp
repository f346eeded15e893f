// Ring attention forward (see ring_attention.h).
#include <functional>
#include <limits>

#include "distributed/context_parallel/ring_step.h"

namespace attnscale::cp {

template <typename T>
void ring_attention_forward(Communicator* ring, const RingPlan& plan, const RingInputs<T>& in,
                            std::span<T> out, std::span<T> lse) {
  const int rank = check_ring_inputs(ring, plan, in);
  const int ranks = plan.ranks();
  std::fill(out.begin(), out.end(), T{0});
  std::fill(lse.begin(), lse.end(), -std::numeric_limits<T>::infinity());
  const KvDims dims = kv_dims(in);
  KvBuffer<T> blocks[2], shed;  // double buffer, and the rows forwarded when some are shed
  int next_block = 0;
  KvView<T> current{in.k, in.v, in.k_segment, in.k_valid};
  ProgressDriver progress(ring);

  for (int step = 0; step < ranks; ++step) {
    const int owner = plan.owner_at(rank, step);
    const RowSet& rows = plan.carried(owner, step);
    std::vector<Request> in_flight;
    if (plan.step_moves_data(step + 1)) {
      // Forward to the next rank what lies further on of the block held now; receive the next.
      const RowSet& send_rows = plan.carried(owner, step + 1);
      KvView<T> send;
      if (send_rows == rows) {
        send = current;
      } else if (!send_rows.empty()) {
        gather_kv(current, rows, shed, send_rows, dims);
        send = shed.view();
      }
      KvBuffer<T>& next = blocks[next_block];
      next.resize(dims, plan.carried(plan.owner_at(rank, step + 1), step + 1).size());
      exchange_kv(*ring, send, (rank + 1) % ranks, next, (rank + ranks - 1) % ranks, 0, in_flight);
    }
    if (step == 0 || !plan.needed(owner, step).empty()) {
      kernels::AttentionParams params = step_params(in, plan, rank, owner, rows, current);
      params.progress = std::ref(progress);
      kernels::AttentionForwardBuffers<T> io{in.q, current.k, current.v, out, lse};
      io.merge_into_output = true;
      kernels::attention_forward<T>(params, io);
      progress.rethrow_if_failed();
    }
    Request::wait_all(in_flight);
    if (plan.step_moves_data(step + 1)) {
      current = blocks[next_block].view();
      next_block ^= 1;
    } else {
      current = {};
    }
  }
}

template void ring_attention_forward<float>(Communicator*, const RingPlan&, const RingInputs<float>&,
                                            std::span<float>, std::span<float>);
template void ring_attention_forward<double>(Communicator*, const RingPlan&, const RingInputs<double>&,
                                             std::span<double>, std::span<double>);

}  // namespace attnscale::cp
