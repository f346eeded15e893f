// The RNN encoder-decoder with attention (model.type = seq2seq) on a synthetic transduction task,
// or on a pair corpus (data.path from `attnscale prepare pairs`, read by pair_data.h):
// teacher-forced cross-entropy for training (plus hard attention's REINFORCE surrogate), greedy
// decoding for the evaluation accuracy. Data-parallel ranks split every global batch (see
// data_parallel_task.h); each rank's loss is its share of the mean over the scored tokens of all
// ranks. Dropout masks and hard-attention samples come from the rank's own stream (seeded by its
// dp rank) over its micro-batch: the model draws them for a whole batch tensor at once
// (nn::Dropout, attention::gumbel_noise), so with dp > 1 they are other draws from the same
// distribution than the one-rank run's, and a dp run follows the one-rank run exactly only without
// dropout and hard attention. What does not depend on the draws does follow it: hard attention's
// REINFORCE baseline moves by the mean reward of the whole global batch on every rank.
#pragma once

#include <memory>
#include <optional>

#include "framework/config/config.h"
#include "framework/data/transduction.h"
#include "framework/models/seq2seq.h"
#include "framework/train/pair_data.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"
#include "framework/train/translation_eval.h"

namespace attnscale::train {

// Predictions (greedy decoding, or the teacher-forced argmax) against the targets. A token counts
// at every scored target position (eos included); a sequence counts as exact when all of its
// positions match.
struct PredictionScore {
  int64_t correct_tokens = 0, scored_tokens = 0;
  int64_t exact_sequences = 0, sequences = 0;
  double token_accuracy() const;
  double exact_accuracy() const;
  PredictionScore& operator+=(const PredictionScore& other);
};

// predicted int64 [B, >= T] against target_outputs int64 [B, T] (kIgnoreIndex where unscored).
PredictionScore score_predictions(const Tensor& predicted, const Tensor& target_outputs);

class Seq2SeqTask : public TrainTask, public DecodingTask {
 public:
  explicit Seq2SeqTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  // Teacher-forced loss; accuracy = teacher-forced token accuracy.
  BatchResult train_batch(int64_t index) override;
  // Teacher-forced loss; accuracy = greedy-decoding token accuracy. The exact-sequence accuracy of a
  // whole evaluation (train.eval_batches batches) is logged after its last batch.
  BatchResult eval_batch(int64_t index) override;
  double chance_accuracy() const override { return pairs_ ? pairs_->chance_accuracy() : task_->chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {{"sample", &sample_gen_}}; }
  DecodingTask* decoding() override { return this; }
  std::vector<DecodedSentence> decode_batch(int64_t index, models::BeamOptions options) override;
  int64_t max_target_len() const override { return max_len_ + 1; }
  int64_t decoding_batches(int64_t eval_batches) const override;

  // Greedy decoding of this rank's share of held-out batch `index` in evaluation mode.
  PredictionScore greedy_score(int64_t index);
  models::Seq2Seq& seq2seq() { return *model_; }
  // The pair corpus of data.path (null on the synthetic task): its subword models decode ids.
  const PairData* pair_data() const { return pairs_.get(); }

 private:
  // This rank's share of training batch `index` / held-out batch `index`, from either source.
  data::TransductionBatch train_data(int64_t index) const;
  data::TransductionBatch eval_data(int64_t index) const;
  BatchResult teacher_forced(const data::TransductionBatch& batch, bool training);
  // Hard attention (REINFORCE) with dp > 1: gives the baseline the global batch's mean reward before
  // the model's update sees the rank's share, and returns the baseline the one-rank update gives.
  double seed_global_baseline(const Tensor& rewards, const Tensor& scored_mask, int64_t scored);

  ParallelContext parallel_;
  int64_t eval_batches_;
  int64_t max_len_;  // seq2seq.max_len: the longest source and target
  std::unique_ptr<PairData> pairs_;              // data.path set
  std::optional<data::TransductionTask> task_;  // data.path empty
  std::unique_ptr<models::Seq2Seq> model_;
  Generator sample_gen_;  // dropout masks and hard-attention samples
  PredictionScore eval_total_;  // this rank's greedy scores over the evaluation so far
  // Hard attention's REINFORCE baseline buffers, when dp > 1 must keep them global (else undefined).
  Tensor baseline_, baseline_updates_;
  double baseline_decay_ = 0;
};

// The config's model and synthetic data (ConfigError naming the key for a mechanism or option that
// does not fit the seq2seq model). With data.path the model's vocab_size is the corpus's.
models::Seq2SeqOptions seq2seq_options(const Config& cfg);
data::TransductionSpec transduction_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
