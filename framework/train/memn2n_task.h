// The End-To-End Memory Network on bAbI tasks 1-3 (model.type = memn2n): cross-entropy of the
// answer word; accuracy = exact answers. Data: a prepared data set (data.path, `attnscale prepare
// babi`): training batches walk the training split in a fresh order every epoch, evaluation reads
// memn2n.eval_split in order; or, without data.path, stories generated on the fly (data/babi_like.h).
// Linear start: the first memn2n.linear_start_steps optimizer steps train with every hop's softmax
// removed. Random noise (memn2n.random_noise) adds empty memories to training questions only.
// Data-parallel ranks split every global batch of questions (data_parallel_task.h); each
// rank's loss is its share of the mean over all ranks' answers. It draws no random numbers while
// training, so a dp run follows the one-rank run.
#pragma once

#include <memory>
#include <optional>

#include "framework/config/config.h"
#include "framework/data/babi_like.h"
#include "framework/models/memn2n.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"

namespace attnscale::train {

class MemN2NTask : public TrainTask {
 public:
  explicit MemN2NTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  BatchResult train_batch(int64_t index) override;
  BatchResult eval_batch(int64_t index) override;  // always with the softmax
  double chance_accuracy() const override;
  std::vector<NamedGenerator> generators() override { return {}; }  // draws nothing while training

  models::MemN2N& memn2n() { return *model_; }
  // This rank's questions of training micro-batch `index` and of evaluation batch `index`.
  data::BabiBatch train_data(int64_t index) const;
  data::BabiBatch eval_data(int64_t index) const;
  // Evaluation batches that cover memn2n.eval_split once (data.path only).
  int64_t eval_batches_per_pass() const;
  // Whether training batch `index` falls in the linear-start phase.
  bool linear_start(int64_t index) const;

 private:
  BatchResult run(const data::BabiBatch& batch, bool training, bool linear);
  data::BabiBatch dataset_batch(const std::vector<int64_t>& questions, const data::BabiNoise& noise = {}) const;
  void show_attention(const data::BabiBatch& batch, const models::MemN2NOutput& out) const;

  ParallelContext parallel_;
  int64_t linear_start_steps_, accum_steps_, micro_batch_, memory_size_, show_attention_;
  double random_noise_;
  uint64_t seed_;
  std::optional<data::BabiTaskGenerator> generator_;  // without data.path
  std::shared_ptr<const data::BabiDataset> dataset_;  // data.path
  data::Split eval_split_ = data::Split::validation;
  std::unique_ptr<models::MemN2N> model_;
};

// The config's model options (ConfigError naming the key for an option that does not fit).
models::MemN2NOptions memn2n_options(const Config& cfg);

}  // namespace attnscale::train
