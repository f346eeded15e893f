#include "framework/train/lm_task.h"
#include "framework/train/task_config.h"

#include <fmt/format.h>

#include "base/logging.h"
#include "framework/core/autograd/node.h"
#include "framework/config/enum_names.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/from_config.h"
#include "framework/train/lm_mechanism.h"

namespace attnscale::train {

using task_config::kEvalBatchBase;  // evaluation batches are never training batches

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
  o.activation_checkpointing = cfg.model.activation_checkpointing;
  o.mask = causal_lm_mask(cfg.attention, cfg.data.seq_len, static_cast<uint64_t>(cfg.run.seed));
  o.fused_attention = cfg.attention.impl == config::AttentionImpl::fused;
  o.attention_scale = cfg.attention.scale;
  apply_lm_mechanism(cfg, o);
  return o;
}

data::SyntheticSpec synthetic_spec(const Config& cfg, std::int64_t dp_size) {
  data::SyntheticSpec s;
  s.task = std::string(config::to_string(cfg.data.task));
  s.seq_len = cfg.data.seq_len;
  s.batch_size = micro_batch_size(cfg, dp_size);  // per data-parallel rank and micro-step
  s.vocab_size = cfg.data.vocab_size;
  s.num_pairs = cfg.data.num_pairs;
  s.copy_span = cfg.data.copy_span;
  s.seed = static_cast<uint64_t>(cfg.run.seed);
  return s;
}

namespace {

std::optional<data::ListOpsBatches> listops_batches(const Config& cfg, int64_t dp_size) {
  if (cfg.data.path.empty()) return std::nullopt;
  if (cfg.data.vocab_size < data::kListOpsVocabSize)
    throw ConfigError(fmt::format("[config] data.vocab_size: {}, but the ListOps vocabulary of data.path has {} tokens",
                                  cfg.data.vocab_size, data::kListOpsVocabSize));
  return data::ListOpsBatches(data::read_listops(cfg.data.path), cfg.data.seq_len, micro_batch_size(cfg, dp_size),
                              cfg.data.pack);
}

}  // namespace

LMTask::LMTask(const Config& cfg, ParallelContext parallel)
    : task_(cfg.data.path.empty() ? std::make_optional<data::SyntheticTask>(synthetic_spec(cfg, parallel.dp_size()))
                                  : std::nullopt),
      listops_(listops_batches(cfg, parallel.dp_size())),
      eval_split_(cfg.data.eval_split == config::EvalSplit::test ? data::Split::test : data::Split::validation),
      // Its own stream per rank: the same masks on every dp rank would correlate their micro-batches.
      dropout_gen_(rank_stream_seed(static_cast<uint64_t>(cfg.run.seed) + 2 + static_cast<uint64_t>(parallel.cp_rank()),
                                    parallel)),
      parallel_(parallel) {
  const kernels::Layout layout(parallel_.layout, cfg.data.seq_len, parallel_.cp_size());
  models::TransformerLMOptions options = transformer_options(cfg);
  options.context_parallel = context_parallel_group(cfg, parallel_, options.mask, options.normalizer);
  Generator init(static_cast<uint64_t>(cfg.run.seed));  // the same weights on every rank
  model_ = std::make_unique<models::TransformerLM>(options, init);
  model_->to(parallel_.device);
  log_lm_mechanism(*model_);
  log_attention_kernel(cfg, options, parallel_.device);
  std::vector<int64_t> positions(layout.local_length(parallel_.cp_rank()));
  layout.positions(parallel_.cp_rank()).fill(positions);
  local_positions_ = Tensor::from(positions, {static_cast<int64_t>(positions.size())});
}

// The micro-batch of global batch `index` that this data-parallel rank owns: sequences
// [index * dp + dp_rank) of size micro_batch, so dp ranks together see exactly the sequences one rank
// with the whole batch would see.
double LMTask::chance_accuracy() const {
  return listops_ ? 1.0 / static_cast<double>(data::kListOpsClasses) : task_->chance_accuracy();
}

BatchResult LMTask::run(const data::TokenBatch& full, bool training) {
  model_->train(training);
  // Batches are drawn on the host (a pure function of the index) and moved to the model's device.
  const Tensor inputs = index_select(full.inputs, 1, local_positions_).to(parallel_.device);
  const Tensor targets = reshape(index_select(full.targets, 1, local_positions_), {-1}).to(parallel_.device);
  const Tensor logits = model_->forward(inputs, local_positions_, dropout_gen_);
  const int64_t vocab = logits.shape().back();
  const Tensor flat_logits = reshape(logits, {-1, vocab});

  BatchResult r;
  const auto predicted = argmax(flat_logits, -1).to_vector<int64_t>();
  const auto target_ids = targets.to_vector<int64_t>();
  for (size_t i = 0; i < target_ids.size(); ++i) {
    if (target_ids[i] == data::kIgnoreIndex) continue;
    ++r.scored;
    r.correct += predicted[i] == target_ids[i];
  }
  r.tokens = inputs.numel();
  // Each rank's share of the global mean: its summed token losses over the scored tokens of all
  // ranks, so that summing losses (and gradients) over ranks gives the mean over every token.
  const GlobalMean mean = global_mean(parallel_, r.scored);
  r.set_loss({mul(cross_entropy(flat_logits, targets, data::kIgnoreIndex, Reduction::sum), mean.factor), mean.count});
  // A mechanism's own loss term (adaptive span's penalty) is the same on every rank: each adds its
  // 1/world share, so the sum over ranks counts it once.
  if (const Tensor aux = model_->auxiliary_loss(); training && aux.defined())
    r.loss = add(r.loss, mul(aux, 1.0 / static_cast<double>(parallel_.world_size())));
  return r;
}

BatchResult LMTask::train_batch(int64_t index) {
  const int64_t local = local_batch_index(parallel_, index);
  return run(listops_ ? listops_->train_batch(local) : task_->batch(local), true);
}

BatchResult LMTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  if (index == 0) log_lm_mechanism_state(*model_);
  if (listops_) return run(listops_->eval_batch(eval_split_, local_batch_index(parallel_, index)), false);
  return run(task_->batch(local_batch_index(parallel_, kEvalBatchBase + index)), false);
}

}  // namespace attnscale::train
