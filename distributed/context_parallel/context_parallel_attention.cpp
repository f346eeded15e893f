// The context-parallel attention ops (front end): argument checks, Ulysses all-to-all when the
// algorithm has one, the ring over the groups, the autograd node. Ring-only runs (U = 1) use the
// caller's buffers as they are; pure Ulysses runs are a ring of one group.
#include "distributed/context_parallel/context_parallel_attention.h"

#include <cmath>
#include <memory>
#include <optional>
#include <span>

#include "base/error.h"
#include "distributed/context_parallel/device_ops.h"
#include "distributed/context_parallel/ring_attention.h"
#include "distributed/context_parallel/ring_plan.h"
#include "distributed/context_parallel/tensor_span.h"
#include "distributed/context_parallel/ulysses.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale::cp {

// Everything a context-parallel attention call derives from the group, the layouts and the mask
// before touching data: which communicator does the all-to-all and which the ring, the token order
// of this rank's Ulysses group, the head split and the ring plan over the groups.
struct CpSetup {
  Communicator* ulysses = nullptr;  // null: groups of one rank (pure ring)
  Communicator* ring = nullptr;     // null: one group (pure Ulysses, or one rank)
  int ulysses_size = 1;
  int ring_size = 1;
  GroupOrder q_order, k_order;  // this rank's Ulysses group
  HeadSplit heads;
  std::vector<kernels::Positions> ring_queries, ring_keys;  // token positions of every ring rank
  std::shared_ptr<const RingPlan> plan;  // over the ring's groups; see plan_ring

  int ulysses_rank() const { return ulysses ? ulysses->rank() : 0; }
  HeadRange my_q_heads() const { return heads.q[static_cast<size_t>(ulysses_rank())]; }
  HeadRange my_kv_heads() const { return heads.kv[static_cast<size_t>(ulysses_rank())]; }
};

namespace {

int size_of(const Communicator* comm) { return comm ? comm->size() : 1; }

// The token order of the Ulysses group `group_index` (cp ranks group_index * U + u).
GroupOrder order_of_group(const kernels::Layout& layout, int group_index, int members) {
  std::vector<kernels::Positions> positions;
  for (int u = 0; u < members; ++u) positions.push_back(layout.positions(group_index * members + u));
  return group_order(positions);
}

}  // namespace

// Validates the group (sizes, hybrid rank placement; layouts over the cp size are the caller's
// check) and works out orders and head split. No communication.
CpSetup make_cp_setup(const ContextParallelGroup& group, const kernels::Layout& key_layout,
                      int64_t q_heads, int64_t kv_heads) {
  const int cp_size = size_of(group.cp);
  const int cp_rank = group.cp ? group.cp->rank() : 0;
  CpSetup setup;
  switch (group.algo) {
    case ParallelAlgo::ring:
      setup.ring = cp_size > 1 ? group.cp : nullptr;
      break;
    case ParallelAlgo::ulysses:
      setup.ulysses = cp_size > 1 ? group.cp : nullptr;
      break;
    case ParallelAlgo::hybrid: {
      ATTNSCALE_CHECK(group.ulysses != nullptr && group.ring != nullptr, "context_parallel",
                      "algo hybrid needs both the ulysses and the ring communicator (ProcessGrid::ulysses(), "
                      "ring())");
      const int u = group.ulysses->size(), r = group.ring->size();
      ATTNSCALE_CHECK(u * r == cp_size, "context_parallel",
                      "hybrid: ulysses ({}) x ring ({}) ranks must make the cp group ({})", u, r, cp_size);
      ATTNSCALE_CHECK(cp_rank == group.ring->rank() * u + group.ulysses->rank(), "context_parallel",
                      "hybrid: cp rank {} is not ring rank {} x {} + ulysses rank {} (build the "
                      "communicators with ProcessGrid)",
                      cp_rank, group.ring->rank(), u, group.ulysses->rank());
      setup.ulysses = u > 1 ? group.ulysses : nullptr;
      setup.ring = r > 1 ? group.ring : nullptr;
      break;
    }
    default:
      throw UsageError(fmt::format("[context_parallel] parallel algorithm {} does not run on the ring (ring, ulysses "
                                   "or hybrid; sequence_parallel_attention runs the others)",
                                   parallel_algo_name(group.algo)));
  }
  setup.ulysses_size = size_of(setup.ulysses);
  setup.ring_size = size_of(setup.ring);
  setup.heads = split_heads(q_heads, kv_heads, setup.ulysses_size);

  const int u = setup.ulysses_size;
  for (int g = 0; g < setup.ring_size; ++g) {
    GroupOrder q_order = order_of_group(group.layout, g, u);
    GroupOrder k_order = order_of_group(key_layout, g, u);
    setup.ring_queries.push_back(q_order.positions);
    setup.ring_keys.push_back(k_order.positions);
    if (g == cp_rank / u) {
      setup.q_order = std::move(q_order);
      setup.k_order = std::move(k_order);
    }
  }
  return setup;
}

// Sets setup.plan from the mask's positional parts and, when given (both or neither), the segment
// ids of this rank's ring tokens [B, n] / [B, m] in ring order: their summaries are all-gathered
// over the ring (collective when there are segments).
void plan_ring(CpSetup& setup, const kernels::Mask& mask, int64_t batch, std::span<const int32_t> q_segment,
               std::span<const int32_t> k_segment) {
  std::optional<SegmentSummaries> segments;
  if (!q_segment.empty()) {
    std::vector<int64_t> key_counts;
    for (const kernels::Positions& keys : setup.ring_keys) key_counts.push_back(keys.size());
    segments = gather_segment_summaries(setup.ring, q_segment, k_segment, batch, key_counts);
  }
  setup.plan = std::make_shared<const RingPlan>(mask, setup.ring_queries, setup.ring_keys, 64,
                                                segments ? &*segments : nullptr);
}

}  // namespace attnscale::cp

