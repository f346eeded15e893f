#include "framework/train/encoder_decoder_task.h"
#include "framework/train/task_config.h"

#include <fmt/format.h>

#include "framework/core/autograd/node.h"
#include "framework/config/enum_names.h"
#include "framework/data/synthetic.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/from_config.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/token_scoring.h"

namespace attnscale::train {

using task_config::kEvalBatchBase;  // evaluation batches are never training batches
namespace {


bool not_ignored(int64_t target) { return target != data::kIgnoreIndex; }

}  // namespace

models::EncoderDecoderOptions encoder_decoder_options(const Config& cfg) {
  task_config::check_model_mechanism(cfg, config::ModelType::encoder_decoder);
  if (cfg.attention.mask != config::Mask::causal)
    throw ConfigError(fmt::format("[config] attention.mask: the encoder-decoder masks source padding and the decoder's "
                                  "future itself; leave attention.mask = causal (got '{}')",
                                  config::to_string(cfg.attention.mask)));
  models::EncoderDecoderOptions o;
  o.vocab_size = cfg.data.vocab_size;
  o.d_model = cfg.model.d_model;
  o.n_heads = cfg.model.n_heads;
  o.n_kv_heads = cfg.model.n_kv_heads;
  o.d_ff = ff_width(cfg.model);
  o.decoder_layers = cfg.model.n_layers;
  o.encoder_layers = cfg.encoder_decoder.encoder_layers > 0 ? cfg.encoder_decoder.encoder_layers : cfg.model.n_layers;
  o.dropout = cfg.model.dropout;
  o.norm = std::string(config::to_string(cfg.model.norm));
  o.fused_attention = cfg.attention.impl == config::AttentionImpl::fused;
  o.attention_scale = cfg.attention.scale;
  o.normalizer = dot_product_normalizer(cfg);
  return o;
}

data::TranslationSpec translation_spec(const Config& cfg, std::int64_t dp_size) {
  const EncoderDecoderConfig& e = cfg.encoder_decoder;
  if (e.min_len > e.max_len)
    throw ConfigError(fmt::format("[config] encoder_decoder.min_len: {} exceeds encoder_decoder.max_len = {}",
                                  e.min_len, e.max_len));
  if (e.max_len + 1 > cfg.model.max_seq_len)
    throw ConfigError(fmt::format("[config] encoder_decoder.max_len: {} (+ eos) exceeds model.max_seq_len = {}",
                                  e.max_len, cfg.model.max_seq_len));
  data::TranslationSpec s;
  s.reversed = e.order == config::TranslationOrder::reversed;
  s.min_len = e.min_len;
  s.max_len = e.max_len;
  s.batch_size = micro_batch_size(cfg, dp_size);
  s.vocab_size = cfg.data.vocab_size;
  s.seed = static_cast<uint64_t>(cfg.run.seed);
  return s;
}

EncoderDecoderTask::EncoderDecoderTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel),
      task_(translation_spec(cfg, parallel.dp_size())),
      dropout_gen_(rank_stream_seed(static_cast<uint64_t>(cfg.run.seed) + 2, parallel)) {
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::EncoderDecoderTransformer>(encoder_decoder_options(cfg), init);
}

BatchResult EncoderDecoderTask::train_batch(int64_t index) {
  model_->train(true);
  const data::TranslationBatch batch = task_.batch(local_batch_index(parallel_, index));
  const Tensor logits = model_->forward(batch.source, batch.source_valid, batch.target_inputs, dropout_gen_);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, logits, batch.targets, data::kIgnoreIndex));
  r.tokens = batch.target_inputs.numel();
  score_tokens(argmax(logits, -1), batch.targets, not_ignored, r);
  return r;
}

BatchResult EncoderDecoderTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  model_->eval();
  const data::TranslationBatch batch = task_.batch(local_batch_index(parallel_, kEvalBatchBase + index));
  const Tensor logits = model_->forward(batch.source, batch.source_valid, batch.target_inputs, dropout_gen_);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, logits, batch.targets, data::kIgnoreIndex));
  r.tokens = batch.target_inputs.numel();
  const int64_t steps = batch.targets.shape()[1];
  score_tokens(model_->greedy(batch.source, batch.source_valid, data::TranslationTokens::bos, steps), batch.targets,
               not_ignored, r);
  return r;
}

std::vector<DecodedSentence> EncoderDecoderTask::decode_batch(int64_t index, models::BeamOptions options) {
  using T = data::TranslationTokens;
  model_->eval();
  const data::TranslationBatch batch = task_.batch(local_batch_index(parallel_, kEvalBatchBase + index));
  options.bos = T::bos, options.eos = T::eos;
  const auto decoder = model_->start_decoding(batch.source, batch.source_valid);
  return decoded_id_sentences(batch.source, T::pad, batch.targets, T::eos,
                           models::beam_search(*decoder, batch.source.shape()[0], options));
}

}  // namespace attnscale::train
