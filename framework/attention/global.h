// Luong global attention (Luong, Pham & Manning 2015, 1508.04025, section 3.1): the current decoder
// state h_t scores every source position with dot, general or concat, a softmax over the unpadded
// positions gives a_t, and the context is sum_s a_t(s) h_s. The attentional state
// tanh(W_c [c_t; h_t]) and input feeding belong to the decoder (models/seq2seq.h).
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

class GlobalAttention : public SourceAttention {
 public:
  // kind is dot, general or concat (Luong's three); attn_dim is the hidden size of concat.
  GlobalAttention(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen,
                  DType dtype = DType::f32);
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;
};

}  // namespace attnscale::attention
