#include "framework/train/temporal_task.h"

#include "framework/core/autograd/node.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/task_config.h"

namespace attnscale::train {

using task_config::fail;
using task_config::kEvalBatchBase;

data::FeatureSequenceSpec feature_sequence_spec(const Config& cfg, std::int64_t dp_size) {
  task_config::check_model_mechanism(cfg, config::ModelType::temporal);
  task_config::reject_unused(cfg, "data.vocab_size", cfg.data.vocab_size, DataConfig{}.vocab_size,
                             "does not apply to model.type = temporal (the outputs are temporal.classes)");
  const TemporalConfig& t = cfg.temporal;
  const bool label = t.output == config::TemporalOutput::label;
  if (label && t.events != 1)
    fail(cfg, "temporal.events",
         fmt::format("{}: temporal.output = label is the class of one marked frame (use 1)", t.events));
  if (t.min_steps > t.max_steps)
    fail(cfg, "temporal.min_steps", fmt::format("{} exceeds temporal.max_steps = {}", t.min_steps, t.max_steps));
  if (t.min_steps < t.events)
    fail(cfg, "temporal.min_steps",
         fmt::format("{} is fewer than the temporal.events = {} marked frames", t.min_steps, t.events));
  if (t.feature_dim < t.classes + t.events)
    fail(cfg, "temporal.feature_dim",
         fmt::format("{} cannot hold temporal.classes + temporal.events = {} channels", t.feature_dim,
                     t.classes + t.events));
  data::FeatureSequenceSpec spec;
  spec.target = label ? data::FeatureTarget::label : data::FeatureTarget::sequence;
  spec.classes = t.classes;
  spec.events = t.events;
  spec.min_steps = t.min_steps;
  spec.max_steps = t.max_steps;
  spec.feature_dim = t.feature_dim;
  spec.noise = t.noise;
  spec.batch_size = micro_batch_size(cfg, dp_size);
  spec.seed = static_cast<uint64_t>(cfg.run.seed);
  return spec;
}

models::TemporalNetOptions temporal_net_options(const Config& cfg, const data::FeatureSequenceSpec& spec) {
  models::TemporalNetOptions o;
  o.feature_dim = spec.feature_dim;
  o.vocab_size = data::kFirstClassId + spec.classes;
  o.hidden_size = cfg.model.d_model;
  o.embed_dim = cfg.model.d_model;
  o.attn_dim = cfg.temporal.attn_dim > 0 ? cfg.temporal.attn_dim : cfg.model.d_model;
  o.bos_id = data::kFeatureBosId;
  return o;
}

TemporalTask::TemporalTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel), data_(feature_sequence_spec(cfg, parallel.dp_size())) {
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::TemporalAttentionNet>(temporal_net_options(cfg, data_.spec()), init);
}

BatchResult TemporalTask::teacher_forced(const data::FeatureBatch& batch, bool training) {
  model_->train(training);
  const models::TemporalNetOutput out = model_->forward(batch.features, batch.lengths, batch.target_inputs);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, out.logits, batch.target_outputs));
  const PredictionScore score = score_predictions(argmax(out.logits, -1), batch.target_outputs);
  r.correct = score.correct_tokens;
  r.scored = score.scored_tokens;
  // Frames in and tokens out.
  r.tokens = batch.features.shape()[0] * batch.features.shape()[1] + batch.target_inputs.numel();
  return r;
}

BatchResult TemporalTask::train_batch(int64_t index) {
  return teacher_forced(data_.batch(local_batch_index(parallel_, index)), true);
}

PredictionScore TemporalTask::greedy_score(int64_t index) {
  const data::FeatureBatch batch = data_.batch(local_batch_index(parallel_, kEvalBatchBase + index));
  model_->eval();
  const Tensor predicted = model_->greedy_decode(batch.features, batch.lengths, data_.target_steps());
  return score_predictions(predicted, batch.target_outputs);
}

BatchResult TemporalTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  BatchResult r = teacher_forced(data_.batch(local_batch_index(parallel_, kEvalBatchBase + index)), false);
  const PredictionScore greedy = greedy_score(index);
  r.correct = greedy.correct_tokens;
  r.scored = greedy.scored_tokens;
  return r;
}

}  // namespace attnscale::train
