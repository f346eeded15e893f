// Additive attention (Bahdanau, Cho & Bengio 2015, 1409.0473): e_j = v^T tanh(W s + U h_j) between
// the decoder state s and each encoder state h_j, a softmax over the unpadded positions, and the
// expected encoder state as the context. In the Seq2Seq model the query is the previous decoder
// state s_{i-1} and the context is an input of the next GRU step (Bahdanau's wiring).
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

class AdditiveAttention : public SourceAttention {
 public:
  // query_dim = decoder state size, key_dim = encoder state size, attn_dim = size of W s and U h.
  AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen, DType dtype = DType::f32);
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;
};

}  // namespace attnscale::attention
