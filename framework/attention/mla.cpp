#include "framework/attention/mla.h"

#include <cmath>

#include "framework/attention/multi_head.h"
#include "framework/attention/scaled_dot_product.h"
#include "framework/nn/rope.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

MultiHeadLatentAttention::MultiHeadLatentAttention(const MultiHeadLatentOptions& o, Generator& gen, DType dtype)
    : options_(o) {
  auto positive = [](int64_t v) { return v > 0; };
  ATTNSCALE_CHECK(positive(o.d_model) && positive(o.n_heads), "multi_head_latent",
                  "d_model ({}) and n_heads ({}) must be positive", o.d_model, o.n_heads);
  ATTNSCALE_CHECK(positive(o.kv_lora_rank), "multi_head_latent", "kv_lora_rank must be positive, got {}",
                  o.kv_lora_rank);
  ATTNSCALE_CHECK(o.q_lora_rank >= 0, "multi_head_latent", "q_lora_rank must be >= 0, got {}", o.q_lora_rank);
  ATTNSCALE_CHECK(positive(o.qk_nope_head_dim) && positive(o.v_head_dim), "multi_head_latent",
                  "qk_nope_head_dim ({}) and v_head_dim ({}) must be positive", o.qk_nope_head_dim, o.v_head_dim);
  ATTNSCALE_CHECK(positive(o.qk_rope_head_dim) && o.qk_rope_head_dim % 2 == 0, "multi_head_latent",
                  "qk_rope_head_dim must be positive and even (rotary pairs), got {}", o.qk_rope_head_dim);
  const int64_t h = o.n_heads, qk = o.qk_nope_head_dim + o.qk_rope_head_dim;
  if (o.q_lora_rank == 0) {
    q_proj_ = register_module("q_proj", std::make_shared<nn::Linear>(o.d_model, h * qk, false, gen, dtype));
  } else {
    q_down_ = register_module("q_down", std::make_shared<nn::Linear>(o.d_model, o.q_lora_rank, false, gen, dtype));
    q_norm_ = register_module("q_norm", std::make_shared<nn::RMSNorm>(o.q_lora_rank, 1e-6, dtype));
    q_up_ = register_module("q_up", std::make_shared<nn::Linear>(o.q_lora_rank, h * qk, false, gen, dtype));
  }
  // One down-projection gives the latent and the shared rope key (DeepSeek-V2's W_DKV and W_KR).
  kv_down_ = register_module(
      "kv_down", std::make_shared<nn::Linear>(o.d_model, o.kv_lora_rank + o.qk_rope_head_dim, false, gen, dtype));
  kv_norm_ = register_module("kv_norm", std::make_shared<nn::RMSNorm>(o.kv_lora_rank, 1e-6, dtype));
  // Rows of head i: [W_UK_i (qk_nope_head_dim rows); W_UV_i (v_head_dim rows)].
  kv_up_ = register_module(
      "kv_up", std::make_shared<nn::Linear>(o.kv_lora_rank, h * (o.qk_nope_head_dim + o.v_head_dim), false, gen, dtype));
  o_proj_ = register_module("o_proj", std::make_shared<nn::Linear>(h * o.v_head_dim, o.d_model, false, gen, dtype));
}

void MultiHeadLatentAttention::check_input(const Tensor& x, const Tensor& positions) const {
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.d_model, "multi_head_latent",
                  "x must be [B, N, {}], got {}", options_.d_model, shape_str(x.shape()));
  ATTNSCALE_CHECK(positions.dim() == 1 && positions.numel() == x.shape()[1], "multi_head_latent",
                  "positions must be [{}], got {}", x.shape()[1], shape_str(positions.shape()));
}

MultiHeadLatentAttention::Queries MultiHeadLatentAttention::queries(const Tensor& x, const Tensor& positions) const {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  const int64_t nope = options_.qk_nope_head_dim, rope = options_.qk_rope_head_dim;
  const Tensor flat = q_proj_ ? q_proj_->forward(x) : q_up_->forward(q_norm_->forward(q_down_->forward(x)));
  const Tensor q = transpose(reshape(flat, {b, n, options_.n_heads, nope + rope}), 1, 2);
  return {narrow(q, 3, 0, nope), nn::apply_rope(narrow(q, 3, nope, rope), positions, options_.rope_theta)};
}

MultiHeadLatentAttention::Latents MultiHeadLatentAttention::latents(const Tensor& x, const Tensor& positions) const {
  const Tensor down = kv_down_->forward(x);
  const int64_t dc = options_.kv_lora_rank, rope = options_.qk_rope_head_dim;
  return {kv_norm_->forward(narrow(down, 2, 0, dc)),
          nn::apply_rope(narrow(down, 2, dc, rope), positions, options_.rope_theta)};
}

