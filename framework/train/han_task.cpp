#include "framework/train/han_task.h"

#include "framework/core/autograd/node.h"
#include "framework/data/doc_synthetic.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"

namespace attnscale::train {

data::DocCorpus load_han_corpus(const Config& cfg) {
  if (!cfg.data.path.empty()) return data::read_doc_corpus(cfg.data.path);
  const HanConfig& h = cfg.han;
  data::SyntheticDocSpec spec;
  spec.vocab_size = cfg.data.vocab_size;
  spec.num_classes = h.num_classes;
  spec.train_docs = h.train_docs;
  spec.eval_docs = h.eval_docs;
  spec.min_sentences = h.synth_min_sentences;
  spec.max_sentences = h.synth_max_sentences;
  spec.min_words = h.synth_min_words;
  spec.max_words = h.synth_max_words;
  spec.seed = static_cast<uint64_t>(cfg.run.seed);
  try {
    return data::make_synthetic_documents(spec);
  } catch (const UsageError& e) {
    throw ConfigError(fmt::format("[config] han synthetic task (data.vocab_size, han.*): {}", e.what()));
  }
}

models::HANOptions han_options(const Config& cfg, const data::DocCorpus& corpus) {
  const HanConfig& h = cfg.han;
  models::HANOptions o;
  o.vocab_size = static_cast<int64_t>(corpus.vocabulary.size());
  o.num_classes = static_cast<int64_t>(corpus.label_names.size());
  o.hidden_size = cfg.model.d_model;
  o.embed_dim = h.embed_dim > 0 ? h.embed_dim : cfg.model.d_model;
  o.attn_dim = h.attn_dim > 0 ? h.attn_dim : 2 * cfg.model.d_model;
  o.pooling = h.pooling == config::HanPooling::attention ? attention::PoolingKind::attention
              : h.pooling == config::HanPooling::average ? attention::PoolingKind::average
                                                         : attention::PoolingKind::max;
  using models::SentenceEncoderKind;
  o.sentence_encoder = h.sentence_encoder == config::SentenceEncoder::gru           ? SentenceEncoderKind::gru
                       : h.sentence_encoder == config::SentenceEncoder::transformer ? SentenceEncoderKind::transformer
                                                                                    : SentenceEncoderKind::none;
  o.sentence_heads = h.sentence_heads;
  o.sentence_layers = h.sentence_layers;
  o.dropout = cfg.model.dropout;
  if (o.num_classes < 2)
    throw DataError(fmt::format("[han] the corpus has {} label(s); classification needs at least 2", o.num_classes));
  if (cfg.parallel.cp > 1 && o.sentence_encoder == models::SentenceEncoderKind::gru)
    throw ConfigError(fmt::format(
        "[config] han.sentence_encoder: gru cannot spread a document's sentences over parallel.cp = {} ranks "
        "(the recurrence would run them one after another); use transformer or none",
        cfg.parallel.cp));
  if (o.sentence_encoder == models::SentenceEncoderKind::transformer && (2 * o.hidden_size) % o.sentence_heads != 0)
    throw ConfigError(fmt::format(
        "[config] han.sentence_heads: {} does not divide the sentence vector size 2 * model.d_model = {}",
        o.sentence_heads, 2 * o.hidden_size));
  if (cfg.parallel.cp > 1 && cfg.run.device == config::RunDevice::cuda)
    throw ConfigError(fmt::format(
        "[config] parallel.cp: han merges its sentence attention across the cp ranks in host memory, not on a GPU "
        "yet; with run.device = cuda set parallel.cp = 1 (got {})",
        cfg.parallel.cp));
  if (cfg.parallel.cp > 1 && o.pooling == attention::PoolingKind::max)
    throw ConfigError(fmt::format(
        "[config] han.pooling: max has no softmax state to merge over parallel.cp = {} ranks; use attention or average",
        cfg.parallel.cp));
  if (cfg.parallel.ulysses != 1)
    throw ConfigError("[config] parallel.ulysses: han spreads sentences over the cp group and has no heads to split; "
                      "set it to 1");
  return o;
}

HanTask::HanTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel),
      corpus_(std::make_shared<const data::DocCorpus>(load_han_corpus(cfg))),
      // Word dropout differs on every rank (each holds other sentences); document dropout is shared by
      // the cp ranks of a replica (they hold the same documents). The rank sits in the high bits so
      // that no rank's word stream is another's document stream; rank 0 keeps the one-rank seeds.
      word_gen_(static_cast<uint64_t>(cfg.run.seed) + 2 +
                (static_cast<uint64_t>(parallel.world ? parallel.world->rank() : 0) << 32)),
      document_gen_(static_cast<uint64_t>(cfg.run.seed) + 3 + (static_cast<uint64_t>(parallel.dp_rank()) << 32)) {
  batch_spec_.batch_size = micro_batch_size(cfg, parallel_.dp_size()) * parallel_.dp_size();  // one micro-step, all dp ranks
  batch_spec_.bucket_batches = cfg.han.bucket_batches;
  batch_spec_.max_sentences = cfg.han.max_sentences;
  batch_spec_.max_words = cfg.han.max_words;
  batch_spec_.seed = static_cast<uint64_t>(cfg.run.seed);
  // Training batches are drawn at the optimizer step's size and cut into its accumulation parts
  // (train_batch), so that accumulating k parts sees the documents one batch of data.batch_size
  // would: batches drawn at the part's size would bucket and shuffle other documents together.
  accum_steps_ = cfg.train.accum_steps;
  data::DocBatchSpec step_spec = batch_spec_;
  step_spec.batch_size = batch_spec_.batch_size * accum_steps_;
  train_batcher_ = std::make_unique<data::DocBatcher>(*corpus_, data::Split::train, step_spec);
  const auto eval_split = cfg.han.eval_split == config::EvalSplit::test ? data::Split::test : data::Split::validation;
  eval_batcher_ = std::make_unique<data::DocBatcher>(*corpus_, eval_split, batch_spec_);
  Generator init(static_cast<uint64_t>(cfg.run.seed));
  model_ = std::make_unique<models::HAN>(han_options(cfg, *corpus_), init);
  model_->to(parallel_.device);
}

