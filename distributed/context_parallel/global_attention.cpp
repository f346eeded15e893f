#include "distributed/context_parallel/global_attention.h"

#include <cmath>
#include <limits>
#include <tuple>

#include "distributed/context_parallel/tensor_span.h"
#include "framework/core/autograd/node.h"
#include "kernels/softmax_merge.h"

namespace attnscale {
namespace {

struct Saved {
  AttentionSpec spec;  // with the local keys' positions; owns the per-token mask parts
  Tensor q, k, v, out, lse;
  Communicator* group = nullptr;
};

using cp::mutable_values;
using cp::values;

// Positions of the local keys: given, or the shards one after another in rank order.
kernels::Positions key_positions(const AttentionSpec& spec, int64_t m, Communicator* group) {
  if (spec.k_positions.size() > 0) return spec.k_positions;
  const bool positional = spec.mask.causal || spec.mask.window || spec.mask.blocks;
  if (!group || !positional) return kernels::Positions::contiguous(0, m);
  const std::vector<int64_t> lengths = group->all_gather_value(m);
  int64_t offset = 0;
  for (int r = 0; r < group->rank(); ++r) offset += lengths[static_cast<size_t>(r)];
  return kernels::Positions::contiguous(offset, m);
}

// The kernel arguments of the backward; the forward (fused_attention_with_lse) checked them.
kernels::AttentionParams backward_params(const Saved& s) {
  const Shape& q = s.q.shape();
  const Shape& v = s.v.shape();
  kernels::AttentionParams p = kernels::default_attention_params({q[0], q[1], v[1], q[2], v[2], q[3], v[3]});
  if (s.spec.scale > 0) p.scale = s.spec.scale;
  if (s.spec.q_positions.size() > 0) p.q_positions = s.spec.q_positions;
  p.k_positions = s.spec.k_positions;
  p.mask = s.spec.mask.with_keys(s.spec.k_segment, s.spec.k_valid);
  p.mask.q_segment = s.spec.q_segment;
  return p;
}

// Local partial state (the fused op, which checks the arguments), one all-gather, the merge in
// rank order.
template <typename T>
void forward(const Saved& s, Tensor& out, Tensor& lse) {
  Tensor local_out, local_lse;
  {
    autograd::NoGradGuard no_grad;
    std::tie(local_out, local_lse) = fused_attention_with_lse(s.q, s.k, s.v, s.spec);
  }
  const std::span<const T> partial_out = values<T>(local_out), partial_lse = values<T>(local_lse);
  const size_t out_size = partial_out.size(), rows = partial_lse.size();
  std::vector<T> state(partial_out.begin(), partial_out.end());  // out, then lse
  state.insert(state.end(), partial_lse.begin(), partial_lse.end());
  const int ranks = s.group ? s.group->size() : 1;
  std::vector<T> all(state.size() * static_cast<size_t>(ranks));
  if (s.group) {
    s.group->all_gather(state, all);
  } else {
    all = state;
  }
  const std::span<T> merged_out = mutable_values<T>(out), merged_lse = mutable_values<T>(lse);
  std::fill(merged_out.begin(), merged_out.end(), T{0});
  std::fill(merged_lse.begin(), merged_lse.end(), -std::numeric_limits<T>::infinity());
  for (int r = 0; r < ranks; ++r) {
    const T* block = all.data() + static_cast<size_t>(r) * state.size();
    kernels::merge_softmax_states<T>(merged_out, merged_lse, {block, out_size}, {block + out_size, rows},
                                     out.shape()[3]);
  }
}

template <typename T>
std::vector<Tensor> backward(const Saved& s, const Tensor& grad) {
  const kernels::AttentionParams params = backward_params(s);
  const auto& shape = params.shape;
  Tensor dout = grad.contiguous().clone();
  if (s.group) s.group->all_reduce(mutable_values<T>(dout), ReduceOp::sum);
  Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype()), dk = Tensor::empty(s.k.shape(), s.k.dtype()),
         dv = Tensor::empty(s.v.shape(), s.v.dtype());
  std::vector<T> delta(static_cast<size_t>(shape.rows()));
  kernels::attention_delta<T>(values<T>(dout), values<T>(s.out), shape.value_dim, delta);
  kernels::attention_backward<T>(params, {values<T>(s.q), values<T>(s.k), values<T>(s.v), values<T>(dout),
                                            values<T>(s.lse), delta, mutable_values<T>(dq), mutable_values<T>(dk), mutable_values<T>(dv)});
  return {dq, dk, dv};
}

}  // namespace

std::pair<Tensor, Tensor> distributed_global_attention_with_lse(const Tensor& q_in, const Tensor& k_in,
                                                                const Tensor& v_in, const AttentionSpec& spec,
                                                                Communicator* group) {
  ATTNSCALE_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4, "global_attention",
                  "expects q, k, v as [B, H, N, D]; got {}, {}, {}", shape_str(q_in.shape()),
                  shape_str(k_in.shape()), shape_str(v_in.shape()));
  auto saved = std::make_shared<Saved>();
  saved->spec = spec;
  saved->spec.k_positions = key_positions(spec, k_in.shape()[2], group);
  saved->group = group;
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  saved->q = q.detach();
  saved->k = k.detach();
  saved->v = v.detach();
  Tensor out = Tensor::empty({q.shape()[0], q.shape()[1], q.shape()[2], v.shape()[3]}, q.dtype());
  Tensor lse = Tensor::empty({q.shape()[0], q.shape()[1], q.shape()[2]}, q.dtype());
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "global_attention", [&] { forward<scalar_t>(*saved, out, lse); });
  saved->out = out.detach();
  saved->lse = lse.detach();
  out = autograd::record(out, "distributed_global_attention", {q, k, v}, [saved](const Tensor& g) {
    return ATTNSCALE_DISPATCH_FLOAT(saved->q.dtype(), "global_attention",
                                    [&] { return backward<scalar_t>(*saved, g); });
  });
  return {out, lse};
}

Tensor distributed_global_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                    Communicator* group) {
  return distributed_global_attention_with_lse(q, k, v, spec, group).first;
}

}  // namespace attnscale
