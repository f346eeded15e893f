// Fetched-key attention backward (see fetch_attention.h).
#include <functional>

#include "distributed/sequence_parallel/fetch_attention.h"

namespace attnscale::sp {

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
