// Fetched-key attention forward (see fetch_attention.h).
#include <functional>
#include <limits>

#include "distributed/sequence_parallel/fetch_attention.h"

namespace attnscale::sp {

template <typename T>
void fetch_attention_forward(Communicator& comm, const FetchPlan& plan, Transport transport, const FetchInputs<T>& in,
                             std::span<T> out, std::span<T> lse, FetchedBlocks<T>& fetched) {
  const int rank = comm.rank();
  ATTNSCALE_CHECK(plan.queries(rank).size() == in.shape.q_len && plan.keys(rank).size() == in.shape.k_len,
                  "sequence_parallel", "rank {} holds {} queries and {} keys, the plan says {} and {}", rank,
                  in.shape.q_len, in.shape.k_len, plan.queries(rank).size(), plan.keys(rank).size());
  std::fill(out.begin(), out.end(), T{0});
  std::fill(lse.begin(), lse.end(), -std::numeric_limits<T>::infinity());
  const cp::KvView<T> own{in.k, in.v, in.k_segment, in.k_valid};
  InFlight<T> in_flight;
  fetch_keys(comm, plan, transport, own, cp::kv_dims(in), fetched, in_flight);

  cp::ProgressDriver progress(&comm);
  const auto compute = [&](int owner, const cp::KvView<T>& keys) {
    kernels::AttentionParams params = block_params(in, plan, rank, owner, keys);
    params.progress = std::ref(progress);
    kernels::AttentionForwardBuffers<T> io{in.q, keys.k, keys.v, out, lse};
    io.merge_into_output = true;
    kernels::attention_forward<T>(params, io);
    progress.rethrow_if_failed();
  };
  compute(rank, own);  // while the fetched rows travel
  // Nearest owners first: their transfers were posted first.
  for (int offset = 1; offset < comm.size(); ++offset) {
    const int owner = (rank - offset + comm.size()) % comm.size();
    in_flight.wait(owner);
    if (!plan.rows(rank, owner).empty()) compute(owner, fetched[static_cast<size_t>(owner)].view());
  }
  in_flight.wait_all();  // our own sends
}

template void fetch_attention_forward<float>(Communicator&, const FetchPlan&, Transport, const FetchInputs<float>&,
                                             std::span<float>, std::span<float>, FetchedBlocks<float>&);
template void fetch_attention_forward<double>(Communicator&, const FetchPlan&, Transport, const FetchInputs<double>&,
                                              std::span<double>, std::span<double>, FetchedBlocks<double>&);

}  // namespace attnscale::sp
