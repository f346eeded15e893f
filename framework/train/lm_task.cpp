#include "framework/train/lm_task.h"
#include "framework/train/task_config.h"


#include <fmt/format.h>

#include "base/logging.h"
#include "framework/core/autograd/node.h"
#include "framework/config/enum_names.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/from_config.h"
#include "framework/train/mechanisms/registry.h"
#include "kernels/attention_kernel.h"

namespace attnscale::train {

using task_config::kEvalBatchBase;  // evaluation batches are never training batches

namespace {

// Which fused kernel the attention layers run (attention.kernel; choose_attention_kernel of
// kernels/attention_kernel.h) and why: one log line for all layers, which share the mask, the shape
// and the element type. `device` is where the model lives (its compute capability counts).
void log_attention_kernel(const Config& cfg, const models::TransformerLMOptions& o, Device device) {
  const attention::MultiHeadOptions& a = o.attention;
  const std::string_view requested = kernels::attention_kernel_name(cfg.attention.kernel);
  std::string reason;
  if (!a.fused) {
    reason = "own: attention.impl = plain builds attention from ops";
  } else if (a.normalizer != kernels::Normalizer::softmax) {
    reason = "own: sparsemax runs the general path";
  } else {
    // The one-rank call of a layer: the whole sequence, this build's float32 activations.
    const int64_t head_dim = a.d_model / a.n_heads;
    kernels::AttentionParams params = kernels::default_attention_params(
        {1, a.n_heads, a.n_kv_heads > 0 ? a.n_kv_heads : a.n_heads, cfg.data.seq_len, cfg.data.seq_len, head_dim,
         head_dim});
    params.mask = a.mask;
    kernels::SmVersion sm = 0;
    if (device.is_cuda()) {
      const cuda::DeviceProperties p = cuda::properties(device);
      sm = p.major * 10 + p.minor;
    }
    reason = kernels::choose_attention_kernel(cfg.attention.kernel, params, kernels::AttentionDType::f32, sm,
                                              kernels::cudnn_attention_compiled())
                 .reason;
  }
  LOG_INFO("attention.kernel = {}, layers 0-{}: {}", requested, o.n_layers - 1, reason);
}

}  // namespace

models::TransformerLMOptions transformer_options(const Config& cfg) {
  models::TransformerLMOptions o;
  o.vocab_size = cfg.data.vocab_size;
  o.n_layers = cfg.model.n_layers;
  o.d_ff = ff_width(cfg.model);
  o.dropout = cfg.model.dropout;
  o.norm = std::string(config::to_string(cfg.model.norm));
  o.tie_embeddings = cfg.model.tie_embeddings;
  o.activation_checkpointing = cfg.model.activation_checkpointing;
  attention::MultiHeadOptions& a = o.attention;
  a.d_model = cfg.model.d_model;
  a.n_heads = cfg.model.n_heads;
  a.n_kv_heads = kv_heads(cfg.model);
  a.rope_theta = cfg.model.rope_theta;
  a.mask = causal_lm_mask(cfg.attention, cfg.data.seq_len, static_cast<uint64_t>(cfg.run.seed));
  a.fused = cfg.attention.impl == config::AttentionImpl::fused;
  a.scale = cfg.attention.scale;
  a.normalizer = dot_product_normalizer(cfg);
  mechanism_of(cfg).transformer_lm(cfg, o);  // its module and its own options
  return o;
}

data::SyntheticSpec synthetic_spec(const Config& cfg, std::int64_t dp_size) {
  data::SyntheticSpec s;
  s.task = std::string(config::to_string(cfg.data.task));
  s.seq_len = cfg.data.seq_len;
  s.batch_size = micro_batch_size(cfg, dp_size);  // per data-parallel rank and micro-step
  s.vocab_size = cfg.data.vocab_size;
  s.num_pairs = cfg.data.num_pairs;
  s.copy_span = cfg.data.copy_span;
  s.seed = static_cast<uint64_t>(cfg.run.seed);
  return s;
}

namespace {

// data.path is a document corpus (`attnscale prepare docs`, read as windows of tokens) or a ListOps
// file (`attnscale prepare listops`), told apart by the file's format attribute; anything else gets
// the ListOps reader's error.
std::optional<data::ListOpsBatches> listops_batches(const Config& cfg, int64_t dp_size) {
  if (cfg.data.path.empty() || data::is_doc_corpus(cfg.data.path)) return std::nullopt;
  if (cfg.data.vocab_size < data::kListOpsVocabSize)
    throw ConfigError(fmt::format("[config] data.vocab_size: {}, but the ListOps vocabulary of data.path has {} tokens",
                                  cfg.data.vocab_size, data::kListOpsVocabSize));
  return data::ListOpsBatches(data::read_listops(cfg.data.path), cfg.data.seq_len, micro_batch_size(cfg, dp_size),
                              cfg.data.pack);
}

}  // namespace

LMTask::LMTask(const Config& cfg, ParallelContext parallel)
    : task_(cfg.data.path.empty() ? std::make_optional<data::SyntheticTask>(synthetic_spec(cfg, parallel.dp_size()))
                                  : std::nullopt),
      listops_(listops_batches(cfg, parallel.dp_size())),
      eval_split_(cfg.data.eval_split == config::EvalSplit::test ? data::Split::test : data::Split::validation),
      // Its own stream per rank: the same masks on every dp rank would correlate their micro-batches.
      dropout_gen_(rank_stream_seed(static_cast<uint64_t>(cfg.run.seed) + 2 + static_cast<uint64_t>(parallel.cp_rank()),
                                    parallel)),
      parallel_(parallel) {
  int64_t vocab_size = cfg.data.vocab_size;
  if (data::is_doc_corpus(cfg.data.path)) {
    if (cfg.data.pack)
      throw ConfigError(fmt::format("[config] data.pack: packs ListOps examples; {} is a document corpus, read as "
                                    "windows of consecutive tokens already",
                                    cfg.data.path));
    corpus_ = std::make_shared<const data::DocCorpus>(data::read_doc_corpus(cfg.data.path));
    vocab_size = static_cast<int64_t>(corpus_->vocabulary.size());
    const int64_t micro = micro_batch_size(cfg, parallel_.dp_size());
    const auto seed = static_cast<uint64_t>(cfg.run.seed);
    const data::Split eval_split = eval_split_;
    train_windows_.emplace(*corpus_, data::Split::train, cfg.data.seq_len, micro, seed);
    eval_windows_.emplace(*corpus_, eval_split, cfg.data.seq_len, micro, seed);
    const int64_t available = eval_windows_->consecutive_batches() / parallel_.dp_size();
    if (cfg.train.eval_batches > available)
      throw ConfigError(fmt::format(
          "[config] train.eval_batches: {} batches of {} windows of {} tokens exceed the {} split of {} ({} tokens, "
          "{} whole batches); use at most {}",
          cfg.train.eval_batches, cfg.data.batch_size / cfg.train.accum_steps, cfg.data.seq_len,
          data::split_name(eval_split), cfg.data.path, eval_windows_->tokens(), available, available));
    LOG_INFO("{}: {} training tokens, {} {} tokens ({} unit, vocabulary {}); evaluation reads {} of its {} windows",
             cfg.data.path, train_windows_->tokens(), eval_windows_->tokens(), data::split_name(eval_split),
             data::token_unit_name(corpus_->unit), vocab_size,
             cfg.train.eval_batches * micro * parallel_.dp_size(), eval_windows_->windows());
  }
  const kernels::Layout layout(parallel_.layout, cfg.data.seq_len, parallel_.cp_size());
  models::TransformerLMOptions options = transformer_options(cfg);
  options.vocab_size = vocab_size;
  options.attention.context_parallel =
      context_parallel_group(cfg, parallel_, options.attention.mask, options.attention.normalizer);
  Generator init(static_cast<uint64_t>(cfg.run.seed));  // the same weights on every rank
  model_ = std::make_unique<models::TransformerLM>(options, init);
  model_->to(parallel_.device);
  const Mechanism& mechanism = mechanism_of(cfg);
  if (mechanism.log_built) mechanism.log_built(cfg);
  log_evaluation_ = mechanism.log_evaluation;
  log_attention_kernel(cfg, options, parallel_.device);
  std::vector<int64_t> positions(layout.local_length(parallel_.cp_rank()));
  layout.positions(parallel_.cp_rank()).fill(positions);
  local_positions_ = Tensor::from(positions, {static_cast<int64_t>(positions.size())});
}

double LMTask::chance_accuracy() const {
  if (corpus_) return 1.0 / static_cast<double>(corpus_->vocabulary.size());
  return listops_ ? 1.0 / static_cast<double>(data::kListOpsClasses) : task_->chance_accuracy();
}

// Loss and accuracy of this rank's share of a batch (its cp positions of every sequence).
BatchResult LMTask::run(const data::TokenBatch& full, bool training) {
  model_->train(training);
  // Batches are drawn on the host (a pure function of the index) and moved to the model's device.
  const Tensor inputs = index_select(full.inputs, 1, local_positions_).to(parallel_.device);
  const Tensor targets = reshape(index_select(full.targets, 1, local_positions_), {-1}).to(parallel_.device);
  const Tensor logits = model_->forward(inputs, local_positions_, dropout_gen_);
  const int64_t vocab = logits.shape().back();
  const Tensor flat_logits = reshape(logits, {-1, vocab});

  BatchResult r;
  const auto predicted = argmax(flat_logits, -1).to_vector<int64_t>();
  const auto target_ids = targets.to_vector<int64_t>();
  for (size_t i = 0; i < target_ids.size(); ++i) {
    if (target_ids[i] == data::kIgnoreIndex) continue;
    ++r.scored;
    r.correct += predicted[i] == target_ids[i];
  }
  r.tokens = inputs.numel();
  // Each rank's share of the global mean: its summed token losses over the scored tokens of all
  // ranks, so that summing losses (and gradients) over ranks gives the mean over every token.
  const GlobalMean mean = global_mean(parallel_, r.scored);
  r.set_loss({mul(cross_entropy(flat_logits, targets, data::kIgnoreIndex, Reduction::sum), mean.factor), mean.count});
  // A mechanism's own loss term (adaptive span's penalty) is the same on every rank: each adds its
  // 1/world share, so the sum over ranks counts it once.
  if (const Tensor aux = model_->auxiliary_loss(); training && aux.defined())
    r.loss = add(r.loss, mul(aux, 1.0 / static_cast<double>(parallel_.world_size())));
  return r;
}

// The micro-batch of global batch `index` that this data-parallel rank owns: sequences
// [index * dp + dp_rank) of size micro_batch, so dp ranks together see exactly the sequences one rank
// with the whole batch would see (corpus windows are drawn per sequence index, like the synthetic tasks).
BatchResult LMTask::train_batch(int64_t index) {
  const int64_t local = local_batch_index(parallel_, index);
  if (train_windows_) return run(train_windows_->random_batch(local), true);
  return run(listops_ ? listops_->train_batch(local) : task_->batch(local), true);
}

BatchResult LMTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  if (index == 0 && log_evaluation_) log_evaluation_(*model_);
  if (eval_windows_) return run(eval_windows_->consecutive_batch(local_batch_index(parallel_, index)), false);
  if (listops_) return run(listops_->eval_batch(eval_split_, local_batch_index(parallel_, index)), false);
  return run(task_->batch(local_batch_index(parallel_, kEvalBatchBase + index)), false);
}

}  // namespace attnscale::train
