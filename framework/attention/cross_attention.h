// Cross-attention (encoder-decoder attention; Vaswani et al. 2017, section 3.2.3): queries come
// from one sequence (the decoder's states), keys and values from another (the encoder's output,
// the "memory"), which may have another length and width. Multi-head, with grouped-query key/value
// heads as an option, any normaliser of scaled_dot_product_attention, and key padding of the
// memory. No rotary embedding: query and memory positions index different sequences, so their
// difference means nothing (position information reaches the memory through the encoder).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "framework/nn/layers.h"
#include "kernels/general_attention.h"

namespace attnscale::attention {

struct CrossAttentionOptions {
  int64_t d_model = 128;   // query (decoder) width, also the output width
  int64_t d_memory = 0;    // key/value source width; 0 = d_model
  int64_t n_heads = 4;
  int64_t n_kv_heads = 0;  // 0 = n_heads
  bool fused = true;
  double scale = 0.0;      // 0 = 1/sqrt(head_dim)
  kernels::Normalizer normalizer = kernels::Normalizer::softmax;
};

class CrossAttention : public nn::Module {
 public:
  CrossAttention(const CrossAttentionOptions& options, Generator& gen, DType dtype = DType::f32);

  // x [B, N, d_model] attends over memory [B, M, d_memory]; memory_valid [B * M] (nonzero = a real
  // memory token) masks padding; empty = every memory token is real. Returns [B, N, d_model].
  Tensor forward(const Tensor& x, const Tensor& memory, std::span<const int32_t> memory_valid = {}) const;

  int64_t head_dim() const { return head_dim_; }

 private:
  CrossAttentionOptions options_;
  int64_t kv_heads_, head_dim_;
  std::shared_ptr<nn::Linear> q_proj_, k_proj_, v_proj_, o_proj_;
};

}  // namespace attnscale::attention
