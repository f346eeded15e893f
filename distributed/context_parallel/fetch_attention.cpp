// Fetched-key attention on raw buffers (see fetch_attention.h): the forward, then the backward.
#include "distributed/context_parallel/fetch_attention.h"

#include <functional>
#include <limits>

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

template <typename T>
void fetch_attention_backward(Communicator& comm, const FetchPlan& plan, Transport transport, const FetchInputs<T>& in,
                              const FetchedBlocks<T>& fetched, std::span<const T> out, std::span<const T> lse,
                              std::span<const T> dout, std::span<T> dq, std::span<T> dk, std::span<T> dv) {
  const int rank = comm.rank(), ranks = comm.size();
  const cp::KvDims dims = cp::kv_dims(in);
  std::vector<T> delta(static_cast<size_t>(in.shape.rows()));
  kernels::attention_delta<T>(dout, out, in.shape.value_dim, delta);
  std::fill(dq.begin(), dq.end(), T{0});
  cp::ProgressDriver progress(&comm);
  const auto compute = [&](int owner, const cp::KvView<T>& keys, std::span<T> block_dk, std::span<T> block_dv) {
    kernels::AttentionParams params = block_params(in, plan, rank, owner, keys);
    params.progress = std::ref(progress);
    kernels::AttentionBackwardBuffers<T> io{in.q, keys.k, keys.v, dout, lse, delta, dq, block_dk, block_dv};
    io.accumulate_dq = true;
    kernels::attention_backward<T>(params, io);
    progress.rethrow_if_failed();
  };

  // Fetched blocks first, so their gradients travel home while the local block computes.
  GradReturn<T> grads;
  grads.dk.assign(static_cast<size_t>(ranks), {});
  grads.dv.assign(static_cast<size_t>(ranks), {});
  for (int owner = 0; owner < ranks; ++owner) {
    const int64_t rows = plan.rows(rank, owner).size();
    if (rows == 0) continue;
    auto& block_dk = grads.dk[static_cast<size_t>(owner)];
    auto& block_dv = grads.dv[static_cast<size_t>(owner)];
    block_dk.resize(static_cast<size_t>(dims.outer() * rows * dims.head_dim));
    block_dv.resize(static_cast<size_t>(dims.outer() * rows * dims.value_dim));
    compute(owner, fetched[static_cast<size_t>(owner)].view(), block_dk, block_dv);
  }
  start_return_grads(comm, plan, transport, dims, grads);
  compute(rank, cp::KvView<T>{in.k, in.v, in.k_segment, in.k_valid}, dk, dv);
  finish_return_grads(comm, plan, dims, in.shape.k_len, grads, dk, dv);
}

template void fetch_attention_backward<float>(Communicator&, const FetchPlan&, Transport, const FetchInputs<float>&,
                                              const FetchedBlocks<float>&, std::span<const float>,
                                              std::span<const float>, std::span<const float>, std::span<float>,
                                              std::span<float>, std::span<float>);
template void fetch_attention_backward<double>(Communicator&, const FetchPlan&, Transport, const FetchInputs<double>&,
                                               const FetchedBlocks<double>&, std::span<const double>,
                                               std::span<const double>, std::span<const double>, std::span<double>,
                                               std::span<double>, std::span<double>);

}  // namespace attnscale::sp
