#include "framework/attention/global.h"

namespace attnscale::attention {
namespace {

std::shared_ptr<Score> luong_score(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen,
                                   DType dtype) {
  ATTNSCALE_CHECK(kind != ScoreKind::additive, "global",
                  "score 'additive' is Bahdanau's; Luong global attention uses dot, general or concat "
                  "(concat is the same function), or use mechanism 'additive'");
  return make_score(kind, query_dim, key_dim, attn_dim, gen, dtype, "global");
}

}  // namespace

GlobalAttention::GlobalAttention(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen,
                                 DType dtype)
    : SourceAttention("global", luong_score(kind, query_dim, key_dim, attn_dim, gen, dtype)) {}

AttentionRead GlobalAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator&) const {
  return soft_read(score_->forward(query, memory.keys), memory);
}

}  // namespace attnscale::attention
