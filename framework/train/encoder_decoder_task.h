// The Transformer encoder-decoder (model.type = encoder_decoder, attention.mechanism = cross) on the
// synthetic translation task, or on a pair corpus (data.path from `attnscale prepare pairs`, read
// by pair_data.h; source and target ids then share the model's one embedding table): teacher-forced cross-entropy for training; evaluation scores greedy
// decoding, token by token against the reference (eos included). Data-parallel ranks split every
// global batch (data_parallel_task.h); each rank's loss is its share of the mean over the scored
// tokens of all ranks. Dropout masks come from the rank's own stream over its micro-batch, so a dp
// run follows the one-rank run exactly only with model.dropout = 0.
#pragma once

#include <memory>
#include <optional>

#include "framework/config/config.h"
#include "framework/data/translation.h"
#include "framework/models/encoder_decoder.h"
#include "framework/train/pair_data.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"
#include "framework/train/translation_eval.h"

namespace attnscale::train {

class EncoderDecoderTask : public TrainTask, public DecodingTask {
 public:
  explicit EncoderDecoderTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  // Teacher-forced loss and token accuracy.
  BatchResult train_batch(int64_t index) override;
  // Teacher-forced loss; accuracy of greedy decoding.
  BatchResult eval_batch(int64_t index) override;
  double chance_accuracy() const override { return pairs_ ? pairs_->chance_accuracy() : task_->chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {{"dropout", &dropout_gen_}}; }
  // The pair corpus of data.path (null on the synthetic task): its subword models decode ids.
  const PairData* pair_data() const { return pairs_.get(); }
  DecodingTask* decoding() override { return this; }
  std::vector<DecodedSentence> decode_batch(int64_t index, models::BeamOptions options) override;
  int64_t max_target_len() const override { return max_len_ + 1; }
  int64_t decoding_batches(int64_t eval_batches) const override;

 private:
  // This rank's share of training batch `index` / held-out batch `index`, from either source.
  data::TranslationBatch train_data(int64_t index) const;
  data::TranslationBatch eval_data(int64_t index) const;

  ParallelContext parallel_;
  int64_t max_len_;  // encoder_decoder.max_len: the longest source and target
  std::unique_ptr<PairData> pairs_;            // data.path set
  std::optional<data::TranslationTask> task_;  // data.path empty
  std::unique_ptr<models::EncoderDecoderTransformer> model_;
  Generator dropout_gen_;
};

// The config's model and synthetic data; ConfigError naming the key for options that do not fit.
// With data.path the model's vocab_size is the corpus's.
models::EncoderDecoderOptions encoder_decoder_options(const Config& cfg);
data::TranslationSpec translation_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
