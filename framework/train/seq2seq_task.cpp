#include "framework/train/seq2seq_task.h"
#include "framework/train/task_config.h"

#include <array>
#include <string>

#include "base/logging.h"
#include "framework/attention/hard.h"
#include "framework/core/autograd/node.h"
#include "framework/data/synthetic.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/mechanisms/registry.h"

namespace attnscale::train {

using task_config::kEvalBatchBase;  // evaluation batches are never training batches
namespace {

using task_config::fail;

// The keys every mechanism of the model reads; each mechanism's own are checked by its registration.
void check_transduction_keys(const Config& cfg) {
  const Seq2SeqConfig& s = cfg.seq2seq;
  if (s.min_len > s.max_len)
    fail(cfg, "seq2seq.min_len", fmt::format("{} exceeds seq2seq.max_len = {}", s.min_len, s.max_len));
  if (cfg.data.vocab_size < data::kFirstSymbol + 2)
    fail(cfg, "data.vocab_size",
         fmt::format("{} leaves fewer than 2 symbols besides pad, bos and eos", cfg.data.vocab_size));
}

// data.path replaces the synthetic task: its own keys would be ignored.
std::unique_ptr<PairData> open_pair_data(const Config& cfg, const ParallelContext& parallel) {
  if (cfg.data.path.empty()) return nullptr;
  using task_config::reject_unused;
  const char* problem = "sets the synthetic task; data.path (a pair corpus) replaces it";
  reject_unused(cfg, "seq2seq.task", cfg.seq2seq.task, Seq2SeqConfig{}.task, problem);
  reject_unused(cfg, "seq2seq.min_len", cfg.seq2seq.min_len, Seq2SeqConfig{}.min_len, problem);
  reject_unused(cfg, "data.vocab_size", cfg.data.vocab_size, DataConfig{}.vocab_size,
                "the vocabulary of data.path is its subword models'; leave data.vocab_size unset");
  return std::make_unique<PairData>(cfg, parallel, cfg.seq2seq.max_len);
}

}  // namespace

models::Seq2SeqOptions seq2seq_options(const Config& cfg) {
  if (cfg.model.type != config::ModelType::seq2seq)
    fail(cfg, "model.type", fmt::format("'{}' is not seq2seq", config::to_string(cfg.model.type)));
  const Mechanism& mechanism = mechanism_of(cfg);
  check_transduction_keys(cfg);
  const Seq2SeqConfig& s = cfg.seq2seq;
  models::Seq2SeqOptions o;
  o.vocab_size = cfg.data.vocab_size;
  o.hidden_size = cfg.model.d_model;
  o.embed_dim = s.embed_dim > 0 ? s.embed_dim : cfg.model.d_model;
  o.num_layers = cfg.model.n_layers;
  o.bidirectional = s.bidirectional;
  o.input_feeding = s.input_feeding;
  o.dropout = cfg.model.dropout;
  o.pad_id = data::kPadId, o.bos_id = data::kBosId, o.eos_id = data::kEosId;
  mechanism.seq2seq(cfg, o);  // its module, its wiring and its own keys
  return o;
}

data::TransductionSpec transduction_spec(const Config& cfg, std::int64_t dp_size) {
  seq2seq_options(cfg);  // config errors before the data's own checks
  data::TransductionSpec spec;
  switch (cfg.seq2seq.task) {
    case config::Transduction::copy: spec.task = data::Transduction::copy; break;
    case config::Transduction::reverse: spec.task = data::Transduction::reverse; break;
    case config::Transduction::sort: spec.task = data::Transduction::sort; break;
  }
  spec.min_len = cfg.seq2seq.min_len;
  spec.max_len = cfg.seq2seq.max_len;
  spec.batch_size = micro_batch_size(cfg, dp_size);
  spec.vocab_size = cfg.data.vocab_size;
  spec.seed = static_cast<uint64_t>(cfg.run.seed);
  return spec;
}

double PredictionScore::token_accuracy() const {
  return scored_tokens ? static_cast<double>(correct_tokens) / static_cast<double>(scored_tokens) : 0.0;
}

double PredictionScore::exact_accuracy() const {
  return sequences ? static_cast<double>(exact_sequences) / static_cast<double>(sequences) : 0.0;
}

PredictionScore& PredictionScore::operator+=(const PredictionScore& other) {
  correct_tokens += other.correct_tokens, scored_tokens += other.scored_tokens;
  exact_sequences += other.exact_sequences, sequences += other.sequences;
  return *this;
}

PredictionScore score_predictions(const Tensor& predicted, const Tensor& target_outputs) {
  ATTNSCALE_CHECK(predicted.dim() == 2 && target_outputs.dim() == 2 &&
                      predicted.shape()[0] == target_outputs.shape()[0] &&
                      predicted.shape()[1] >= target_outputs.shape()[1],
                  "seq2seq", "predictions {} do not cover targets {}", shape_str(predicted.shape()),
                  shape_str(target_outputs.shape()));
  const auto pred = predicted.contiguous().to_vector<int64_t>();
  const auto tgt = target_outputs.contiguous().to_vector<int64_t>();
  const int64_t batch = target_outputs.shape()[0], steps = target_outputs.shape()[1], width = predicted.shape()[1];
  PredictionScore score;
  for (int64_t b = 0; b < batch; ++b) {
    bool exact = true;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t target = tgt[static_cast<size_t>(b * steps + t)];
      if (target == data::kIgnoreIndex) continue;
      const bool hit = pred[static_cast<size_t>(b * width + t)] == target;
      score.correct_tokens += hit;
      ++score.scored_tokens;
      exact = exact && hit;
    }
    score.exact_sequences += exact;
    ++score.sequences;
  }
  return score;
}

