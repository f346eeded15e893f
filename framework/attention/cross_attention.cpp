#include "framework/attention/cross_attention.h"

#include <cmath>

#include "framework/attention/scaled_dot_product.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

CrossAttention::CrossAttention(const CrossAttentionOptions& options, Generator& gen, DType dtype)
    : options_(options), kv_heads_(options.n_kv_heads == 0 ? options.n_heads : options.n_kv_heads) {
  if (options_.d_memory == 0) options_.d_memory = options_.d_model;
  ATTNSCALE_CHECK(options.n_heads > 0 && options.d_model % options.n_heads == 0, "cross_attention",
                  "d_model ({}) not divisible by heads ({})", options.d_model, options.n_heads);
  ATTNSCALE_CHECK(kv_heads_ > 0 && options.n_heads % kv_heads_ == 0, "cross_attention",
                  "heads ({}) not divisible by kv heads ({})", options.n_heads, kv_heads_);
  ATTNSCALE_CHECK(options_.d_memory > 0, "cross_attention", "d_memory must be positive, got {}", options_.d_memory);
  head_dim_ = options.d_model / options.n_heads;
  const int64_t d = options.d_model, dm = options_.d_memory;
  q_proj_ = register_module("q_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
  k_proj_ = register_module("k_proj", std::make_shared<nn::Linear>(dm, kv_heads_ * head_dim_, false, gen, dtype));
  v_proj_ = register_module("v_proj", std::make_shared<nn::Linear>(dm, kv_heads_ * head_dim_, false, gen, dtype));
  o_proj_ = register_module("o_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
}

Tensor CrossAttention::forward(const Tensor& x, const Tensor& memory, std::span<const int32_t> memory_valid) const {
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.d_model, "cross_attention",
                  "queries must be [B, N, {}], got {}", options_.d_model, shape_str(x.shape()));
  ATTNSCALE_CHECK(memory.dim() == 3 && memory.shape()[0] == x.shape()[0] && memory.shape()[2] == options_.d_memory,
                  "cross_attention", "memory must be [{}, M, {}], got {}", x.shape()[0], options_.d_memory,
                  shape_str(memory.shape()));
  const int64_t b = x.shape()[0], n = x.shape()[1], m = memory.shape()[1];
  ATTNSCALE_CHECK(memory_valid.empty() || static_cast<int64_t>(memory_valid.size()) == b * m, "cross_attention",
                  "memory_valid has {} entries for a [{}, {}] memory", memory_valid.size(), b, m);
  auto heads = [&](const Tensor& t, int64_t len, int64_t h) {
    return transpose(reshape(t, {b, len, h, head_dim_}), 1, 2);
  };
  const Tensor q = heads(q_proj_->forward(x), n, options_.n_heads);
  const Tensor k = heads(k_proj_->forward(memory), m, kv_heads_);
  const Tensor v = heads(v_proj_->forward(memory), m, kv_heads_);
  AttentionSpec spec;
  spec.scale = options_.scale > 0 ? options_.scale : 1.0 / std::sqrt(static_cast<double>(head_dim_));
  spec.k_valid.assign(memory_valid.begin(), memory_valid.end());
  const Tensor out = scaled_dot_product_attention(q, k, v, spec, {options_.normalizer, options_.fused});
  return o_proj_->forward(reshape(transpose(out, 1, 2), {b, n, options_.d_model}));
}

}  // namespace attnscale::attention
