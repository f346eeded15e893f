// The context-parallel attention ops (front end): argument checks, Ulysses all-to-all when the
// algorithm has one, the ring over the groups, the autograd node. Ring-only runs (U = 1) use the
// caller's buffers as they are; pure Ulysses runs are a ring of one group.
#include "distributed/context_parallel/context_parallel_attention.h"

#include <cmath>

#include "distributed/context_parallel/cp_setup.h"
#include "distributed/context_parallel/ring_attention.h"
#include "distributed/context_parallel/tensor_span.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale {

Algo parse_algo(std::string_view name) {
  if (name == "ring") return Algo::ring;
  if (name == "ulysses") return Algo::ulysses;
  if (name == "hybrid") return Algo::hybrid;
  throw UsageError(fmt::format("[context_parallel] unknown algorithm '{}' (expected ring, ulysses or hybrid)",
                               name));
}

const char* algo_name(Algo algo) {
  switch (algo) {
    case Algo::ring: return "ring";
    case Algo::ulysses: return "ulysses";
    case Algo::hybrid: return "hybrid";
  }
  return "?";
}

namespace {

using cp::CpSetup;

// What the backward needs: the setup, and q, k, v, out, lse as the ring saw them (head shards of
// the Ulysses group's tokens; the caller's tensors when there is no all-to-all).
struct Saved {
  CpSetup setup;
  kernels::AttentionShape shape;  // of the ring's inputs
  double scale = 0;
  kernels::Mask mask;  // positional parts
  std::vector<int32_t> q_segment, k_segment, k_valid;  // in the ring's token order
  Tensor q, k, v, out, lse;
  int64_t q_heads = 0, kv_heads = 0, n_local = 0, m_local = 0;
};

using cp::mutable_values;
using cp::values;

template <typename T>
cp::RingInputs<T> ring_inputs(const Saved& s) {
  cp::RingInputs<T> in;
  in.shape = s.shape;
  in.scale = s.scale;
  in.mask = s.mask;
  in.q = values<T>(s.q);
  in.k = values<T>(s.k);
  in.v = values<T>(s.v);
  in.q_segment = s.q_segment;
  in.k_segment = s.k_segment;
  in.k_valid = s.k_valid;
  return in;
}

// [B, H, n, W] sequence shard -> [B, H_u, N_group, W] head shard (the tensor itself when U = 1).
template <typename T>
Tensor to_heads(const CpSetup& setup, const cp::GroupOrder& order, std::span<const cp::HeadRange> ranges,
                const Tensor& x) {
  if (!setup.ulysses) return x;
  const int64_t batch = x.shape()[0], heads = x.shape()[1], width = x.shape()[3];
  Tensor y = Tensor::empty({batch, ranges[static_cast<size_t>(setup.ulysses_rank())].count, order.size(), width},
                           x.dtype());
  cp::sequence_to_heads<T>(setup.ulysses, order, ranges, batch, heads, width, values<T>(x), mutable_values<T>(y));
  return y;
}

// The inverse; `shape` is the sequence shard's [B, H, n, W] (lse: W = 1, then reshaped by caller).
template <typename T>
Tensor to_sequence(const CpSetup& setup, const cp::GroupOrder& order, std::span<const cp::HeadRange> ranges,
                   const Tensor& y, const Shape& shape) {
  if (!setup.ulysses) return y;
  Tensor x = Tensor::empty(shape, y.dtype());
  cp::heads_to_sequence<T>(setup.ulysses, order, ranges, shape[0], shape[1], shape[3], values<T>(y), mutable_values<T>(x));
  return x;
}

std::vector<int32_t> tokens_of_group(const CpSetup& setup, const cp::GroupOrder& order, int64_t batch,
                                     const std::vector<int32_t>& local) {
  if (local.empty() || !setup.ulysses) return local;
  return cp::gather_tokens(setup.ulysses, order, batch, local);
}

void check_positions(const kernels::Positions& given, const kernels::Positions& layout, const char* what) {
  ATTNSCALE_CHECK(given.size() == 0 || given == layout, "context_parallel",
                  "spec.{} differ from the layout's positions of this rank (leave them empty: the op fills "
                  "them)",
                  what);
}

std::pair<Tensor, Tensor> run(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionSpec& spec,
                              const ContextParallelGroup& group, const kernels::Layout& key_layout,
                              bool want_lse) {
  ATTNSCALE_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4, "context_parallel",
                  "expects q, k, v as [B, H, n, D]; got {}, {}, {}", shape_str(q_in.shape()),
                  shape_str(k_in.shape()), shape_str(v_in.shape()));
  ATTNSCALE_CHECK(q_in.dtype() == k_in.dtype() && k_in.dtype() == v_in.dtype(), "context_parallel",
                  "q, k, v dtypes differ");
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t batch = q.shape()[0], q_heads = q.shape()[1], n = q.shape()[2], d = q.shape()[3];
  const int64_t kv_heads = k.shape()[1], m = k.shape()[2], dv = v.shape()[3];
  ATTNSCALE_CHECK(k.shape()[0] == batch && v.shape()[0] == batch && k.shape()[3] == d && v.shape()[1] == kv_heads &&
                      v.shape()[2] == m,
                  "context_parallel", "incompatible q {}, k {}, v {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  ATTNSCALE_CHECK(kv_heads >= 1 && q_heads % kv_heads == 0, "context_parallel",
                  "query heads ({}) not divisible by key/value heads ({})", q_heads, kv_heads);
  const int cp_rank = group.cp ? group.cp->rank() : 0, cp_size = group.cp ? group.cp->size() : 1;
  ATTNSCALE_CHECK(group.layout.ranks == cp_size && key_layout.ranks == cp_size, "context_parallel",
                  "the layout is over {} ranks (keys: {}), the cp group has {}", group.layout.ranks,
                  key_layout.ranks, cp_size);
  ATTNSCALE_CHECK(n == group.layout.local_length(cp_rank) && m == key_layout.local_length(cp_rank),
                  "context_parallel", "rank {} holds {} query and {} key tokens; the layouts give it {} and {}",
                  cp_rank, n, m, group.layout.local_length(cp_rank), key_layout.local_length(cp_rank));
  check_positions(spec.q_positions, group.layout.positions(cp_rank), "q_positions");
  check_positions(spec.k_positions, key_layout.positions(cp_rank), "k_positions");
  kernels::Mask positional = spec.mask;
  positional.q_segment = {};
  positional.k_segment = {};
  positional.k_valid = {};
  kernels::validate_mask(positional, batch, n, m);
  kernels::Mask per_token = positional;
  per_token.q_segment = spec.q_segment;
  per_token.k_segment = spec.k_segment;
  per_token.k_valid = spec.k_valid;
  kernels::validate_mask(per_token, batch, n, m);

