// The halo and block-sparse attention ops (front end): argument checks, the fetch plan, the
// autograd node, and the dispatch by algorithm. The computation and the transfers are in
// fetch_attention.h.
#include "distributed/context_parallel/sequence_parallel_attention.h"

#include <cmath>
#include <memory>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "distributed/context_parallel/all_gather_attention.h"
#include "distributed/context_parallel/fetch_attention.h"
#include "distributed/context_parallel/op_buffers.h"
#include "base/logging.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"

namespace attnscale {
namespace {

// Halo, block fetch and all-gather have no device schedule yet: with q, k, v on a GPU they run on
// host copies (differentiable moves, so the gradients come back to the GPU) over the same
// communicator, which takes host buffers too. Said once in the log; README "Running on GPUs".
template <typename Op>
std::pair<Tensor, Tensor> on_host_copies(const char* algo, const Tensor& q, const Tensor& k, const Tensor& v,
                                         Op&& op) {
  const Device device = q.device();
  if (device.is_cpu()) return op(q, k, v);
  static bool said = false;
  if (!said) {
    said = true;
    LOG_WARN("[context_parallel] parallel.algo {} has no GPU schedule yet: its attention runs on host copies of q, k, "
             "v (ring, ulysses and hybrid run on the GPU)",
             algo);
  }
  auto [out, lse] = op(q.to(kCpu), k.to(kCpu), v.to(kCpu));
  return {out.to(device), lse.defined() ? lse.to(device) : lse};
}

struct Saved {
  Communicator* comm = nullptr;
  std::shared_ptr<const sp::FetchPlan> plan;
  sp::Transport transport = sp::Transport::point_to_point;
  kernels::AttentionShape shape;
  double scale = 0;
  kernels::Mask mask;  // positional parts
  std::vector<int32_t> q_segment, k_segment, k_valid;
  Tensor q, k, v, out, lse;
  sp::SavedFetch fetched;
};

template <typename T>
sp::FetchInputs<T> fetch_inputs(const Saved& s) {
  sp::FetchInputs<T> in;
  in.shape = s.shape;
  in.scale = s.scale;
  in.mask = s.mask;
  in.q = sp::cspan<T>(s.q);
  in.k = sp::cspan<T>(s.k);
  in.v = sp::cspan<T>(s.v);
  in.q_segment = s.q_segment;
  in.k_segment = s.k_segment;
  in.k_valid = s.k_valid;
  return in;
}

void check_positions(const kernels::Positions& given, const kernels::Positions& layout, const char* op,
                     const char* what) {
  ATTNSCALE_CHECK(given.size() == 0 || given == layout, op,
                  "spec.{} differ from the layout's positions of this rank (leave them empty: the op fills them)",
                  what);
}

std::pair<Tensor, Tensor> run(const char* op, const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionSpec& spec,
           const SequenceParallelGroup& group, sp::Transport transport, int64_t plan_block) {
  ATTNSCALE_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4, op,
                  "expects q, k, v as [B, H, n, D]; got {}, {}, {}", shape_str(q_in.shape()), shape_str(k_in.shape()),
                  shape_str(v_in.shape()));
  ATTNSCALE_CHECK(q_in.dtype() == k_in.dtype() && k_in.dtype() == v_in.dtype(), op, "q, k, v dtypes differ");
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t batch = q.shape()[0], q_heads = q.shape()[1], n = q.shape()[2], d = q.shape()[3];
  const int64_t kv_heads = k.shape()[1], m = k.shape()[2], dv = v.shape()[3];
  ATTNSCALE_CHECK(k.shape()[0] == batch && v.shape()[0] == batch && k.shape()[3] == d && v.shape()[1] == kv_heads &&
                      v.shape()[2] == m && m == n,
                  op, "incompatible q {}, k {}, v {} (self-attention: one shard of tokens)", shape_str(q.shape()),
                  shape_str(k.shape()), shape_str(v.shape()));
  ATTNSCALE_CHECK(kv_heads >= 1 && q_heads % kv_heads == 0, op,
                  "query heads ({}) not divisible by key/value heads ({})", q_heads, kv_heads);
  const int rank = group.comm->rank(), ranks = group.comm->size();
  ATTNSCALE_CHECK(group.layout.ranks == ranks, op, "the layout is over {} ranks, the group has {}", group.layout.ranks,
                  ranks);
  ATTNSCALE_CHECK(n == group.layout.local_length(rank), op, "rank {} holds {} tokens; the layout gives it {}", rank, n,
                  group.layout.local_length(rank));
  check_positions(spec.q_positions, group.layout.positions(rank), op, "q_positions");
  check_positions(spec.k_positions, group.layout.positions(rank), op, "k_positions");

