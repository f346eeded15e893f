#include "framework/train/lm_task.h"

#include "framework/attention/mask_builder.h"
#include "framework/autograd/node.h"
#include "framework/config/enum_names.h"
#include "framework/ops/nn_functional.h"
#include "framework/ops/ops.h"
#include "framework/train/lm_mechanism.h"

namespace attnscale::train {
namespace {
// Evaluation batches are numbered from here, far beyond any training step, so they are never
// batches the model trained on.
constexpr int64_t kEvalBatchBase = int64_t{1} << 40;
}  // namespace

models::TransformerLMOptions transformer_options(const Config& cfg) {
  models::TransformerLMOptions o;
  o.vocab_size = cfg.data.vocab_size;
  o.d_model = cfg.model.d_model;
  o.n_layers = cfg.model.n_layers;
  o.n_heads = cfg.model.n_heads;
  o.n_kv_heads = kv_heads(cfg.model);
  o.d_ff = ff_width(cfg.model);
  o.dropout = cfg.model.dropout;
  o.norm = std::string(config::to_string(cfg.model.norm));
  o.rope_theta = cfg.model.rope_theta;
  o.tie_embeddings = cfg.model.tie_embeddings;
  o.mask = attention::causal_lm_mask(cfg.attention, cfg.data.seq_len, static_cast<uint64_t>(cfg.run.seed));
  o.fused_attention = cfg.attention.impl == config::AttentionImpl::fused;
  o.attention_scale = cfg.attention.scale;
  apply_lm_mechanism(cfg, o);
  return o;
}

data::SyntheticSpec synthetic_spec(const Config& cfg) {
  data::SyntheticSpec s;
  s.task = std::string(config::to_string(cfg.data.task));
  s.seq_len = cfg.data.seq_len;
  s.batch_size = micro_batch_size(cfg);
  s.vocab_size = cfg.data.vocab_size;
  s.num_pairs = cfg.data.num_pairs;
  s.seed = static_cast<uint64_t>(cfg.run.seed);
  return s;
}

LMTask::LMTask(const Config& cfg) : task_(synthetic_spec(cfg)), dropout_gen_(static_cast<uint64_t>(cfg.run.seed) + 2) {
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::TransformerLM>(transformer_options(cfg), init);
  log_lm_mechanism(*model_);
}

BatchResult LMTask::run(const data::TokenBatch& batch, bool training) {
  model_->train(training);
  const int64_t n = batch.inputs.shape()[1];
  const Tensor logits = model_->forward(batch.inputs, Tensor::arange(n), dropout_gen_);
  const int64_t vocab = logits.shape().back();
  const Tensor flat_logits = reshape(logits, {-1, vocab});
  const Tensor flat_targets = reshape(batch.targets, {-1});
  BatchResult r;
  r.loss = cross_entropy(flat_logits, flat_targets, data::kIgnoreIndex);
  if (const Tensor aux = model_->auxiliary_loss(); training && aux.defined()) r.loss = add(r.loss, aux);
  const auto predicted = argmax(flat_logits, -1).to_vector<int64_t>();
  const auto targets = flat_targets.to_vector<int64_t>();
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] == data::kIgnoreIndex) continue;
    ++r.scored;
    r.correct += predicted[i] == targets[i];
  }
  r.tokens = batch.inputs.numel();
  return r;
}

BatchResult LMTask::train_batch(int64_t index) { return run(task_.batch(index), true); }

BatchResult LMTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  if (index == 0) log_lm_mechanism_state(*model_);
  return run(task_.batch(kEvalBatchBase + index), false);
}

}  // namespace attnscale::train