Tensor MultiHeadLatentAttention::attend(const Queries& q, const Latents& kv, const Tensor& q_positions,
                                        const Tensor& k_positions, std::span<const int32_t> key_valid,
                                        LatentPath path) const {
  const auto& cp = options_.context_parallel;
  const bool sharded = cp && cp->cp && cp->cp->size() > 1;
  const int64_t b = q.nope.shape()[0], h = options_.n_heads, n = q.nope.shape()[2], m = kv.latent.shape()[1];
  const int64_t nope = options_.qk_nope_head_dim, rope = options_.qk_rope_head_dim, dv = options_.v_head_dim;
  const int64_t dc = options_.kv_lora_rank;
  AttentionSpec spec;
  spec.scale = kernels::score_scale(options_.scale, nope + rope);
  spec.mask = options_.mask;
  spec.k_valid.assign(key_valid.begin(), key_valid.end());
  if (sharded) {
    // The latents travel, so the sharded path is the absorbed one; positions come from the layout.
    ATTNSCALE_CHECK(options_.fused, "multi_head_latent",
                    "context-parallel attention runs the fused kernels; set attention.impl=fused");
    path = LatentPath::absorbed;
  } else {
    spec.q_positions = kernels::Positions::compact(q_positions.to_vector<int64_t>());
    spec.k_positions = kernels::Positions::compact(k_positions.to_vector<int64_t>());
  }
  const ScaledDotProductOptions sdpa{options_.normalizer, options_.fused};
  const Tensor rope_key = unsqueeze(kv.rope_key, 1);  // [B, 1, M, rope]: one key head shared by all

  Tensor heads_out;  // [B, H, N, dv]
  if (path == LatentPath::plain) {
    const Tensor up = transpose(reshape(kv_up_->forward(kv.latent), {b, m, h, nope + dv}), 1, 2);
    const Tensor k = concat({narrow(up, 3, 0, nope), expand(rope_key, {b, h, m, rope})}, 3);
    heads_out = scaled_dot_product_attention(concat({q.nope, q.rope}, 3), k, narrow(up, 3, nope, dv), spec, sdpa);
  } else {
    // kv_up's weight [H * (nope + dv), dc] as per-head W_UK [H, nope, dc] and W_UV [H, dv, dc].
    const Tensor w = reshape(kv_up_->weight(), {h, nope + dv, dc});
    const Tensor w_uk = narrow(w, 1, 0, nope), w_uv = narrow(w, 1, nope, dv);
    const Tensor q_latent = matmul(q.nope, w_uk);  // [B, H, N, dc]
    const Tensor latent = unsqueeze(kv.latent, 1);  // [B, 1, M, dc]
    const Tensor queries = concat({q_latent, q.rope}, 3), keys = concat({latent, rope_key}, 3);
    const Tensor out_latent = sharded ? sequence_parallel_attention(queries, keys, latent, spec, *cp, options_.normalizer)
                                      : scaled_dot_product_attention(queries, keys, latent, spec, sdpa);
    heads_out = matmul(out_latent, transpose(w_uv, 1, 2));  // [B, H, N, dv]
  }
  return o_proj_->forward(reshape(transpose(heads_out, 1, 2), {b, n, h * dv}));
}

Tensor MultiHeadLatentAttention::forward(const Tensor& x, const Tensor& positions,
                                         std::span<const int32_t> key_valid) const {
  check_input(x, positions);
  return attend(queries(x, positions), latents(x, positions), positions, positions, key_valid, LatentPath::plain);
}

Tensor MultiHeadLatentAttention::forward_absorbed(const Tensor& x, const Tensor& positions,
                                                  std::span<const int32_t> key_valid) const {
  check_input(x, positions);
  return attend(queries(x, positions), latents(x, positions), positions, positions, key_valid,
                LatentPath::absorbed);
}

Tensor MultiHeadLatentAttention::forward_cached(const Tensor& x, const Tensor& positions, LatentKvCache& cache,
                                                LatentPath path) const {
  const auto& cp = options_.context_parallel;
  ATTNSCALE_CHECK(!(cp && cp->cp && cp->cp->size() > 1), "multi_head_latent",
                  "cached decoding runs on one rank: its cache holds whole sequences");
  check_input(x, positions);
  const int64_t start = cache.length(), n = x.shape()[1];
  const std::vector<int64_t> pos = positions.to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    ATTNSCALE_CHECK(pos[i] == start + i, "multi_head_latent",
                    "cached decoding continues the cache: token {} must be at position {}, got {}", i, start + i,
                    pos[i]);
  ATTNSCALE_CHECK(!cache.latent.defined() || cache.latent.shape()[0] == x.shape()[0], "multi_head_latent",
                  "cache holds batch {}, input has batch {}", cache.latent.shape()[0], x.shape()[0]);
  const Latents fresh = latents(x, positions);
  cache.latent = cache.latent.defined() ? concat({cache.latent, fresh.latent}, 1) : fresh.latent;
  cache.rope_key = cache.rope_key.defined() ? concat({cache.rope_key, fresh.rope_key}, 1) : fresh.rope_key;
  return attend(queries(x, positions), {cache.latent, cache.rope_key}, positions, Tensor::arange(cache.length()), {},
                path);
}

}  // namespace attnscale::attention
