#include "framework/attention/hierarchical.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/merge_states.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {
namespace {

void check_input(const Tensor& h, const Tensor& mask) {
  ATTNSCALE_CHECK(h.defined() && h.dim() == 3, "hierarchical_attention", "annotations must be [B, T, D], got {}",
                  h.defined() ? shape_str(h.shape()) : "undefined");
  if (!mask.defined()) return;
  ATTNSCALE_CHECK(mask.dim() == 2 && mask.shape()[0] == h.shape()[0] && mask.shape()[1] == h.shape()[1],
                  "hierarchical_attention", "mask must be [B, T] = [{}, {}], got {}", h.shape()[0], h.shape()[1],
                  shape_str(mask.shape()));
  ATTNSCALE_CHECK(mask.dtype() == h.dtype(), "hierarchical_attention", "mask dtype {} differs from annotations' {}",
                  dtype_name(mask.dtype()), dtype_name(h.dtype()));
}

CommDType comm_dtype(DType dtype) { return dtype == DType::f64 ? CommDType::f64 : CommDType::f32; }

}  // namespace

AttentionPooling::AttentionPooling(int64_t input_dim, int64_t attn_dim, PoolingKind kind, Generator& gen, DType dtype)
    : kind_(kind), input_dim_(input_dim) {
  ATTNSCALE_CHECK(input_dim > 0, "hierarchical_attention", "input_dim must be positive, got {}", input_dim);
  if (kind_ != PoolingKind::attention) return;
  ATTNSCALE_CHECK(attn_dim > 0, "hierarchical_attention", "attn_dim must be positive, got {}", attn_dim);
  projection_ = register_module("projection", std::make_shared<nn::Linear>(input_dim, attn_dim, true, gen, dtype));
  context_ = register_parameter(
      "context", Tensor::randn({attn_dim}, gen, dtype, 1.0 / std::sqrt(static_cast<double>(attn_dim))));
}

Tensor AttentionPooling::masked_scores(const Tensor& h, const Tensor& mask) const {
  const int64_t batch = h.shape()[0], steps = h.shape()[1];
  Tensor scores;
  if (kind_ == PoolingKind::attention) {
    const Tensor u = tanh(projection_->forward(h));                         // [B, T, A]
    scores = reshape(matmul(u, reshape(context_, {-1, 1})), {batch, steps});  // u_t . u_w
  } else {
    scores = Tensor::zeros({batch, steps}, h.dtype(), h.device());  // equal scores: the average
  }
  if (!mask.defined()) return scores;
  return where(mask, scores, Tensor::full({}, kEmptyLse, h.dtype(), h.device()));
}

PooledState AttentionPooling::partial(const Tensor& h, const Tensor& mask) const {
  check_input(h, mask);
  ATTNSCALE_CHECK(kind_ != PoolingKind::max, "hierarchical_attention",
                  "max pooling has no softmax state (use attention or average to merge across ranks)");
  const Tensor scores = masked_scores(h, mask);
  const Tensor lse = logsumexp(scores, 1);                   // [B]
  Tensor alpha = exp(sub(scores, unsqueeze(lse, 1)));        // [B, T]
  if (mask.defined()) alpha = mul(alpha, mask);              // exactly 0 at padding, even in empty rows
  const Tensor out = squeeze(matmul(unsqueeze(alpha, 1), h), 1);  // [B, D]
  return {out, lse};
}

Tensor AttentionPooling::forward(const Tensor& h, const Tensor& mask) const {
  check_input(h, mask);
  if (kind_ != PoolingKind::max) return partial(h, mask).out;
  const Tensor masked =
      mask.defined() ? where(unsqueeze(mask, 2), h, Tensor::full({}, kEmptyLse, h.dtype(), h.device())) : h;
  return max(masked, 1);
}

Tensor AttentionPooling::weights(const Tensor& h, const Tensor& mask) const {
  check_input(h, mask);
  ATTNSCALE_CHECK(kind_ != PoolingKind::max, "hierarchical_attention", "max pooling has no attention weights");
  const Tensor scores = masked_scores(h, mask);
  Tensor alpha = softmax(scores, 1);
  return mask.defined() ? mul(alpha, mask) : alpha;
}

Tensor merge_pooled_states(const PooledState& local, Communicator& group) {
  const Tensor& out = local.out;
  ATTNSCALE_CHECK(out.dim() == 2 && local.lse.dim() == 1 && local.lse.shape()[0] == out.shape()[0] &&
                      local.lse.dtype() == out.dtype(),
                  "hierarchical_attention", "state must be out [B, D] and lse [B] of one dtype, got {} and {}",
                  shape_str(out.shape()), shape_str(local.lse.shape()));
  const int64_t rows = out.shape()[0], dim = out.shape()[1];
  const DType dtype = out.dtype();
  const Tensor local_out = out.detach().contiguous(), local_lse = local.lse.detach().contiguous();
  Tensor merged = Tensor::empty({rows, dim}, dtype), merged_lse = Tensor::empty({rows}, dtype);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "hierarchical_attention", [&] {
    using T = scalar_t;
    merge_states_across_ranks<T>(&group, {local_out.data<T>(), static_cast<size_t>(rows * dim)},
                                 {local_lse.data<T>(), static_cast<size_t>(rows)}, dim,
                                 {merged.data<T>(), static_cast<size_t>(rows * dim)},
                                 {merged_lse.data<T>(), static_cast<size_t>(rows)});
  });
  // d out / d out_r = w_r, d out / d lse_r = w_r (out_r - out), with w_r = exp(lse_r - lse).
  Communicator* comm = &group;
  // Detached: a backward that held the output itself would make a cycle and leak every step's graph.
  const Tensor merged_const = merged.detach(), merged_lse_const = merged_lse;
  // The backward is collective, so every rank of the group must record it whenever gradients are
  // on, even a rank whose state needs none (it holds no sentence of the batch, with parameter-free
  // average pooling): such a rank records against stand-in leaves instead of skipping the node.
  std::vector<Tensor> inputs{local.out, local.lse};
  if (autograd::grad_enabled() && !autograd::needs_grad(inputs))
    inputs = {local_out.clone().set_requires_grad(), local_lse.clone().set_requires_grad()};
  return autograd::record(merged, "merge_pooled_states", inputs,
                          [comm, local_out, local_lse, merged_const, merged_lse_const, dtype](const Tensor& grad) {
                            Tensor total = grad.contiguous().clone();
                            ATTNSCALE_DISPATCH_FLOAT(dtype, "hierarchical_attention", [&] {
                              comm->all_reduce(total.data<scalar_t>(), static_cast<size_t>(total.numel()),
                                               comm_dtype(dtype), ReduceOp::sum);
                            });
                            const Tensor weight = unsqueeze(exp(sub(local_lse, merged_lse_const)), 1);  // [B, 1]
                            const Tensor grad_out = mul(total, weight);
                            const Tensor grad_lse =
                                sum(mul(mul(total, sub(local_out, merged_const)), weight), {1});
                            return std::vector<Tensor>{grad_out, grad_lse};
                          });
}

}  // namespace attnscale::attention
