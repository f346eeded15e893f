// Luong local attention (Luong, Pham & Manning 2015, 1508.04025, section 3.2): at decoder step t
// only the source positions in [p_t - D, p_t + D] are scored.
//   local-m (monotonic):  p_t = t, the weights are the softmax of the scores inside the window.
//   local-p (predictive): p_t = (S_b - 1) sigmoid(v_p^T tanh(W_p h_t)), and the softmax weights are
//                         multiplied by a Gaussian exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D/2 by
//                         default, which makes p_t trainable.
// S_b is sequence b's own source length. Positions are 0-based, so the paper's S sigmoid(.) over
// 1..S becomes (S_b - 1) sigmoid(.) here: p_t always lies on a real (unpadded) position. local-m
// clamps p_t to S_b - 1 so a target longer than its source still has a non-empty window. The window
// is a mask over all S positions (no gather), which is simplest at RNN source lengths.
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

enum class LocalMode { monotonic, predictive };

struct LocalOptions {
  LocalMode mode = LocalMode::predictive;
  int64_t window = 2;  // D: the half-width, >= 1
  double sigma = 0.0;  // local-p Gaussian width; 0 = D / 2
};

class LocalAttention : public SourceAttention {
 public:
  // kind is any score; attn_dim is the hidden size of concat/additive scores and of W_p.
  LocalAttention(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, const LocalOptions& options,
                 Generator& gen, DType dtype = DType::f32);
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;

  // The window centres p_t [B, 1] for query [B, Dq] at decoder step `step` (differentiable for local-p).
  Tensor centres(const Tensor& query, const SourceMemory& memory, int64_t step) const;
  const LocalOptions& options() const { return options_; }

 private:
  LocalOptions options_;
  std::shared_ptr<nn::Linear> position_hidden_, position_out_;  // W_p and v_p (local-p only)
};

}  // namespace attnscale::attention
