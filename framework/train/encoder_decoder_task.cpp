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

// data.path replaces the synthetic task: its own keys would be ignored.
std::unique_ptr<PairData> open_pair_data(const Config& cfg, const ParallelContext& parallel) {
  if (cfg.data.path.empty()) return nullptr;
  using task_config::reject_unused;
  const EncoderDecoderConfig defaults;
  const char* problem = "sets the synthetic task; data.path (a pair corpus) replaces it";
  reject_unused(cfg, "encoder_decoder.order", cfg.encoder_decoder.order, defaults.order, problem);
  reject_unused(cfg, "encoder_decoder.min_len", cfg.encoder_decoder.min_len, defaults.min_len, problem);
  reject_unused(cfg, "data.vocab_size", cfg.data.vocab_size, DataConfig{}.vocab_size,
                "the vocabulary of data.path is its subword models'; leave data.vocab_size unset");
  return std::make_unique<PairData>(cfg, parallel, cfg.encoder_decoder.max_len);
}

// The pair batch as the Transformer takes it: a validity mask instead of lengths.
data::TranslationBatch translation_batch(const data::TransductionBatch& pairs) {
  const int64_t b = pairs.source.shape()[0], s = pairs.source.shape()[1];
  std::vector<int32_t> valid(static_cast<size_t>(b * s), 0);
  const auto lengths = pairs.source_lengths.to_vector<int64_t>();
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < lengths[i]; ++j) valid[i * s + j] = 1;
  return {pairs.source, std::move(valid), pairs.target_inputs, pairs.target_outputs};
}

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
      max_len_(cfg.encoder_decoder.max_len),
      pairs_(open_pair_data(cfg, parallel)),
      dropout_gen_(rank_stream_seed(static_cast<uint64_t>(cfg.run.seed) + 2, parallel)) {
  models::EncoderDecoderOptions options = encoder_decoder_options(cfg);
  const data::TranslationSpec spec = translation_spec(cfg, parallel.dp_size());  // checks max_len either way
  if (pairs_)
    options.vocab_size = pairs_->vocab_size();
  else
    task_.emplace(spec);
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::EncoderDecoderTransformer>(options, init);
}

data::TranslationBatch EncoderDecoderTask::train_data(int64_t index) const {
  return pairs_ ? translation_batch(pairs_->train_batch(index)) : task_->batch(local_batch_index(parallel_, index));
}

data::TranslationBatch EncoderDecoderTask::eval_data(int64_t index) const {
  return pairs_ ? translation_batch(pairs_->eval_batch(index))
                : task_->batch(local_batch_index(parallel_, kEvalBatchBase + index));
}

BatchResult EncoderDecoderTask::train_batch(int64_t index) {
  model_->train(true);
  const data::TranslationBatch batch = train_data(index);
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
  const data::TranslationBatch batch = eval_data(index);
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
  const data::TranslationBatch batch = eval_data(index);
  options.bos = T::bos, options.eos = T::eos;  // a pair corpus's subword ids agree (subword.h)
  const auto decoder = model_->start_decoding(batch.source, batch.source_valid);
  const auto hypotheses = models::beam_search(*decoder, batch.source.shape()[0], options);
  if (pairs_) return decoded_pair_sentences(*pairs_, pairs_->eval_pairs(index), hypotheses);
  return decoded_id_sentences(batch.source, T::pad, batch.targets, T::eos, hypotheses);
}

int64_t EncoderDecoderTask::decoding_batches(int64_t eval_batches) const {
  return pairs_ ? pairs_->eval_batches_per_pass() : eval_batches;
}

}  // namespace attnscale::train
