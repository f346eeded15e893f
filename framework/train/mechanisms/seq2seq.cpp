// The source-attention mechanisms of the RNN encoder-decoder (model.type = seq2seq): the module each
// builds over the decoder state and the encoder states, its wiring, and the seq2seq keys that apply
// to it (a key another mechanism reads is an error when it differs from its default, naming it).
#include <string>

#include <fmt/format.h>

#include "framework/attention/additive.h"
#include "framework/attention/global.h"
#include "framework/attention/hard.h"
#include "framework/attention/local.h"
#include "framework/attention/soft.h"
#include "framework/train/mechanisms/registry.h"
#include "framework/train/task_config.h"

namespace attnscale::train {
namespace {

using models::Seq2SeqOptions;
using task_config::fail;
using task_config::reject_unused;

attention::ScoreKind score_kind(const Config& cfg) {
  switch (cfg.seq2seq.score) {
    case config::AttentionScore::dot: return attention::ScoreKind::dot;
    case config::AttentionScore::general: return attention::ScoreKind::general;
    case config::AttentionScore::concat: return attention::ScoreKind::concat;
    case config::AttentionScore::additive: return attention::ScoreKind::additive;
  }
  return attention::ScoreKind::general;
}

// Hidden size of the additive/concat score and of local-p's W_p.
int64_t attn_dim(const Config& cfg) { return cfg.seq2seq.attn_dim > 0 ? cfg.seq2seq.attn_dim : cfg.model.d_model; }

void reject_local_keys(const Config& cfg) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  const Seq2SeqConfig defaults;
  const std::string only_local = fmt::format("is used by local attention only, but attention.mechanism = {}",
                                             config::to_string(cfg.attention.mechanism));
  reject_unused(cfg, "seq2seq.local_mode", s.local_mode, defaults.local_mode, only_local);
  reject_unused(cfg, "seq2seq.local_window", s.local_window, defaults.local_window, only_local);
  reject_unused(cfg, "seq2seq.local_sigma", s.local_sigma, defaults.local_sigma, only_local);
}

void reject_hard_keys(const Config& cfg) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  const Seq2SeqConfig defaults;
  const std::string only_hard = fmt::format("is used by hard attention only, but attention.mechanism = {}",
                                            config::to_string(cfg.attention.mechanism));
  reject_unused(cfg, "seq2seq.hard_estimator", s.hard_estimator, defaults.hard_estimator, only_hard);
  reject_unused(cfg, "seq2seq.entropy_bonus", s.entropy_bonus, defaults.entropy_bonus, only_hard);
  reject_unused(cfg, "seq2seq.baseline_decay", s.baseline_decay, defaults.baseline_decay, only_hard);
  reject_unused(cfg, "seq2seq.gumbel_temperature", s.gumbel_temperature, defaults.gumbel_temperature, only_hard);
}

// The dot score of the score-based mechanisms compares decoder and encoder states directly.
void check_dot_score(const Config& cfg) {
  if (cfg.seq2seq.score == config::AttentionScore::dot && cfg.seq2seq.bidirectional)
    fail(cfg, "seq2seq.score",
         "'dot' needs encoder and decoder states of one size; set seq2seq.bidirectional = false or use general");
}

void install_soft(const Config& cfg, Seq2SeqOptions& o) {
  reject_local_keys(cfg);
  reject_hard_keys(cfg);
  check_dot_score(cfg);
  o.attention = [kind = score_kind(cfg), dim = attn_dim(cfg)](int64_t query_dim, int64_t key_dim, Generator& gen,
                                                              DType dtype) -> std::shared_ptr<attention::SourceAttention> {
    return std::make_shared<attention::SoftAttention>(
        attention::make_score(kind, query_dim, key_dim, dim, gen, dtype, "soft"));
  };
}

