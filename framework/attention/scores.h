// Score functions of encoder-decoder attention: how one decoder state (the query, [B, Dq]) meets
// each encoder state (the keys, [B, S, Dk]), giving scores [B, S]. The key-side work that does not
// depend on the query (a projection of the encoder states) is done once per source batch by
// prepare_keys, not at every decoder step.
//   dot       q . h                          (Luong et al. 2015, 1508.04025; needs Dq == Dk)
//   general   q^T W h                        (Luong)
//   additive  v^T tanh(W q + U h)            (Bahdanau et al. 2015, 1409.0473)
//   concat    v^T tanh(W_a [q; h])           (Luong) = additive with W_a = [W U]: the same function,
//             so "concat" builds an AdditiveScore.
#pragma once

#include <memory>
#include <string_view>

#include "framework/nn/layers.h"

namespace attnscale::attention {

enum class ScoreKind { dot, general, concat, additive };

std::string_view score_name(ScoreKind kind);

class Score : public nn::Module {
 public:
  // Query-independent work on keys [B, S, Dk]; the result is what forward takes as prepared_keys.
  virtual Tensor prepare_keys(const Tensor& keys) const = 0;
  // query [B, Dq], prepared keys -> scores [B, S].
  virtual Tensor forward(const Tensor& query, const Tensor& prepared_keys) const = 0;
};

// q . h; prepare_keys is the identity.
class DotScore : public Score {
 public:
  Tensor prepare_keys(const Tensor& keys) const override;
  Tensor forward(const Tensor& query, const Tensor& prepared_keys) const override;
};

// q^T W h with W [Dq, Dk] stored as the Linear key_proj (Dk -> Dq, no bias): the keys are projected
// once, then each step is a dot product.
class GeneralScore : public Score {
 public:
  GeneralScore(int64_t query_dim, int64_t key_dim, Generator& gen, DType dtype = DType::f32);
  Tensor prepare_keys(const Tensor& keys) const override;
  Tensor forward(const Tensor& query, const Tensor& prepared_keys) const override;

 private:
  std::shared_ptr<nn::Linear> key_proj_;
};

// v^T tanh(W q + U h) with hidden size attn_dim; no biases, as in both papers.
class AdditiveScore : public Score {
 public:
  AdditiveScore(int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen, DType dtype = DType::f32);
  Tensor prepare_keys(const Tensor& keys) const override;  // U h: [B, S, attn_dim]
  Tensor forward(const Tensor& query, const Tensor& prepared_keys) const override;

 private:
  std::shared_ptr<nn::Linear> query_proj_, key_proj_, v_;
};

// Builds a score; `mechanism` names the caller in errors (dot with Dq != Dk is one).
std::shared_ptr<Score> make_score(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim, Generator& gen,
                                  DType dtype, std::string_view mechanism);

}  // namespace attnscale::attention
