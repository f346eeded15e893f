// Language modelling on a synthetic task with the TransformerLM (the quickstart run); with data.path,
// on a prepared document corpus (`attnscale prepare docs`, e.g. --unit char for characters: random
// windows of the training split, evaluation over consecutive windows of data.eval_split), or sequence
// classification on a ListOps file: the model reads an expression causally and its output at the
// expression's last token, through the LM head, is scored against the answer digit.
#pragma once

#include <memory>
#include <optional>

#include "framework/config/config.h"
#include "framework/data/corpus_windows.h"
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

  models::TransformerLM& lm() { return *model_; }
  // The document corpus data.path names; null on a synthetic task or a ListOps file.
  const std::shared_ptr<const data::DocCorpus>& corpus() const { return corpus_; }

 private:
  BatchResult run(const data::TokenBatch& full, bool training);

  std::unique_ptr<models::TransformerLM> model_;
  std::optional<data::SyntheticTask> task_;         // data.path empty
  std::optional<data::ListOpsBatches> listops_;     // data.path: a ListOps file
  std::shared_ptr<const data::DocCorpus> corpus_;   // data.path: a document corpus
  // A corpus: windows of the training split and of data.eval_split.
  std::optional<data::CorpusWindows> train_windows_, eval_windows_;
  data::Split eval_split_ = data::Split::validation;
  Generator dropout_gen_;
  ParallelContext parallel_;
  Tensor local_positions_;  // int64 global positions of this rank's tokens
  // What the mechanism logs at each evaluation (adaptive span: its spans); null = nothing.
  void (*log_evaluation_)(const models::TransformerLM&) = nullptr;
};

// vocab_size is data.vocab_size (the synthetic tasks'); with data.path, LMTask sets the corpus's.
models::TransformerLMOptions transformer_options(const Config& cfg);
data::SyntheticSpec synthetic_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