void install_hard(const Config& cfg, Seq2SeqOptions& o) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  const Seq2SeqConfig defaults;
  if (s.hard_estimator == config::HardEstimator::straight_through)
    reject_unused(cfg, "seq2seq.baseline_decay", s.baseline_decay, defaults.baseline_decay,
                  "applies to hard_estimator = reinforce only");
  else
    reject_unused(cfg, "seq2seq.gumbel_temperature", s.gumbel_temperature, defaults.gumbel_temperature,
                  "applies to hard_estimator = straight_through only");
  reject_local_keys(cfg);
  check_dot_score(cfg);
  attention::HardOptions hard;
  hard.estimator = s.hard_estimator == config::HardEstimator::reinforce ? attention::HardEstimator::reinforce
                                                                        : attention::HardEstimator::straight_through;
  hard.entropy_bonus = s.entropy_bonus;
  hard.baseline_decay = s.baseline_decay;
  hard.temperature = s.gumbel_temperature;
  o.attention = [kind = score_kind(cfg), dim = attn_dim(cfg), hard](int64_t query_dim, int64_t key_dim, Generator& gen,
                                                                    DType dtype)
      -> std::shared_ptr<attention::SourceAttention> {
    return std::make_shared<attention::HardAttention>(
        attention::make_score(kind, query_dim, key_dim, dim, gen, dtype, "hard"), hard, dtype);
  };
}

void install_additive(const Config& cfg, Seq2SeqOptions& o) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  const Seq2SeqConfig defaults;
  if (s.score != defaults.score && s.score != config::AttentionScore::additive)
    fail(cfg, "seq2seq.score",
         fmt::format("'{}' does not apply: attention.mechanism = additive always uses the additive score",
                     config::to_string(s.score)));
  reject_unused(cfg, "seq2seq.input_feeding", s.input_feeding, defaults.input_feeding,
                "does not apply to additive attention (the context is already a decoder input)");
  reject_local_keys(cfg);
  reject_hard_keys(cfg);
  o.bahdanau_wiring = true;
  o.attention = [dim = attn_dim(cfg)](int64_t query_dim, int64_t key_dim, Generator& gen,
                                      DType dtype) -> std::shared_ptr<attention::SourceAttention> {
    return std::make_shared<attention::AdditiveAttention>(query_dim, key_dim, dim, gen, dtype);
  };
}

void install_global(const Config& cfg, Seq2SeqOptions& o) {
  if (cfg.seq2seq.score == config::AttentionScore::additive)
    fail(cfg, "seq2seq.score",
         "'additive' is Bahdanau's score; Luong global attention takes dot, general or concat (the same "
         "function), or set attention.mechanism = additive");
  reject_local_keys(cfg);
  reject_hard_keys(cfg);
  check_dot_score(cfg);
  o.attention = [kind = score_kind(cfg), dim = attn_dim(cfg)](int64_t query_dim, int64_t key_dim, Generator& gen,
                                                              DType dtype) -> std::shared_ptr<attention::SourceAttention> {
    return std::make_shared<attention::GlobalAttention>(kind, query_dim, key_dim, dim, gen, dtype);
  };
}

void install_local(const Config& cfg, Seq2SeqOptions& o) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  if (s.local_mode == config::LocalMode::m)
    reject_unused(cfg, "seq2seq.local_sigma", s.local_sigma, Seq2SeqConfig{}.local_sigma,
                  "applies to local_mode = p only (local-m has no Gaussian)");
  reject_hard_keys(cfg);
  check_dot_score(cfg);
  attention::LocalOptions local;
  local.mode = s.local_mode == config::LocalMode::m ? attention::LocalMode::monotonic : attention::LocalMode::predictive;
  local.window = s.local_window;
  local.sigma = s.local_sigma;
  o.attention = [kind = score_kind(cfg), dim = attn_dim(cfg), local](int64_t query_dim, int64_t key_dim,
                                                                     Generator& gen, DType dtype)
      -> std::shared_ptr<attention::SourceAttention> {
    return std::make_shared<attention::LocalAttention>(kind, query_dim, key_dim, dim, local, gen, dtype);
  };
}

}  // namespace

Mechanism soft_mechanism() {
  return {.name = "soft", .model = config::ModelType::seq2seq, .seq2seq = install_soft};
}

Mechanism hard_mechanism() {
  return {.name = "hard", .model = config::ModelType::seq2seq, .seq2seq = install_hard};
}

Mechanism additive_mechanism() {
  return {.name = "additive", .model = config::ModelType::seq2seq, .seq2seq = install_additive};
}

Mechanism global_mechanism() {
  return {.name = "global", .model = config::ModelType::seq2seq, .seq2seq = install_global};
}

Mechanism local_mechanism() {
  return {.name = "local", .model = config::ModelType::seq2seq, .seq2seq = install_local};
}

}  // namespace attnscale::train
