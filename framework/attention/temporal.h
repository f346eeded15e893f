// Temporal attention (Yao et al. 2015, "Describing Videos by Exploiting Temporal Structure",
// 1502.08029): at every decoder step t, soft attention over the time steps of a feature sequence
// v_1 .. v_T (one feature vector per frame), queried by the previous decoder state h_{t-1}:
//   e_i^(t) = w^T tanh(W_a h_{t-1} + U_a v_i + b_a)
//   alpha^(t) = softmax(e^(t)) over the unpadded time steps
//   phi_t(V) = sum_i alpha_i^(t) v_i
// Built from the shared parts: the additive score of scores.h (which has no biases; b_a enters as
// the weight U_a gives a constant-1 channel appended to every frame, exactly U_a v_i + b_a), the
// masked softmax and the expectation read-out of source_attention.h. The memory read out is the
// raw feature sequence, not an encoder's states.
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

class TemporalAttention : public SourceAttention {
 public:
  // query_dim = decoder state size, feature_dim = F, attn_dim = size of the score's hidden layer.
  TemporalAttention(int64_t query_dim, int64_t feature_dim, int64_t attn_dim, Generator& gen, DType dtype = DType::f32);

  // features [B, T, F] right-padded, lengths int64 [B] with 1 <= lengths[b] <= T (undefined = all
  // T). The memory's states are the features; its keys are U_a [v_i; 1].
  SourceMemory prepare_features(const Tensor& features, const Tensor& lengths) const;

  // query h_{t-1} [B, query_dim] -> phi_t [B, F] and alpha^(t) [B, T].
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;

  int64_t feature_dim() const { return feature_dim_; }

 private:
  int64_t feature_dim_;
};

}  // namespace attnscale::attention