  auto saved = std::make_shared<Saved>();
  saved->comm = group.comm;
  saved->transport = transport;
  saved->mask = spec.mask;
  saved->mask.q_segment = saved->mask.k_segment = saved->mask.k_valid = {};
  kernels::validate_mask(saved->mask, batch, n, m);
  saved->q_segment = spec.q_segment;
  saved->k_segment = spec.k_segment;
  saved->k_valid = spec.k_valid;
  kernels::Mask per_token = saved->mask;
  per_token.q_segment = saved->q_segment;
  per_token.k_segment = saved->k_segment;
  per_token.k_valid = saved->k_valid;
  kernels::validate_mask(per_token, batch, n, m);
  std::vector<kernels::Positions> positions;
  for (int r = 0; r < ranks; ++r) positions.push_back(group.layout.positions(r));
  saved->plan = std::make_shared<const sp::FetchPlan>(saved->mask, positions, positions, plan_block);
  saved->scale = kernels::score_scale(spec.scale, d);
  saved->shape = {batch, q_heads, kv_heads, n, m, d, dv};
  saved->q = q.detach();
  saved->k = k.detach();
  saved->v = v.detach();
  saved->out = Tensor::empty({batch, q_heads, n, dv}, q.dtype());
  saved->lse = Tensor::empty({batch, q_heads, n}, q.dtype());
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), op, [&] {
    using T = scalar_t;
    sp::fetch_attention_forward<T>(*group.comm, *saved->plan, transport, fetch_inputs<T>(*saved),
                                   sp::mspan<T>(saved->out), sp::mspan<T>(saved->lse), saved->fetched.get<T>());
  });
  Tensor out = autograd::record(saved->out.detach(), op, {q, k, v}, [saved](const Tensor& g) {
    Saved& s = *saved;
    const Tensor dout = g.contiguous();
    Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype()), dk = Tensor::empty(s.k.shape(), s.k.dtype()),
           dv = Tensor::empty(s.v.shape(), s.v.dtype());
    ATTNSCALE_DISPATCH_FLOAT(s.q.dtype(), "sequence_parallel", [&] {
      using T = scalar_t;
      sp::fetch_attention_backward<T>(*s.comm, *s.plan, s.transport, fetch_inputs<T>(s), s.fetched.get<T>(),
                                      sp::cspan<T>(s.out), sp::cspan<T>(s.lse), sp::cspan<T>(dout), sp::mspan<T>(dq),
                                      sp::mspan<T>(dk), sp::mspan<T>(dv));
    });
    return std::vector<Tensor>{dq, dk, dv};
  });
  return {out, saved->lse.detach()};
}

// The single-rank path runs the fused kernel on the shard as it is: any layout over one rank is
// contiguous.
bool single_rank(const SequenceParallelGroup& group) { return group.comm == nullptr || group.comm->size() == 1; }

std::pair<Tensor, Tensor> halo_with_lse(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                        const SequenceParallelGroup& group) {
  AlgoInputs inputs = algo_inputs(spec.mask, group.layout);
  inputs.contiguous |= single_rank(group);
  check_algo_fits(ParallelAlgo::halo, inputs, "halo");
  if (single_rank(group)) return fused_attention_with_lse(q, k, v, spec);
  // Fine granularity: a window needs single rows at the shard edges.
  return run("halo", q, k, v, spec, group, sp::Transport::point_to_point, 64);
}

