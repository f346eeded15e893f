#include "framework/train/captioner_task.h"
#include "framework/train/task_config.h"

#include <fmt/format.h>

#include "base/logging.h"
#include "framework/core/autograd/node.h"
#include "framework/config/enum_names.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/token_scoring.h"

namespace attnscale::train {

using task_config::kEvalBatchBase;  // evaluation batches are never training batches
namespace {


}  // namespace

GateSplit gate_split(const Tensor& beta, const Tensor& targets) {
  const auto b = beta.to(DType::f64).to_vector<double>();
  const auto t = targets.to_vector<int64_t>();
  double sums[2] = {0, 0};
  int64_t counts[2] = {0, 0};
  for (size_t i = 0; i < t.size(); ++i) {
    const int visual = data::CaptionTask::is_visual(t[i]) ? 1 : 0;
    sums[visual] += b[i], ++counts[visual];
  }
  return {counts[1] ? sums[1] / static_cast<double>(counts[1]) : 0.0,
          counts[0] ? sums[0] / static_cast<double>(counts[0]) : 0.0};
}

data::CaptionSpec caption_spec(const Config& cfg, std::int64_t dp_size) {
  const CaptionerConfig& c = cfg.captioner;
  if (c.objects > c.regions)
    throw ConfigError(fmt::format("[config] captioner.objects: {} exceeds captioner.regions = {}", c.objects, c.regions));
  data::CaptionSpec s;
  s.regions = c.regions;
  s.classes = c.classes;
  s.objects = c.objects;
  s.feature_noise = c.feature_noise;
  s.batch_size = micro_batch_size(cfg, dp_size);
  s.seed = static_cast<uint64_t>(cfg.run.seed);
  return s;
}

models::CaptionerOptions captioner_options(const Config& cfg, const data::CaptionTask& task) {
  task_config::check_model_mechanism(cfg, config::ModelType::captioner);
  return {task.vocab_size(), task.feature_size(), cfg.model.d_model, cfg.captioner.sentinel, cfg.captioner.global_feature};
}

CaptionerTask::CaptionerTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel), task_(caption_spec(cfg, parallel.dp_size())) {
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::Captioner>(captioner_options(cfg, task_), init);
}

BatchResult CaptionerTask::train_batch(int64_t index) {
  model_->train(true);
  const data::CaptionBatch batch = task_.batch(local_batch_index(parallel_, index));
  const models::CaptionerOutput out = model_->forward(batch.features, batch.inputs);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, out.logits, batch.targets));
  score_tokens(argmax(out.logits, -1), batch.targets, data::CaptionTask::is_visual, r);
  r.tokens = batch.inputs.numel();
  return r;
}

BatchResult CaptionerTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  model_->eval();
  const data::CaptionBatch batch = task_.batch(local_batch_index(parallel_, kEvalBatchBase + index));
  const models::CaptionerOutput forced = model_->forward(batch.features, batch.inputs);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, forced.logits, batch.targets));
  const models::CaptionerOutput greedy =
      model_->generate(batch.features, data::CaptionTokens::bos, task_.caption_length());
  score_tokens(argmax(greedy.logits, -1), batch.targets, data::CaptionTask::is_visual, r);
  if (index == 0 && model_->options().sentinel) {
    const GateSplit gate = gate_split(forced.beta, batch.targets);
    LOG_INFO("sentinel gate beta: {:.3f} on visual words, {:.3f} on the others", gate.visual, gate.non_visual);
  }
  r.tokens = batch.inputs.numel();
  return r;
}

}  // namespace attnscale::train