double HanTask::chance_accuracy() const { return 1.0 / static_cast<double>(corpus_->label_names.size()); }

models::HANInput han_input(const data::DocBatch& b) {
  return {b.words,          b.word_lengths, b.word_mask, b.sentence_index, b.sentence_lengths,
          b.sentence_mask,  b.documents,    b.max_sentences};
}

data::DocBatch HanTask::local_batch(const std::vector<int64_t>& docs) const {
  data::DocBatch batch = data::make_doc_batch(*corpus_, docs, batch_spec_, parallel_.dp_rank(), parallel_.dp_size(),
                                             parallel_.cp_rank(), parallel_.cp_size(), DType::f32);
  // Drawn on the host; what the model's ops read moves to its device (lengths stay host metadata).
  for (Tensor* t : {&batch.words, &batch.word_mask, &batch.sentence_index, &batch.sentence_mask, &batch.labels})
    *t = t->to(parallel_.device);
  return batch;
}

BatchResult HanTask::run(const std::vector<int64_t>& docs, bool training) {
  model_->train(training);
  const data::DocBatch batch = local_batch(docs);
  Communicator* sentence_group = parallel_.grid && parallel_.cp_size() > 1 ? &parallel_.grid->cp() : nullptr;
  const Tensor logits = model_->forward(han_input(batch), word_gen_, document_gen_, sentence_group);
  BatchResult r;
  r.tokens = batch.tokens;
  // Every rank of a cp group holds the same documents' logits: only the first counts them.
  if (parallel_.cp_rank() == 0) {
    const auto predicted = argmax(logits, -1).to_vector<int64_t>();
    const auto labels = batch.labels.to_vector<int64_t>();
    for (size_t i = 0; i < labels.size(); ++i) r.correct += predicted[i] == labels[i];
    r.scored = static_cast<int64_t>(labels.size());
  }
  // Share of the global mean: summed over the dp ranks' documents and the cp copies of each.
  const double denominator = static_cast<double>(docs.size()) * static_cast<double>(parallel_.cp_size());
  r.set_loss({mul(cross_entropy(logits, batch.labels, -100, Reduction::sum), 1.0 / denominator),
              static_cast<int64_t>(docs.size())});
  return r;
}

BatchResult HanTask::train_batch(int64_t index) {
  const std::vector<int64_t> step_docs = train_batcher_->train_batch(index / accum_steps_);
  const auto part = static_cast<std::ptrdiff_t>(batch_spec_.batch_size);
  const auto begin = step_docs.begin() + (index % accum_steps_) * part;
  return run(std::vector<int64_t>(begin, begin + part), true);
}

BatchResult HanTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  return run(eval_batcher_->eval_batch(index), false);
}

}  // namespace attnscale::train
