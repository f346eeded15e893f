#include "framework/attention/multi_head.h"

#include <cmath>

#include "framework/attention/scaled_dot_product.h"
#include "framework/nn/rope.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

MultiHeadAttention::MultiHeadAttention(const MultiHeadOptions& options, Generator& gen, DType dtype)
    : options_(options), kv_heads_(options.n_kv_heads == 0 ? options.n_heads : options.n_kv_heads) {
  ATTNSCALE_CHECK(options.n_heads > 0 && options.d_model % options.n_heads == 0, "multi_head",
                  "d_model ({}) not divisible by heads ({})", options.d_model, options.n_heads);
  ATTNSCALE_CHECK(kv_heads_ > 0 && options.n_heads % kv_heads_ == 0, "multi_head",
                  "heads ({}) not divisible by kv heads ({})", options.n_heads, kv_heads_);
  head_dim_ = options.d_model / options.n_heads;
  ATTNSCALE_CHECK(options.rope_theta == 0 || head_dim_ % 2 == 0, "multi_head",
                  "rotary embedding needs an even head dimension, got {}", head_dim_);
  q_proj_ = register_module("q_proj", std::make_shared<nn::Linear>(options.d_model, options.d_model, false, gen, dtype));
  k_proj_ = register_module("k_proj", std::make_shared<nn::Linear>(options.d_model, kv_heads_ * head_dim_, false, gen, dtype));
  v_proj_ = register_module("v_proj", std::make_shared<nn::Linear>(options.d_model, kv_heads_ * head_dim_, false, gen, dtype));
  o_proj_ = register_module("o_proj", std::make_shared<nn::Linear>(options.d_model, options.d_model, false, gen, dtype));
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid) const {
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.d_model, "multi_head", "x must be [B, N, {}], got {}",
                  options_.d_model, shape_str(x.shape()));
  const int64_t b = x.shape()[0], n = x.shape()[1];
  auto heads = [&](const Tensor& t, int64_t h) { return transpose(reshape(t, {b, n, h, head_dim_}), 1, 2); };
  Tensor q = heads(q_proj_->forward(x), options_.n_heads);
  Tensor k = heads(k_proj_->forward(x), kv_heads_);
  const Tensor v = heads(v_proj_->forward(x), kv_heads_);
  if (options_.rope_theta > 0) {
    q = nn::apply_rope(q, positions, options_.rope_theta);
    k = nn::apply_rope(k, positions, options_.rope_theta);
  }
  AttentionSpec spec;
  spec.scale = kernels::score_scale(options_.scale, head_dim_);
  spec.mask = options_.mask;
  spec.k_valid.assign(key_valid.begin(), key_valid.end());
  const auto& cp = options_.context_parallel;
  Tensor out;
  if (cp && cp->cp && cp->cp->size() > 1) {
    // Positions come from the group's layout; the sequence's keys live on every rank of the group.
    ATTNSCALE_CHECK(options_.fused, "multi_head",
                    "context-parallel attention runs the fused kernels; set attention.impl=fused");
    out = sequence_parallel_attention(q, k, v, spec, *cp, options_.normalizer);
  } else {
    spec.q_positions = spec.k_positions = kernels::Positions::compact(positions.to_vector<int64_t>());
    out = scaled_dot_product_attention(q, k, v, spec, {options_.normalizer, options_.fused});
  }
  return o_proj_->forward(reshape(transpose(out, 1, 2), {b, n, options_.d_model}));
}

}  // namespace attnscale::attention
