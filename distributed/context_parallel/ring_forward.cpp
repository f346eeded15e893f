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
      kernels::attention_forward<T>(params, io);
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

}  // namespace attnscale::cp
