#include "framework/attention/scores.h"

#include "framework/core/ops/ops.h"

namespace attnscale::attention {
namespace {

void check_keys(const Tensor& keys, int64_t key_dim, std::string_view score) {
  ATTNSCALE_CHECK(keys.dim() == 3 && (key_dim == 0 || keys.shape()[2] == key_dim), fmt::format("{} score", score),
                  "keys must be [B, S, {}], got {}", key_dim == 0 ? "D" : std::to_string(key_dim),
                  shape_str(keys.shape()));
}

// query [B, D] . keys [B, S, D] -> [B, S], as one batched GEMM.
Tensor batched_dot(const Tensor& query, const Tensor& keys, std::string_view score) {
  ATTNSCALE_CHECK(
      query.dim() == 2 && keys.dim() == 3 && query.shape()[0] == keys.shape()[0] && query.shape()[1] == keys.shape()[2],
      fmt::format("{} score", score), "query {} does not match keys {} (want [B, D] and [B, S, D])",
      shape_str(query.shape()), shape_str(keys.shape()));
  return squeeze(matmul(keys, unsqueeze(query, 2)), 2);
}

}  // namespace

std::string_view score_name(ScoreKind kind) {
  switch (kind) {
    case ScoreKind::dot: return "dot";
    case ScoreKind::general: return "general";
    case ScoreKind::concat: return "concat";
    case ScoreKind::additive: return "additive";
  }
  return "?";
}

Tensor DotScore::prepare_keys(const Tensor& keys) const {
  check_keys(keys, 0, "dot");
  return keys;
}

Tensor DotScore::forward(const Tensor& query, const Tensor& prepared_keys) const {
  return batched_dot(query, prepared_keys, "dot");
}

GeneralScore::GeneralScore(int64_t query_dim, int64_t key_dim, Generator& gen, DType dtype) {
  key_proj_ = register_module("key_proj", std::make_shared<nn::Linear>(key_dim, query_dim, false, gen, dtype));
}

Tensor GeneralScore::prepare_keys(const Tensor& keys) const {
  check_keys(keys, key_proj_->weight().shape()[1], "general");
  return key_proj_->forward(keys);
}

Tensor GeneralScore::forward(const Tensor& query, const Tensor& prepared_keys) const {
  return batched_dot(query, prepared_keys, "general");
}

AdditiveScore::AdditiveScore(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen, DType dtype) {
  query_proj_ = register_module("query_proj", std::make_shared<nn::Linear>(query_dim, attn_dim, false, gen, dtype));
  key_proj_ = register_module("key_proj", std::make_shared<nn::Linear>(key_dim, attn_dim, false, gen, dtype));
  v_ = register_module("v", std::make_shared<nn::Linear>(attn_dim, 1, false, gen, dtype));
}

Tensor AdditiveScore::prepare_keys(const Tensor& keys) const {
  check_keys(keys, key_proj_->weight().shape()[1], "additive");
  return key_proj_->forward(keys);
}

Tensor AdditiveScore::forward(const Tensor& query, const Tensor& prepared_keys) const {
  const int64_t query_dim = query_proj_->weight().shape()[1];
  ATTNSCALE_CHECK(query.dim() == 2 && query.shape()[1] == query_dim && prepared_keys.dim() == 3 &&
                      prepared_keys.shape()[0] == query.shape()[0],
                  "additive score", "query {} does not match prepared keys {} (want [B, {}] and [B, S, A])",
                  shape_str(query.shape()), shape_str(prepared_keys.shape()), query_dim);
  const Tensor hidden = tanh(add(unsqueeze(query_proj_->forward(query), 1), prepared_keys));  // [B, S, A]
  return squeeze(v_->forward(hidden), 2);
}

std::shared_ptr<Score> make_score(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen,
                                  DType dtype, std::string_view mechanism) {
  ATTNSCALE_CHECK(query_dim > 0 && key_dim > 0, mechanism, "query size ({}) and key size ({}) must be positive",
                  query_dim, key_dim);
  switch (kind) {
    case ScoreKind::dot:
      ATTNSCALE_CHECK(query_dim == key_dim, mechanism,
                      "score 'dot' needs the decoder state size ({}) to equal the encoder state size ({}); "
                      "use score 'general' (or a unidirectional encoder of the same size)",
                      query_dim, key_dim);
      return std::make_shared<DotScore>();
    case ScoreKind::general: return std::make_shared<GeneralScore>(query_dim, key_dim, gen, dtype);
    case ScoreKind::concat:
    case ScoreKind::additive:
      ATTNSCALE_CHECK(attn_dim > 0, mechanism, "score '{}' needs a positive attention size, got {}", score_name(kind),
                      attn_dim);
      return std::make_shared<AdditiveScore>(query_dim, key_dim, attn_dim, gen, dtype);
  }
  throw UsageError(fmt::format("[{}] unknown score", mechanism));
}

}  // namespace attnscale::attention
