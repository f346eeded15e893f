// Multi-head self-attention (Vaswani et al. 2017, section 3.2.2) with grouped-query / multi-query
// key-value heads (Ainslie et al. 2023; Shazeer 2019) and rotary positions on global token
// positions. Its heads run scaled_dot_product_attention, so the normaliser (softmax or sparsemax)
// and the implementation (fused or plain) are options. One head is plain scaled dot-product
// attention over learned projections.
#pragma once

#include <memory>
#include <span>

#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "framework/attention/self_attention.h"
#include "framework/nn/layers.h"
#include "kernels/general_attention.h"
#include "kernels/mask.h"

namespace attnscale::attention {

struct MultiHeadOptions {
  int64_t d_model = 128;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 0;  // 0 = n_heads (MHA); 1 = MQA; otherwise GQA
  double rope_theta = 10000.0;  // 0 = no rotary embedding
  kernels::Mask mask;           // positional parts, in global positions
  bool fused = true;            // fused blockwise kernel; false = plain ops (materialised scores)
  double scale = 0.0;           // 0 = 1/sqrt(head_dim)
  kernels::Normalizer normalizer = kernels::Normalizer::softmax;
  // When set (cp group of more than one rank), x holds this rank's shard of each sequence and
  // attention runs over the group by the group's algorithm (sequence_parallel_attention.h).
  std::shared_ptr<const ContextParallelGroup> context_parallel;
};

class MultiHeadAttention : public SelfAttention {
 public:
  MultiHeadAttention(const MultiHeadOptions& options, Generator& gen, DType dtype = DType::f32);

  // x [B, N, d_model]; positions int64 [N] are the tokens' global positions; key_valid [B * N]
  // masks padding keys (empty = none).
  Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const override;

  int64_t head_dim() const { return head_dim_; }

 private:
  MultiHeadOptions options_;
  int64_t kv_heads_, head_dim_;
  std::shared_ptr<nn::Linear> q_proj_, k_proj_, v_proj_, o_proj_;
};

}  // namespace attnscale::attention