Seq2SeqTask::Seq2SeqTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel),
      eval_batches_(cfg.train.eval_batches),
      max_len_(cfg.seq2seq.max_len),
      pairs_(open_pair_data(cfg, parallel)),
      sample_gen_(rank_stream_seed(static_cast<uint64_t>(cfg.run.seed) + 2, parallel)) {
  models::Seq2SeqOptions options = seq2seq_options(cfg);
  if (pairs_)
    options.vocab_size = pairs_->vocab_size();
  else
    task_.emplace(transduction_spec(cfg, parallel.dp_size()));
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::Seq2Seq>(options, init);
  const auto* hard = dynamic_cast<const attention::HardAttention*>(&model_->attention());
  if (hard && hard->options().estimator == attention::HardEstimator::reinforce && parallel_.world_size() > 1) {
    for (const NamedTensor& buffer : model_->named_buffers()) {
      if (buffer.name == "attention.baseline") baseline_ = buffer.tensor;
      if (buffer.name == "attention.baseline_updates") baseline_updates_ = buffer.tensor;
    }
    ATTNSCALE_CHECK(baseline_.defined() && baseline_updates_.defined(), "seq2seq",
                    "hard attention's baseline buffers (attention.baseline, attention.baseline_updates) not found");
    baseline_decay_ = hard->options().baseline_decay;
  }
}

double Seq2SeqTask::seed_global_baseline(const Tensor& rewards, const Tensor& scored_mask, int64_t scored) {
  std::array<double, 2> totals{sum(mul(rewards, scored_mask)).item(), static_cast<double>(scored)};
  parallel_.world->all_reduce(totals, ReduceOp::sum);
  const double global_mean_reward = totals[0] / totals[1];
  if (baseline_updates_.item() == 0) {
    // The one-rank run centres its first batch on that batch's mean reward: so does every rank. A
    // count of 1 keeps the model from re-centring on the rank's own mean; the caller restores it.
    baseline_.fill_(global_mean_reward);
    baseline_updates_.fill_(1);
    return global_mean_reward;
  }
  return baseline_decay_ * baseline_.item() + (1 - baseline_decay_) * global_mean_reward;
}