namespace attnscale {

namespace {

using cp::CpSetup;

// What the backward needs: the setup, and q, k, v, out, lse as the ring saw them (head shards of
// the Ulysses group's tokens; the caller's tensors when there is no all-to-all).
struct Saved {
  CpSetup setup;
  kernels::AttentionShape shape;  // of the ring's inputs
  double scale = 0;
  kernels::Mask mask;  // positional parts
  std::vector<int32_t> q_segment, k_segment, k_valid;  // in the ring's token order (host: the plan reads them)
  // The same on the device for its kernels (empty on the CPU).
  cp::DeviceVector<int32_t> q_segment_on_device{kCpu}, k_segment_on_device{kCpu}, k_valid_on_device{kCpu};
  Tensor q, k, v, out, lse;

  Device device() const { return q.device(); }
  // The per-token mask parts where the kernels read them.
  std::span<const int32_t> kernel_view(const std::vector<int32_t>& host, const cp::DeviceVector<int32_t>& device_copy) const {
    return device().is_cpu() ? std::span<const int32_t>(host) : device_copy.span();
  }
  int64_t q_heads = 0, kv_heads = 0, n_local = 0, m_local = 0;
};

// Spans in the tensors' own memory: the ring and the Ulysses exchange run on the tensors' device.
template <typename T>
std::span<const T> values(const Tensor& t) {
  return cp::device_values<T>(t);
}
template <typename T>
std::span<T> mutable_values(Tensor& t) {
  return cp::mutable_device_values<T>(t);
}

// The device copies of the per-token mask parts the kernels read (GPU runs only).
void upload_segments(Saved& s) {
  if (s.device().is_cpu()) return;
  s.q_segment_on_device = cp::DeviceVector<int32_t>(s.device());
  s.k_segment_on_device = cp::DeviceVector<int32_t>(s.device());
  s.k_valid_on_device = cp::DeviceVector<int32_t>(s.device());
  cp::upload<int32_t>(s.q_segment, s.q_segment_on_device);
  cp::upload<int32_t>(s.k_segment, s.k_segment_on_device);
  cp::upload<int32_t>(s.k_valid, s.k_valid_on_device);
}

template <typename T>
cp::RingInputs<T> ring_inputs(const Saved& s) {
  cp::RingInputs<T> in;
  in.shape = s.shape;
  in.scale = s.scale;
  in.mask = s.mask;
  in.q = values<T>(s.q);
  in.k = values<T>(s.k);
  in.v = values<T>(s.v);
  in.q_segment = s.kernel_view(s.q_segment, s.q_segment_on_device);
  in.k_segment = s.kernel_view(s.k_segment, s.k_segment_on_device);
  in.k_valid = s.kernel_view(s.k_valid, s.k_valid_on_device);
  in.device = s.device();
  return in;
}

// [B, H, n, W] sequence shard -> [B, H_u, N_group, W] head shard (the tensor itself when U = 1).
template <typename T>
Tensor to_heads(const CpSetup& setup, const cp::GroupOrder& order, std::span<const cp::HeadRange> ranges,
                const Tensor& x) {
  if (!setup.ulysses) return x;
  const int64_t batch = x.shape()[0], heads = x.shape()[1], width = x.shape()[3];
  Tensor y = Tensor::empty({batch, ranges[static_cast<size_t>(setup.ulysses_rank())].count, order.size(), width},
                           x.dtype(), x.device());
  cp::sequence_to_heads<T>(setup.ulysses, order, ranges, batch, heads, width, values<T>(x), mutable_values<T>(y),
                           x.device());
  return y;
}

// The inverse; `shape` is the sequence shard's [B, H, n, W] (lse: W = 1, then reshaped by caller).
template <typename T>
Tensor to_sequence(const CpSetup& setup, const cp::GroupOrder& order, std::span<const cp::HeadRange> ranges,
                   const Tensor& y, const Shape& shape) {
  if (!setup.ulysses) return y;
  Tensor x = Tensor::empty(shape, y.dtype(), y.device());
  cp::heads_to_sequence<T>(setup.ulysses, order, ranges, shape[0], shape[1], shape[3], values<T>(y), mutable_values<T>(x),
                           y.device());
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
  ATTNSCALE_CHECK(q_in.device() == k_in.device() && k_in.device() == v_in.device(), "context_parallel",
                  "q, k, v are on {}, {}, {}: move them to one device", q_in.device().str(), k_in.device().str(),
                  v_in.device().str());
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
  saved->scale = kernels::score_scale(spec.scale, d);
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
    upload_segments(*saved);
    const auto& s = saved->shape;
    saved->out = Tensor::empty({s.batch, s.q_heads, s.q_len, s.value_dim}, q.dtype(), q.device());
    saved->lse = Tensor::empty({s.batch, s.q_heads, s.q_len}, q.dtype(), q.device());
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
      Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype(), s.device()),
             dk = Tensor::empty(s.k.shape(), s.k.dtype(), s.device()),
             dv = Tensor::empty(s.v.shape(), s.v.dtype(), s.device());
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
