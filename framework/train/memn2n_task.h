// The End-To-End Memory Network on the generated bAbI-style task (model.type = memn2n): cross-entropy
// of the answer word; accuracy = exact answers. Linear start: the first memn2n.linear_start_steps
// optimizer steps train with every hop's softmax removed. Data-parallel ranks split every global
// batch of stories (data_parallel_task.h); each rank's loss is its share of the mean over all
// ranks' answers. It draws no random numbers, so a dp run follows the one-rank run.
#pragma once

#include <memory>

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
  double chance_accuracy() const override { return data_.chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {}; }  // draws nothing while training

  models::MemN2N& memn2n() { return *model_; }
  const data::BabiTaskGenerator& babi() const { return data_; }
  // Whether training batch `index` falls in the linear-start phase.
  bool linear_start(int64_t index) const;

 private:
  BatchResult run(const data::BabiBatch& batch, bool training, bool linear);

  ParallelContext parallel_;
  int64_t linear_start_steps_, accum_steps_;
  data::BabiTaskGenerator data_;
  std::unique_ptr<models::MemN2N> model_;
};

// The config's model and data (ConfigError naming the key for an option that does not fit).
models::MemN2NOptions memn2n_options(const Config& cfg);
data::BabiSpec babi_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
