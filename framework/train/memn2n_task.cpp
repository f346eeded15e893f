#include "framework/train/memn2n_task.h"

#include <fmt/format.h>

#include <string>

#include "base/error.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/random.h"
#include "framework/train/data_parallel_task.h"
#include "framework/train/task_config.h"

namespace attnscale::train {

using task_config::fail;
using task_config::kEvalBatchBase;
using task_config::reject_unused;

namespace {

data::BabiTask babi_task(config::BabiTask task) {
  switch (task) {
    case config::BabiTask::single_fact: return data::BabiTask::single_fact;
    case config::BabiTask::two_facts: return data::BabiTask::two_facts;
    case config::BabiTask::three_facts: return data::BabiTask::three_facts;
  }
  return data::BabiTask::single_fact;
}

// The seed of the random-noise draws is the run's seed with these bits flipped (another stream).
constexpr uint64_t kNoiseStream = 0x9e3779b97f4a7c15ULL;

// The order of the training questions in `epoch`: a Fisher-Yates shuffle drawn from (seed, epoch).
std::vector<int64_t> epoch_order(const std::vector<int64_t>& ids, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order = ids;
  const auto n = static_cast<uint64_t>(order.size());
  for (uint64_t i = n; i > 1; --i) {
    const auto u = Generator::uniform(seed, static_cast<uint64_t>(epoch) * n + i);
    const auto j = std::min<uint64_t>(i - 1, static_cast<uint64_t>(u * static_cast<float>(i)));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace

models::MemN2NOptions memn2n_options(const Config& cfg) {
  task_config::check_model_mechanism(cfg, config::ModelType::memn2n);
  reject_unused(cfg, "data.vocab_size", cfg.data.vocab_size, DataConfig{}.vocab_size,
                "does not apply to model.type = memn2n (the bAbI tasks have their own vocabulary)");
  if (cfg.data.path.empty()) {
    reject_unused(cfg, "memn2n.eval_split", cfg.memn2n.eval_split, MemN2NConfig{}.eval_split,
                  "needs data.path (generated stories have no splits: evaluation draws unseen stories)");
    reject_unused(cfg, "memn2n.random_noise", cfg.memn2n.random_noise, MemN2NConfig{}.random_noise,
                  "needs data.path (it regularises a fixed training set; generated stories never repeat)");
  }
  const MemN2NConfig& m = cfg.memn2n;
  models::MemN2NOptions o;
  o.vocab_size = data::babi_vocab_size();
  o.dim = cfg.model.d_model;
  o.hops = m.hops;
  o.tying = m.tying == config::WeightTying::adjacent ? models::MemoryTying::adjacent : models::MemoryTying::layerwise;
  o.position_encoding = m.position_encoding;
  o.temporal_encoding = m.temporal_encoding;
  o.memory_size = m.max_sentences;
  o.pad_id = data::kBabiPadId;
  return o;
}

MemN2NTask::MemN2NTask(const Config& cfg, ParallelContext parallel)
    : parallel_(parallel),
      linear_start_steps_(cfg.memn2n.linear_start_steps),
      accum_steps_(cfg.train.accum_steps),
      micro_batch_(micro_batch_size(cfg, parallel.dp_size())),
      memory_size_(cfg.memn2n.max_sentences),
      show_attention_(cfg.memn2n.show_attention),
      random_noise_(cfg.memn2n.random_noise),
      seed_(static_cast<uint64_t>(cfg.run.seed)) {
  const models::MemN2NOptions options = memn2n_options(cfg);
  if (cfg.data.path.empty()) {
    generator_.emplace(data::BabiSpec{babi_task(cfg.memn2n.task), memory_size_, micro_batch_, seed_});
  } else {
    dataset_ = std::make_shared<const data::BabiDataset>(data::read_babi_dataset(cfg.data.path));
    if (dataset_->task != babi_task(cfg.memn2n.task))
      fail(cfg, "memn2n.task",
           fmt::format("is {} but {} holds bAbI task {} ({})", config::to_string(cfg.memn2n.task), cfg.data.path,
                       static_cast<int>(dataset_->task), data::babi_task_name(dataset_->task)));
    eval_split_ = cfg.memn2n.eval_split == config::EvalSplit::test ? data::Split::test : data::Split::validation;
    if (dataset_->split(data::Split::train).empty())
      throw DataError(fmt::format("[babi] {}: the training split is empty", cfg.data.path));
    if (dataset_->split(eval_split_).empty())
      fail(cfg, "memn2n.eval_split",
           fmt::format("the {} split of {} is empty", data::split_name(eval_split_), cfg.data.path));
  }
  Generator init(seed_);
  model_ = std::make_unique<models::MemN2N>(options, init);
}

double MemN2NTask::chance_accuracy() const { return 1.0 / static_cast<double>(data::babi_answer_ids().size()); }

bool MemN2NTask::linear_start(int64_t index) const { return index / accum_steps_ < linear_start_steps_; }

data::BabiBatch MemN2NTask::dataset_batch(const std::vector<int64_t>& questions, const data::BabiNoise& noise) const {
  std::vector<data::BabiItem> items;
  for (const int64_t q : questions) items.push_back(dataset_->item(q));
  return data::make_babi_batch(items, memory_size_, noise);
}

data::BabiBatch MemN2NTask::train_data(int64_t index) const {
  const int64_t local = local_batch_index(parallel_, index);
  if (generator_) return generator_->batch(local);
  // Position p of the training stream is question p % N of epoch p / N's order.
  const auto& train = dataset_->split(data::Split::train);
  const auto n = static_cast<int64_t>(train.size());
  std::vector<int64_t> questions, order;
  int64_t order_epoch = -1;
  for (int64_t p = local * micro_batch_; p < (local + 1) * micro_batch_; ++p) {
    if (p / n != order_epoch) order_epoch = p / n, order = epoch_order(train, seed_, order_epoch);
    questions.push_back(order[static_cast<size_t>(p % n)]);
  }
  // The noise of question e of the stream: its own counter range of a stream apart from the order's.
  const data::BabiNoise noise{random_noise_, seed_ ^ kNoiseStream,
                              static_cast<uint64_t>(local * micro_batch_) * data::kBabiNoiseDraws};
  return dataset_batch(questions, noise);
}

int64_t MemN2NTask::eval_batches_per_pass() const {
  ATTNSCALE_CHECK(dataset_ != nullptr, "memn2n", "generated stories have no evaluation split to pass over");
  const auto n = static_cast<int64_t>(dataset_->split(eval_split_).size());
  const int64_t global = micro_batch_ * parallel_.dp_size();
  return (n + global - 1) / global;
}

data::BabiBatch MemN2NTask::eval_data(int64_t index) const {
  if (generator_) return generator_->batch(local_batch_index(parallel_, kEvalBatchBase + index));
  // Global batch i of a pass holds split positions [i G, min(N, (i + 1) G)); the ranks share it
  // evenly. Batches beyond a pass start the split again.
  const auto& split = dataset_->split(eval_split_);
  const auto n = static_cast<int64_t>(split.size());
  const int64_t global = micro_batch_ * parallel_.dp_size(), dp = parallel_.dp_size(), rank = parallel_.dp_rank();
  const int64_t start = (index % eval_batches_per_pass()) * global, size = std::min(global, n - start);
  const int64_t first = start + rank * size / dp, last = start + (rank + 1) * size / dp;
  ATTNSCALE_CHECK(last > first, "memn2n",
                  "evaluation batch {} of the {} split has {} questions, fewer than the {} data-parallel ranks",
                  index, data::split_name(eval_split_), size, dp);
  return dataset_batch(std::vector<int64_t>(split.begin() + first, split.begin() + last));
}

BatchResult MemN2NTask::run(const data::BabiBatch& batch, bool training, bool linear) {
  model_->train(training);
  const models::MemN2NOutput out = model_->forward(batch.story, batch.story_lengths, batch.question, linear);
  BatchResult r;
  r.set_loss(cross_entropy_share(parallel_, out.logits, batch.answer));
  const auto predicted = argmax(out.logits, -1).to_vector<int64_t>();
  const auto answers = batch.answer.to_vector<int64_t>();
  for (size_t b = 0; b < answers.size(); ++b) r.correct += predicted[b] == answers[b];
  r.scored = static_cast<int64_t>(answers.size());
  r.tokens = batch.story.numel() + batch.question.numel();
  return r;
}

BatchResult MemN2NTask::train_batch(int64_t index) { return run(train_data(index), true, linear_start(index)); }

BatchResult MemN2NTask::eval_batch(int64_t index) {
  autograd::NoGradGuard no_grad;
  const data::BabiBatch batch = eval_data(index);
  if (index == 0 && show_attention_ > 0 && parallel_.dp_rank() == 0) {
    model_->eval();
    show_attention(batch, model_->forward(batch.story, batch.story_lengths, batch.question, false));
  }
  return run(batch, false, false);
}

// Each question's memory, one statement a line with every hop's weight; '*' marks a supporting fact.
void MemN2NTask::show_attention(const data::BabiBatch& batch, const models::MemN2NOutput& out) const {
  const int64_t slots = batch.story.shape()[1], shown = std::min(show_attention_, batch.story.shape()[0]);
  const auto story = batch.story.to_vector<int64_t>(), lengths = batch.story_lengths.to_vector<int64_t>(),
             question = batch.question.to_vector<int64_t>(), answer = batch.answer.to_vector<int64_t>(),
             supporting = batch.supporting.to_vector<int64_t>(),
             predicted = argmax(out.logits, -1).to_vector<int64_t>();
  std::vector<std::vector<double>> weights;
  for (const Tensor& w : out.hop_weights) weights.push_back(w.to(DType::f64).to_vector<double>());
  const auto words = [](const std::vector<int64_t>& ids, int64_t at, int64_t width) {
    return data::babi_text(std::span<const int64_t>(ids).subspan(static_cast<size_t>(at), static_cast<size_t>(width)));
  };
  const auto& vocab = data::babi_vocabulary();
  for (int64_t b = 0; b < shown; ++b) {
    std::string text = fmt::format("[memn2n] question {}: {}? answer {}, predicted {}\n  slot", b,
                                   words(question, b * data::kBabiQuestionWords, data::kBabiQuestionWords),
                                   vocab[static_cast<size_t>(answer[b])], vocab[static_cast<size_t>(predicted[b])]);
    for (size_t k = 0; k < weights.size(); ++k) text += fmt::format("  hop{}", k + 1);
    text += "  statement\n";
    for (int64_t s = 0; s < lengths[b]; ++s) {
      text += fmt::format("  {:4}", s);
      for (const auto& w : weights) text += fmt::format("  {:4.2f}", w[static_cast<size_t>(b * slots + s)]);
      bool support = false;
      for (int64_t k = 0; k < data::kBabiMaxSupport; ++k) support = support || supporting[b * data::kBabiMaxSupport + k] == s;
      text += fmt::format("  {}{}\n", words(story, (b * slots + s) * data::kBabiSentenceWords, data::kBabiSentenceWords),
                          support ? " *" : "");
    }
    fmt::print("{}", text);
  }
  std::fflush(stdout);
}

}  // namespace attnscale::train