std::pair<Tensor, Tensor> block_sparse_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AttentionSpec& spec, const SequenceParallelGroup& group) {
  check_algo_fits(ParallelAlgo::sparse_fetch, algo_inputs(spec.mask, group.layout), "block_sparse");
  if (single_rank(group)) return fused_attention_with_lse(q, k, v, spec);
  return run("block_sparse", q, k, v, spec, group, sp::Transport::all_to_all, spec.mask.blocks->block_size());
}

}  // namespace

Tensor halo_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                      const SequenceParallelGroup& group) {
  return halo_with_lse(q, k, v, spec, group).first;
}

Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                              const SequenceParallelGroup& group) {
  return block_sparse_with_lse(q, k, v, spec, group).first;
}

std::pair<Tensor, Tensor> sequence_parallel_attention_with_lse(const Tensor& q, const Tensor& k, const Tensor& v,
                                                               const AttentionSpec& spec,
                                                               const ContextParallelGroup& group) {
  const SequenceParallelGroup fetch_group{group.cp, group.layout};
  switch (resolve_algo(group.algo, spec.mask, group.layout)) {
    case ParallelAlgo::halo:
      return on_host_copies("halo", q, k, v, [&](const Tensor& hq, const Tensor& hk, const Tensor& hv) {
        return halo_with_lse(hq, hk, hv, spec, fetch_group);
      });
    case ParallelAlgo::sparse_fetch:
      return on_host_copies("sparse_fetch", q, k, v, [&](const Tensor& hq, const Tensor& hk, const Tensor& hv) {
        return block_sparse_with_lse(hq, hk, hv, spec, fetch_group);
      });
    case ParallelAlgo::all_gather:
      return on_host_copies("all_gather", q, k, v, [&](const Tensor& hq, const Tensor& hk, const Tensor& hv) {
        return all_gather_attention_with_lse(hq, hk, hv, spec, fetch_group);
      });
    case ParallelAlgo::ring:
    case ParallelAlgo::ulysses:
    case ParallelAlgo::hybrid:
    case ParallelAlgo::auto_:  // resolved above
      break;
  }
  return context_parallel_attention_with_lse(q, k, v, spec, group);
}

Tensor sequence_parallel_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                   const ContextParallelGroup& group, kernels::Normalizer normalizer) {
  // bf16: every algorithm runs in float32 (K/V travel as float32; softmax statistics, lse and the
  // ring's merges too); the output is rounded to bf16 once.
  if (ops_detail::is_bf16(q))
    return ops_detail::bf16_via_f32(
        [&](const Tensor& qf, const Tensor& kf, const Tensor& vf) {
          return sequence_parallel_attention(qf, kf, vf, spec, group, normalizer);
        },
        q, k, v);
  const ParallelAlgo algo = resolve_algo(group.algo, spec.mask, group.layout, normalizer);
  if (algo == ParallelAlgo::all_gather)
    return on_host_copies("all_gather", q, k, v, [&](const Tensor& hq, const Tensor& hk, const Tensor& hv) {
             return std::pair<Tensor, Tensor>{
                 all_gather_attention(hq, hk, hv, spec, SequenceParallelGroup{group.cp, group.layout}, normalizer),
                 Tensor()};
           }).first;
  AlgoInputs inputs = algo_inputs(spec.mask, group.layout, normalizer);
  inputs.contiguous |= single_rank({group.cp, group.layout});
  check_algo_fits(algo, inputs, "sequence_parallel");
  ContextParallelGroup resolved = group;
  resolved.algo = algo;
  return sequence_parallel_attention_with_lse(q, k, v, spec, resolved).first;
}

}  // namespace attnscale
