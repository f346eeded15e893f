#include "distributed/context_parallel/global_attention.h"

#include <cmath>
#include <limits>

#include "framework/autograd/node.h"
#include "kernels/softmax_merge.h"

namespace attnscale {
namespace {

struct Saved {
  AttentionSpec spec;  // owns the per-token parts the kernel's mask points into
  kernels::AttentionParams params;
  Tensor q, k, v, out, lse;
  Communicator* group = nullptr;
};

template <typename T>
std::span<const T> cspan(const Tensor& t) {
  return {t.data<T>(), static_cast<size_t>(t.numel())};
}
template <typename T>
std::span<T> mspan(Tensor& t) {
  return {t.data<T>(), static_cast<size_t>(t.numel())};
}

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

kernels::AttentionParams make_params(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                     Communicator* group) {
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "global_attention",
                  "expects q, k, v as [B, H, N, D]; got {}, {}, {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  ATTNSCALE_CHECK(q.dtype() == k.dtype() && k.dtype() == v.dtype(), "global_attention", "q, k, v dtypes differ");
  kernels::AttentionShape shape{q.shape()[0], q.shape()[1], k.shape()[1], q.shape()[2],
                                k.shape()[2], q.shape()[3], v.shape()[3]};
  ATTNSCALE_CHECK(k.shape()[0] == shape.batch && v.shape()[0] == shape.batch && k.shape()[3] == shape.head_dim &&
                      v.shape()[1] == shape.kv_heads && v.shape()[2] == shape.k_len,
                  "global_attention", "incompatible q {}, k {}, v {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  kernels::AttentionParams p = kernels::default_attention_params(shape);
  if (spec.scale > 0) p.scale = spec.scale;
  p.mask = spec.mask;
  p.mask.q_segment = spec.q_segment;
  p.mask.k_segment = spec.k_segment;
  p.mask.k_valid = spec.k_valid;
  if (spec.q_positions.size() > 0) p.q_positions = spec.q_positions;
  p.k_positions = key_positions(spec, shape.k_len, group);
  ATTNSCALE_CHECK(p.q_positions.size() == shape.q_len && p.k_positions.size() == shape.k_len, "global_attention",
                  "{} query / {} key positions given for N = {}, M = {}", p.q_positions.size(),
                  p.k_positions.size(), shape.q_len, shape.k_len);
  kernels::validate_mask(p.mask, shape.batch, shape.q_len, shape.k_len);
  return p;
}

// Local partial state, one all-gather, the merge in rank order.
template <typename T>
void forward(const Saved& s, Tensor& out, Tensor& lse) {
  const auto& shape = s.params.shape;
  const auto rows = static_cast<size_t>(shape.rows()), out_size = static_cast<size_t>(shape.out_size());
  std::vector<T> state(out_size + rows);  // this rank's out, then lse
  const std::span<T> local_out(state.data(), out_size), local_lse(state.data() + out_size, rows);
  kernels::attention_forward<T>(s.params, {cspan<T>(s.q), cspan<T>(s.k), cspan<T>(s.v), local_out, local_lse});
  const int ranks = s.group ? s.group->size() : 1;
  std::vector<T> all(state.size() * static_cast<size_t>(ranks));
  if (s.group) {
    s.group->all_gather(state, all);
  } else {
    all = state;
  }
  const std::span<T> merged_out = mspan<T>(out), merged_lse = mspan<T>(lse);
  std::fill(merged_out.begin(), merged_out.end(), T{0});
  std::fill(merged_lse.begin(), merged_lse.end(), -std::numeric_limits<T>::infinity());
  for (int r = 0; r < ranks; ++r) {
    const T* block = all.data() + static_cast<size_t>(r) * state.size();
    kernels::merge_softmax_states<T>(merged_out, merged_lse, {block, out_size}, {block + out_size, rows},
                                     shape.value_dim);
  }
}

template <typename T>
std::vector<Tensor> backward(const Saved& s, const Tensor& grad) {
  const auto& shape = s.params.shape;
  Tensor dout = grad.contiguous().clone();
  if (s.group) s.group->all_reduce(mspan<T>(dout), ReduceOp::sum);
  Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype()), dk = Tensor::empty(s.k.shape(), s.k.dtype()),
         dv = Tensor::empty(s.v.shape(), s.v.dtype());
  std::vector<T> delta(static_cast<size_t>(shape.rows()));
  kernels::attention_delta<T>(cspan<T>(dout), cspan<T>(s.out), shape.value_dim, delta);
  kernels::attention_backward<T>(s.params, {cspan<T>(s.q), cspan<T>(s.k), cspan<T>(s.v), cspan<T>(dout),
                                            cspan<T>(s.lse), delta, mspan<T>(dq), mspan<T>(dk), mspan<T>(dv)});
  return {dq, dk, dv};
}

}  // namespace

std::pair<Tensor, Tensor> distributed_global_attention_with_lse(const Tensor& q_in, const Tensor& k_in,
                                                                const Tensor& v_in, const AttentionSpec& spec,
                                                                Communicator* group) {
  auto saved = std::make_shared<Saved>();
  saved->spec = spec;
  saved->group = group;
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  saved->params = make_params(q, k, v, saved->spec, group);
  saved->q = q.detach();
  saved->k = k.detach();
  saved->v = v.detach();
  const auto& shape = saved->params.shape;
  Tensor out = Tensor::empty({shape.batch, shape.q_heads, shape.q_len, shape.value_dim}, q.dtype());
  Tensor lse = Tensor::empty({shape.batch, shape.q_heads, shape.q_len}, q.dtype());
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