  auto saved = std::make_shared<Saved>();
  saved->setup = cp::make_cp_setup(group, key_layout, q_heads, kv_heads);
  CpSetup& setup = saved->setup;
  saved->scale = spec.scale > 0 ? spec.scale : 1.0 / std::sqrt(static_cast<double>(d));
  saved->mask = positional;
  saved->q_heads = q_heads;
  saved->kv_heads = kv_heads;
  saved->n_local = n;
  saved->m_local = m;
  saved->shape = {batch, setup.my_q_heads().count, setup.my_kv_heads().count, setup.q_order.size(),
                  setup.k_order.size(), d, dv};
  saved->q_segment = tokens_of_group(setup, setup.q_order, batch, spec.q_segment);
  saved->k_segment = tokens_of_group(setup, setup.k_order, batch, spec.k_segment);
  saved->k_valid = tokens_of_group(setup, setup.k_order, batch, spec.k_valid);
  cp::plan_ring(setup, positional, batch, saved->q_segment, saved->k_segment);

  Tensor out, lse;
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "context_parallel", [&] {
    using T = scalar_t;
    saved->q = to_heads<T>(setup, setup.q_order, setup.heads.q, q.detach());
    saved->k = to_heads<T>(setup, setup.k_order, setup.heads.kv, k.detach());
    saved->v = to_heads<T>(setup, setup.k_order, setup.heads.kv, v.detach());
    const auto& s = saved->shape;
    saved->out = Tensor::empty({s.batch, s.q_heads, s.q_len, s.value_dim}, q.dtype());
    saved->lse = Tensor::empty({s.batch, s.q_heads, s.q_len}, q.dtype());
    cp::ring_attention_forward<T>(setup.ring, *setup.plan, ring_inputs<T>(*saved), mutable_values<T>(saved->out),
                                  mutable_values<T>(saved->lse));
    out = to_sequence<T>(setup, setup.q_order, setup.heads.q, saved->out, {batch, q_heads, n, dv});
    if (want_lse) {
      const Tensor lse_rows = reshape(saved->lse, {s.batch, s.q_heads, s.q_len, 1});
      lse = reshape(to_sequence<T>(setup, setup.q_order, setup.heads.q, lse_rows, {batch, q_heads, n, 1}),
                    {batch, q_heads, n});
    }
  });
  out = out.detach();
  if (lse.defined()) lse = lse.detach();

  out = autograd::record(out, "context_parallel_attention", {q, k, v}, [saved](const Tensor& g) {
    const Saved& s = *saved;
    const CpSetup& setup = s.setup;
    const Tensor dout = g.contiguous();
    std::vector<Tensor> grads;
    ATTNSCALE_DISPATCH_FLOAT(s.q.dtype(), "context_parallel", [&] {
      using T = scalar_t;
      const Tensor dout_heads = to_heads<T>(setup, setup.q_order, setup.heads.q, dout);
      Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype()), dk = Tensor::empty(s.k.shape(), s.k.dtype()),
             dv = Tensor::empty(s.v.shape(), s.v.dtype());
      cp::ring_attention_backward<T>(setup.ring, *setup.plan, ring_inputs<T>(s), values<T>(s.out), values<T>(s.lse),
                                     values<T>(dout_heads), mutable_values<T>(dq), mutable_values<T>(dk), mutable_values<T>(dv));
      const int64_t b = s.shape.batch;
      grads = {to_sequence<T>(setup, setup.q_order, setup.heads.q, dq, {b, s.q_heads, s.n_local, s.shape.head_dim}),
               to_sequence<T>(setup, setup.k_order, setup.heads.kv, dk, {b, s.kv_heads, s.m_local, s.shape.head_dim}),
               to_sequence<T>(setup, setup.k_order, setup.heads.kv, dv, {b, s.kv_heads, s.m_local, s.shape.value_dim})};
    });
    return grads;
  });
  return {out, lse};
}

}  // namespace

Tensor context_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                  const ContextParallelGroup& group) {
  return run(q, k, v, spec, group, group.layout, false).first;
}

std::pair<Tensor, Tensor> context_parallel_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                              const AttentionSpec& spec,
                                                              const ContextParallelGroup& group) {
  return run(q, k, v, spec, group, group.layout, true);
}

Tensor context_parallel_cross_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                        const ContextParallelGroup& group, const kernels::Layout& key_layout) {
  return run(q, k, v, spec, group, key_layout, false).first;
}

std::pair<Tensor, Tensor> context_parallel_cross_attention_with_lse(const Tensor& q, const Tensor& k,
                                                                    const Tensor& v, const AttentionSpec& spec,
                                                                    const ContextParallelGroup& group,
                                                                    const kernels::Layout& key_layout) {
  return run(q, k, v, spec, group, key_layout, true);
}

}  // namespace attnscale
