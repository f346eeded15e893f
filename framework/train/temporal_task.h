// TemporalAttentionNet on generated feature sequences (model.type = temporal): teacher-forced
// cross-entropy for training; the evaluation accuracy is greedy decoding's token accuracy (for a
// label, the label accuracy). Data-parallel ranks split every global batch (data_parallel_task.h);
// each rank's loss is its share of the mean over all ranks' output tokens. It draws no random
// numbers, so a dp run follows the one-rank run.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/data/feature_sequences.h"
#include "framework/models/temporal_net.h"
#include "framework/train/parallel_context.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/task.h"

namespace attnscale::train {

class TemporalTask : public TrainTask {
 public:
  explicit TemporalTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  BatchResult train_batch(int64_t index) override;  // accuracy: teacher-forced tokens
  BatchResult eval_batch(int64_t index) override;   // accuracy: greedy decoding
  double chance_accuracy() const override { return data_.chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {}; }  // draws nothing while training

  // Greedy decoding of this rank's share of held-out batch `index` (eval mode).
  PredictionScore greedy_score(int64_t index);
  models::TemporalAttentionNet& net() { return *model_; }
  const data::FeatureSequenceTask& sequences() const { return data_; }

 private:
  BatchResult teacher_forced(const data::FeatureBatch& batch, bool training);

  ParallelContext parallel_;
  data::FeatureSequenceTask data_;
  std::unique_ptr<models::TemporalAttentionNet> model_;
};

models::TemporalNetOptions temporal_net_options(const Config& cfg, const data::FeatureSequenceSpec& spec);
data::FeatureSequenceSpec feature_sequence_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
