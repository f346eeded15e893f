#include "distributed/sequence_parallel/all_gather_attention.h"

#include <span>
#include <vector>

#include "distributed/context_parallel/sequence_shard.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/sparsemax.h"

namespace attnscale {
namespace {

template <typename T>
std::span<const T> values(const Tensor& t) {
  return {t.data<T>(), static_cast<size_t>(t.numel())};
}

// Every rank's per-token ints [B, n_local] -> [B, N] in sequence order (empty stays empty).
std::vector<int32_t> gather_ids(const std::vector<int32_t>& local, Communicator* comm, const kernels::Layout& layout,
                                int64_t batch) {
  if (local.empty()) return local;
  return cp::gather_sequence<int32_t>(comm, layout, local, batch, 1);
}

// The single-rank op of `normalizer` (framework/core/ops: the fused kernel or the general path).
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
              kernels::Normalizer normalizer) {
  switch (normalizer) {
    case kernels::Normalizer::softmax:
      return fused_attention(q, k, v, spec);
    case kernels::Normalizer::sparsemax:
      return sparsemax_attention(q, k, v, spec);
  }
  throw UsageError("[all_gather_attention] unknown normalizer");
}

}  // namespace

Tensor all_gather_sequence(const Tensor& t_in, Communicator* comm, const kernels::Layout& layout) {
  if (comm == nullptr || comm->size() == 1) return t_in;
  ATTNSCALE_CHECK(t_in.dim() == 4, "all_gather_sequence", "expects [B, H, n, W], got {}", shape_str(t_in.shape()));
  const int rank = comm->rank();
  ATTNSCALE_CHECK(layout.ranks == comm->size() && t_in.shape()[2] == layout.local_length(rank), "all_gather_sequence",
                  "rank {} holds {} tokens; the layout over {} ranks gives it {}", rank, t_in.shape()[2], layout.ranks,
                  layout.local_length(rank));
  const Tensor t = t_in.contiguous();
  const int64_t outer = t.shape()[0] * t.shape()[1], width = t.shape()[3];
  const Shape full_shape{t.shape()[0], t.shape()[1], layout.length, width};
  Tensor full;
  ATTNSCALE_DISPATCH_FLOAT(t.dtype(), "all_gather_sequence", [&] {
    using T = scalar_t;
    full = Tensor::from(cp::gather_sequence<T>(comm, layout, values<T>(t), outer, width), full_shape);
  });
  const Shape local_shape = t.shape();
  return autograd::record(full, "all_gather_sequence", {t}, [comm, layout, local_shape, outer, width](const Tensor& g) {
    // Every rank's gradient of the gathered rows, summed, then this rank's rows of it.
    Tensor summed = g.contiguous().clone();
    Tensor local;
    ATTNSCALE_DISPATCH_FLOAT(summed.dtype(), "all_gather_sequence", [&] {
      using T = scalar_t;
      comm->all_reduce(std::span<T>(summed.data<T>(), static_cast<size_t>(summed.numel())), ReduceOp::sum);
      local = Tensor::from(cp::take_tokens<T>(values<T>(summed), outer, layout.length, width,
                                              layout.positions(comm->rank())),
                           local_shape);
    });
    return std::vector<Tensor>{local};
  });
}

namespace {

// What every rank attends with: its own queries against the whole sequence's keys and values.
struct Gathered {
  AttentionSpec spec;
  Tensor k, v;
};

Gathered gather_keys(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                     const SequenceParallelGroup& group) {
  Communicator* comm = group.comm;
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4, "all_gather_attention", "expects q, k, v as [B, H, n, D]");
  const kernels::Positions mine = group.layout.positions(comm->rank());
  ATTNSCALE_CHECK(spec.q_positions.size() == 0 || spec.q_positions == mine, "all_gather_attention",
                  "spec.q_positions differ from the layout's positions of this rank (leave them empty)");
  ATTNSCALE_CHECK(spec.k_positions.size() == 0 || spec.k_positions == mine, "all_gather_attention",
                  "spec.k_positions differ from the layout's positions of this rank (leave them empty)");
  const int64_t batch = q.shape()[0];
  Gathered g;
  g.spec = spec;
  g.spec.q_positions = mine;
  g.spec.k_positions = {};  // 0..N-1: the keys are gathered in sequence order
  g.spec.k_segment = gather_ids(spec.k_segment, comm, group.layout, batch);
  g.spec.k_valid = gather_ids(spec.k_valid, comm, group.layout, batch);
  g.k = all_gather_sequence(k, comm, group.layout);
  g.v = all_gather_sequence(v, comm, group.layout);
  return g;
}

}  // namespace

Tensor all_gather_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                            const SequenceParallelGroup& group, kernels::Normalizer normalizer) {
  if (group.comm == nullptr || group.comm->size() == 1) return attend(q, k, v, spec, normalizer);
  const Gathered g = gather_keys(q, k, v, spec, group);
  return attend(q, g.k, g.v, g.spec, normalizer);
}

std::pair<Tensor, Tensor> all_gather_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                        const AttentionSpec& spec, const SequenceParallelGroup& group) {
  if (group.comm == nullptr || group.comm->size() == 1) return fused_attention_with_lse(q, k, v, spec);
  const Gathered g = gather_keys(q, k, v, spec, group);
  return fused_attention_with_lse(q, g.k, g.v, g.spec);
}

}  // namespace attnscale
