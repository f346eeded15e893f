// Self-attention (intra-attention; Vaswani et al. 2017, arXiv:1706.03762): queries, keys and values
// are projections of one sequence. This is the interface of a Transformer block's attention layer;
// each mechanism that can fill that slot implements it (multi_head.h for scaled dot-product, self,
// multi-head and sparse attention, mla.h, adaptive_span.h), and its registration
// (framework/train/mechanisms/transformer_lm.cpp) builds it for attention.mechanism.
#pragma once

#include <cstdint>
#include <span>

#include "framework/nn/module.h"

namespace attnscale::attention {

class SelfAttention : public nn::Module {
 public:
  // x [B, N, d_model] -> [B, N, d_model]. positions int64 [N]: the tokens' global positions.
  // key_valid [B * N] (batch-major, nonzero = a real token) masks padding keys; empty = none.
  virtual Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const = 0;

  // This layer's term of the training loss (adaptive span's span penalty); undefined = none.
  virtual Tensor auxiliary_loss() const { return Tensor(); }
};

}  // namespace attnscale::attention
