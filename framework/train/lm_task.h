// Language modelling on a synthetic task with the TransformerLM (the quickstart run), or sequence
// classification on a ListOps file (data.path): the model reads an expression causally and its
// output at the expression's last token, through the LM head, is scored against the answer digit.
#pragma once

#include <memory>
#include <optional>

#include "framework/config/config.h"
#include "framework/data/listops.h"
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
  double chance_accuracy() const override;
  std::vector<NamedGenerator> generators() override { return {{"dropout", &dropout_gen_}}; }

 private:
  BatchResult run(const data::TokenBatch& full, bool training);

  std::unique_ptr<models::TransformerLM> model_;
  std::optional<data::SyntheticTask> task_;         // data.path empty
  std::optional<data::ListOpsBatches> listops_;     // data.path set
  data::Split eval_split_ = data::Split::validation;
  Generator dropout_gen_;
  ParallelContext parallel_;
  Tensor local_positions_;  // int64 global positions of this rank's tokens
  // What the mechanism logs at each evaluation (adaptive span: its spans); null = nothing.
  void (*log_evaluation_)(const models::TransformerLM&) = nullptr;
};

models::TransformerLMOptions transformer_options(const Config& cfg);
data::SyntheticSpec synthetic_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
