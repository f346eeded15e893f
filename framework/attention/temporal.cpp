#include "framework/attention/temporal.h"

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {
namespace {

std::shared_ptr<Score> temporal_score(int64_t query_dim, int64_t feature_dim, int64_t attn_dim, Generator& gen,
                                      DType dtype) {
  ATTNSCALE_CHECK(query_dim >= 1, "temporal", "option query_dim must be >= 1, got {}", query_dim);
  ATTNSCALE_CHECK(feature_dim >= 1, "temporal", "option feature_dim must be >= 1, got {}", feature_dim);
  ATTNSCALE_CHECK(attn_dim >= 1, "temporal", "option attn_dim must be >= 1, got {}", attn_dim);
  // One key channel more than the features: the constant 1 that carries b_a.
  return make_score(ScoreKind::additive, query_dim, feature_dim + 1, attn_dim, gen, dtype, "temporal");
}

}  // namespace

TemporalAttention::TemporalAttention(int64_t query_dim, int64_t feature_dim, int64_t attn_dim, Generator& gen,
                                     DType dtype)
    : SourceAttention("temporal", temporal_score(query_dim, feature_dim, attn_dim, gen, dtype)),
      feature_dim_(feature_dim) {}

SourceMemory TemporalAttention::prepare_features(const Tensor& features, const Tensor& lengths) const {
  ATTNSCALE_CHECK(features.defined() && features.dim() == 3 && features.shape()[2] == feature_dim_, name_,
                  "features must be [B, T, {}] (option feature_dim), got {}", feature_dim_,
                  features.defined() ? shape_str(features.shape()) : std::string("nothing"));
  const Shape& shape = features.shape();
  const Tensor with_bias_channel = concat({features, Tensor::ones({shape[0], shape[1], 1}, features.dtype())}, 2);
  SourceMemory memory = prepare(with_bias_channel, lengths);
  memory.states = features;
  return memory;
}

AttentionRead TemporalAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator&) const {
  return soft_read(score_->forward(query, memory.keys), memory);
}

}  // namespace attnscale::attention