BatchResult Seq2SeqTask::teacher_forced(const data::TransductionBatch& batch, bool training) {
  model_->train(training);
  const models::Seq2SeqOutput out =
      model_->forward(batch.source, batch.source_lengths, batch.target_inputs, sample_gen_);
  const int64_t vocab = out.logits.shape().back();
  const Tensor flat_logits = reshape(out.logits, {-1, vocab});
  const Tensor flat_targets = reshape(batch.target_outputs, {-1});
  const Tensor token_losses = cross_entropy(flat_logits, flat_targets, data::kIgnoreIndex, Reduction::none);
  const Tensor scored_mask = reshape(
      greater(flat_targets, Tensor::scalar(static_cast<double>(data::kIgnoreIndex), DType::i64)).to(out.logits.dtype()),
      batch.target_outputs.shape());
  const PredictionScore teacher_forced_score = score_predictions(argmax(out.logits, -1), batch.target_outputs);
  BatchResult r;
  r.correct = teacher_forced_score.correct_tokens;
  r.scored = teacher_forced_score.scored_tokens;
  const GlobalMean mean = global_mean(parallel_, r.scored);
  const double global_factor = mean.factor;
  r.set_loss({mul(sum(token_losses), global_factor), mean.count});
  if (training) {
    // The reward of a hard-attention sample at step t is log p(y_t) (see attention/hard.h).
    const Tensor rewards = reshape(neg(token_losses.detach()), batch.target_outputs.shape());
    const bool global_baseline = baseline_.defined();
    const double updates = global_baseline ? baseline_updates_.item() : 0;
    const double baseline = global_baseline ? seed_global_baseline(rewards, scored_mask, r.scored) : 0;
    const Tensor extra = model_->auxiliary_loss(out, rewards, scored_mask);
    // The model moved the baseline by this rank's mean reward: replace that by the global update.
    if (global_baseline) baseline_.fill_(baseline), baseline_updates_.fill_(updates + 1);
    // The surrogate is a mean over this rank's scored tokens: rescaled to the global mean.
    if (extra.defined()) r.loss = add(r.loss, mul(extra, static_cast<double>(r.scored) * global_factor));
  }
  r.tokens = batch.source.numel() + batch.target_inputs.numel();
  return r;
}

data::TransductionBatch Seq2SeqTask::train_data(int64_t index) const {
  return pairs_ ? pairs_->train_batch(index) : task_->batch(local_batch_index(parallel_, index));
}

data::TransductionBatch Seq2SeqTask::eval_data(int64_t index) const {
  return pairs_ ? pairs_->eval_batch(index) : task_->batch(local_batch_index(parallel_, kEvalBatchBase + index));
}

BatchResult Seq2SeqTask::train_batch(int64_t index) { return teacher_forced(train_data(index), true); }

PredictionScore Seq2SeqTask::greedy_score(int64_t index) {
  const data::TransductionBatch batch = eval_data(index);
  model_->eval();
  const Tensor predicted =
      model_->greedy_decode(batch.source, batch.source_lengths, batch.target_outputs.shape()[1], sample_gen_);
  return score_predictions(predicted, batch.target_outputs);
}

BatchResult Seq2SeqTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  BatchResult r = teacher_forced(eval_data(index), false);
  const PredictionScore greedy = greedy_score(index);
  r.correct = greedy.correct_tokens;
  r.scored = greedy.scored_tokens;
  if (index == 0) eval_total_ = {};
  eval_total_ += greedy;
  if (index == eval_batches_ - 1) {
    PredictionScore all = eval_total_;  // over every rank's share
    if (parallel_.world) {
      std::array<int64_t, 4> counts{all.correct_tokens, all.scored_tokens, all.exact_sequences, all.sequences};
      parallel_.world->all_reduce(counts, ReduceOp::sum);
      all = {counts[0], counts[1], counts[2], counts[3]};
    }
    LOG_INFO("greedy decoding: token accuracy {:.4f}, exact-sequence accuracy {:.4f} ({} of {} sequences)",
             all.token_accuracy(), all.exact_accuracy(), all.exact_sequences, all.sequences);
  }
  return r;
}

std::vector<DecodedSentence> Seq2SeqTask::decode_batch(int64_t index, models::BeamOptions options) {
  const data::TransductionBatch batch = eval_data(index);
  model_->eval();
  options.bos = data::kBosId, options.eos = data::kEosId;  // a pair corpus's subword ids agree (subword.h)
  const auto decoder = model_->start_decoding(batch.source, batch.source_lengths, sample_gen_);
  const auto hypotheses = models::beam_search(*decoder, batch.source.shape()[0], options);
  if (pairs_) return decoded_pair_sentences(*pairs_, pairs_->eval_pairs(index), hypotheses);
  return decoded_id_sentences(batch.source, data::kPadId, batch.target_outputs, data::kEosId, hypotheses);
}

int64_t Seq2SeqTask::decoding_batches(int64_t eval_batches) const {
  return pairs_ ? pairs_->eval_batches_per_pass() : eval_batches;
}

}  // namespace attnscale::train
