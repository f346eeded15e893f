#include "framework/train/memn2n_task.h"

#include <string>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/task_config.h"

namespace attnscale::train {

using task_config::fail;
using task_config::kEvalBatchBase;
using task_config::reject_unused;

models::MemN2NOptions memn2n_options(const Config& cfg) {
  task_config::check_model_mechanism(cfg, config::ModelType::memn2n);
  reject_unused(cfg, "data.vocab_size", cfg.data.vocab_size, DataConfig{}.vocab_size,
                "does not apply to model.type = memn2n (the bAbI-style task has its own vocabulary)");
  const MemN2NConfig& m = cfg.memn2n;
  if (m.min_sentences > m.max_sentences)
    fail(cfg, "memn2n.min_sentences",
         fmt::format("{} exceeds memn2n.max_sentences = {}", m.min_sentences, m.max_sentences));
  if (m.task == config::BabiTask::two_facts && m.min_sentences < 2)
    fail(cfg, "memn2n.min_sentences", "must be >= 2 with memn2n.task = two_facts (a pick-up and a move)");
  models::MemN2NOptions o;
  o.vocab_size = data::babi_vocab_size();
  o.dim = cfg.model.d_model;
  o.hops = m.hops;
  o.tying = m.tying == config::WeightTying::adjacent ? models::MemoryTying::adjacent : models::MemoryTying::layerwise;
  o.position_encoding = m.position_encoding;
  o.temporal_encoding = m.temporal_encoding;
  o.memory_size = m.max_sentences;
  o.pad_id = data::kBabiPadId;
  return o;
}

data::BabiSpec babi_spec(const Config& cfg, std::int64_t dp_size) {
  memn2n_options(cfg);  // config errors before the data's own checks
  data::BabiSpec spec;
  spec.task =
      cfg.memn2n.task == config::BabiTask::single_fact ? data::BabiTask::single_fact : data::BabiTask::two_facts;
  spec.min_sentences = cfg.memn2n.min_sentences;
  spec.max_sentences = cfg.memn2n.max_sentences;
  spec.batch_size = micro_batch_size(cfg, dp_size);
  spec.seed = static_cast<uint64_t>(cfg.run.seed);
  return spec;
}

MemN2NTask::MemN2NTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel),
      linear_start_steps_(cfg.memn2n.linear_start_steps), accum_steps_(cfg.train.accum_steps), data_(babi_spec(cfg, parallel.dp_size())) {
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::MemN2N>(memn2n_options(cfg), init);
}

bool MemN2NTask::linear_start(int64_t index) const { return index / accum_steps_ < linear_start_steps_; }

BatchResult MemN2NTask::run(const data::BabiBatch& batch, bool training, bool linear) {
  model_->train(training);
  const models::MemN2NOutput out = model_->forward(batch.story, batch.story_lengths, batch.question, linear);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, out.logits, batch.answer));
  const auto predicted = argmax(out.logits, -1).to_vector<int64_t>();
  const auto answers = batch.answer.to_vector<int64_t>();
  for (size_t b = 0; b < answers.size(); ++b) r.correct += predicted[b] == answers[b];
  r.scored = static_cast<int64_t>(answers.size());
  r.tokens = batch.story.numel() + batch.question.numel();
  return r;
}

BatchResult MemN2NTask::train_batch(int64_t index) {
  return run(data_.batch(local_batch_index(parallel_, index)), true, linear_start(index));
}

BatchResult MemN2NTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  return run(data_.batch(local_batch_index(parallel_, kEvalBatchBase + index)), false, false);
}

}  // namespace attnscale::train
