// Document classification with the Hierarchical Attention Network (model.type = han): on a prepared
// corpus (data.path, see `attnscale prepare docs`) or on the synthetic task of data/doc_synthetic.h.
// Data-parallel ranks split each batch's documents; with parallel.cp > 1 the ranks of a cp group
// split every document's sentences and merge sentence attention across the group
// (models/han.h). Each rank's loss is its share of the global mean over the batch's documents, so
// summing losses and gradients over all ranks gives the 1-rank result for the same global batch.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/data/doc_batches.h"
#include "framework/data/doc_store.h"
#include "framework/models/han.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"

namespace attnscale::train {

class HanTask : public TrainTask {
 public:
  explicit HanTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  BatchResult train_batch(int64_t index) override;
  // Batch `index` of han.eval_split, in order (train.eval_batches of them; a pass over the split
  // takes eval_batches_per_pass()).
  BatchResult eval_batch(int64_t index) override;
  double chance_accuracy() const override;
  std::vector<NamedGenerator> generators() override {
    return {{"word_dropout", &word_gen_}, {"document_dropout", &document_gen_}};
  }

  models::HAN& han() { return *model_; }
  const data::DocCorpus& corpus() const { return *corpus_; }
  int64_t eval_batches_per_pass() const { return eval_batcher_->eval_batches_per_pass(); }
  // This rank's share of global batch `docs`.
  data::DocBatch local_batch(const std::vector<int64_t>& docs) const;

 private:
  BatchResult run(const std::vector<int64_t>& docs, bool training);

  ParallelContext parallel_;
  std::shared_ptr<const data::DocCorpus> corpus_;
  data::DocBatchSpec batch_spec_;  // one micro-step of all dp ranks (evaluation batches too)
  int64_t accum_steps_ = 1;         // micro-batch i is part i % accum_steps_ of training batch i / accum_steps_
  std::unique_ptr<data::DocBatcher> train_batcher_, eval_batcher_;
  std::unique_ptr<models::HAN> model_;
  Generator word_gen_, document_gen_;
};

// A batch's tensors as the model reads them.
models::HANInput han_input(const data::DocBatch& batch);

// The corpus a config names: data.path read from HDF5, or the synthetic task (data.vocab_size,
// han.* synthetic keys, run.seed).
data::DocCorpus load_han_corpus(const Config& cfg);
// The model options for a config and its corpus (ConfigError naming the key for options that do
// not fit, e.g. a GRU sentence encoder with parallel.cp > 1).
models::HANOptions han_options(const Config& cfg, const data::DocCorpus& corpus);

}  // namespace attnscale::train
