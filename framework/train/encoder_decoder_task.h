// The Transformer encoder-decoder on the synthetic translation task (model.type = encoder_decoder,
// attention.mechanism = cross): teacher-forced cross-entropy for training; evaluation scores greedy
// decoding, token by token against the reference (eos included). Data-parallel ranks split every
// global batch (data_parallel_task.h); each rank's loss is its share of the mean over the scored
// tokens of all ranks. Dropout masks come from the rank's own stream over its micro-batch, so a dp
// run follows the one-rank run exactly only with model.dropout = 0.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/data/translation.h"
#include "framework/models/encoder_decoder.h"
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
  double chance_accuracy() const override { return task_.chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {{"dropout", &dropout_gen_}}; }
  DecodingTask* decoding() override { return this; }
  std::vector<DecodedSentence> decode_batch(int64_t index, models::BeamOptions options) override;
  int64_t max_target_len() const override { return task_.spec().max_len + 1; }

 private:
  ParallelContext parallel_;
  std::unique_ptr<models::EncoderDecoderTransformer> model_;
  data::TranslationTask task_;
  Generator dropout_gen_;
};

// The config's model and data; ConfigError naming the key for options that do not fit.
models::EncoderDecoderOptions encoder_decoder_options(const Config& cfg);
data::TranslationSpec translation_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train
