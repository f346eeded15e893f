#include "framework/attention/additive.h"

namespace attnscale::attention {

AdditiveAttention::AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen, DType dtype)
    : SourceAttention("additive",
                      make_score(ScoreKind::additive, query_dim, key_dim, attn_dim, gen, dtype, "additive")) {}

AttentionRead AdditiveAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator&) const {
  return soft_read(score_->forward(query, memory.keys), memory);
}

}  // namespace attnscale::attention
