// Language modelling on a synthetic task with the TransformerLM: the quickstart run.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/data/synthetic.h"
#include "framework/models/transformer_lm.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"

namespace attnscale::train {

class LMTask : public TrainTask {
 public:
  // With cp > 1 this rank holds the tokens the layout gives it (global positions, so RoPE and the
  // mask see the whole sequence's positions); with dp > 1 it takes its share of every batch.
  explicit LMTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  BatchResult train_batch(int64_t index) override;
  BatchResult eval_batch(int64_t index) override;
  double chance_accuracy() const override { return task_.chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {{"dropout", &dropout_gen_}}; }

 private:
  BatchResult run(int64_t index, bool training);

  std::unique_ptr<models::TransformerLM> model_;
  data::SyntheticTask task_;
  Generator dropout_gen_;
  ParallelContext parallel_;
  Tensor local_positions_;  // int64 global positions of this rank's tokens
  // What the mechanism logs at each evaluation (adaptive span: its spans); null = nothing.
  void (*log_evaluation_)(const models::TransformerLM&) = nullptr;
};

models::TransformerLMOptions transformer_options(const Config& cfg);
data::SyntheticSpec synthetic_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
