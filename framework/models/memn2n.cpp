#include "framework/models/memn2n.h"

#include <algorithm>
#include <optional>
#include <string>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {
namespace {

constexpr const char* kModel = "memn2n";

}  // namespace

MemN2N::MemN2N(const MemN2NOptions& options, Generator& gen, DType dtype) : options_(options), dtype_(dtype) {
  const MemN2NOptions& o = options_;
  ATTNSCALE_CHECK(o.vocab_size >= 2 && o.pad_id >= 0 && o.pad_id < o.vocab_size, kModel,
                  "option vocab_size ({}) must be >= 2 and hold pad_id ({})", o.vocab_size, o.pad_id);
  ATTNSCALE_CHECK(o.dim >= 1, kModel, "option dim must be >= 1, got {}", o.dim);
  ATTNSCALE_CHECK(o.hops >= 1, kModel, "option hops must be >= 1, got {}", o.hops);
  ATTNSCALE_CHECK(o.memory_size >= 1, kModel, "option memory_size must be >= 1, got {}", o.memory_size);
  const bool adjacent = o.tying == MemoryTying::adjacent;
  const int64_t tables = adjacent ? o.hops + 1 : 3;
  const char* layerwise_names[] = {"A", "C", "B"};
  for (int64_t i = 0; i < tables; ++i) {
    const std::string name = adjacent ? "embed." + std::to_string(i) : std::string("embed.") + layerwise_names[i];
    tables_.push_back(
        register_module(name, std::make_shared<nn::Embedding>(o.vocab_size, o.dim, gen, o.init_std, dtype)));
  }
  if (o.temporal_encoding) {
    const int64_t temporal_tables = adjacent ? o.hops + 1 : 2;
    for (int64_t i = 0; i < temporal_tables; ++i) {
      const std::string name =
          adjacent ? "temporal." + std::to_string(i) : std::string("temporal.") + layerwise_names[i];
      temporal_.push_back(
          register_module(name, std::make_shared<nn::Embedding>(o.memory_size, o.dim, gen, o.init_std, dtype)));
    }
  }
  if (!adjacent)
    answer_ = register_module("answer", std::make_shared<nn::Linear>(o.dim, o.vocab_size, false, gen, dtype));
  attention_ = register_module(
      "attention", std::make_shared<attention::MemoryAttention>(
                       attention::MemoryAttentionOptions{o.dim, o.hops, /*query_map=*/!adjacent}, gen, dtype));
}

Tensor MemN2N::word_weights(const Tensor& ids) const {
  ATTNSCALE_CHECK(ids.dtype() == DType::i64 && ids.dim() >= 1, kModel, "word ids must be int64 [..., W], got {} {}",
                  dtype_name(ids.dtype()), shape_str(ids.shape()));
  const auto words = ids.contiguous().to_vector<int64_t>();
  const int64_t width = ids.shape().back(), sentences = ids.numel() / std::max<int64_t>(width, 1);
  const int64_t d = options_.position_encoding ? options_.dim : 1;
  std::vector<double> weights(static_cast<size_t>(sentences * width * d), 0.0);
  for (int64_t s = 0; s < sentences; ++s) {
    int64_t count = 0;  // J: the sentence's words
    for (int64_t j = 0; j < width; ++j) count += words[static_cast<size_t>(s * width + j)] != options_.pad_id;
    int64_t position = 0;
    for (int64_t j = 0; j < width; ++j) {
      if (words[static_cast<size_t>(s * width + j)] == options_.pad_id) continue;
      ++position;  // 1-based j among the words
      for (int64_t k = 1; k <= d; ++k) {
        const double jj = static_cast<double>(position) / static_cast<double>(count);
        const double kk = static_cast<double>(k) / static_cast<double>(d);
        weights[static_cast<size_t>((s * width + j) * d + k - 1)] =
            options_.position_encoding ? (1.0 - jj) - kk * (1.0 - 2.0 * jj) : 1.0;
      }
    }
  }
  Shape shape = ids.shape();
  shape.push_back(d);
  return Tensor::from(weights, shape).to(dtype_);
}

Tensor MemN2N::embed_memory(const nn::Embedding& table, const nn::Embedding* temporal, const Tensor& story,
                            const Tensor& weights, const Tensor& ages) const {
  Tensor memory = sum(mul(table.forward(story), weights), {2});  // [B, M, d]
  if (temporal) memory = add(memory, temporal->forward(ages));
  return memory;
}

MemN2NOutput MemN2N::forward(const Tensor& story, const Tensor& story_lengths, const Tensor& question,
                             bool linear_start) const {
  ATTNSCALE_CHECK(story.dtype() == DType::i64 && story.dim() == 3, kModel, "story must be int64 [B, M, W], got {} {}",
                  dtype_name(story.dtype()), shape_str(story.shape()));
  const int64_t batch = story.shape()[0], slots = story.shape()[1];
  ATTNSCALE_CHECK(question.dtype() == DType::i64 && question.dim() == 2 && question.shape()[0] == batch, kModel,
                  "question must be int64 [{}, Wq], got {} {}", batch, dtype_name(question.dtype()),
                  shape_str(question.shape()));
  ATTNSCALE_CHECK(slots <= options_.memory_size, kModel, "the story has {} sentences but option memory_size is {}",
                  slots, options_.memory_size);
  ATTNSCALE_CHECK(
      story_lengths.defined() && story_lengths.dtype() == DType::i64 && story_lengths.shape() == Shape({batch}), kModel,
      "story lengths must be int64 [{}]", batch);
  // Age of sentence i of a story of n sentences: n - 1 - i (0 = most recent); padded slots use row 0.
  const auto lengths = story_lengths.to_vector<int64_t>();
  std::vector<int64_t> ages(static_cast<size_t>(batch * slots), 0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < std::min(lengths[static_cast<size_t>(b)], slots); ++i)
      ages[static_cast<size_t>(b * slots + i)] = lengths[static_cast<size_t>(b)] - 1 - i;
  const Tensor age_ids = Tensor::from(ages, {batch, slots});
  const Tensor story_weights = word_weights(story);

  const bool adjacent = options_.tying == MemoryTying::adjacent;
  const auto temporal = [&](size_t i) { return temporal_.empty() ? nullptr : temporal_[i].get(); };
  std::vector<attention::SourceMemory> hops;
  // Layer-wise tying embeds the story once: every hop reads the same memories.
  std::optional<attention::SourceMemory> shared;
  for (int64_t k = 0; k < options_.hops; ++k) {
    if (!adjacent && shared) {
      hops.push_back(*shared);
      continue;
    }
    const size_t a = adjacent ? static_cast<size_t>(k) : 0, c = adjacent ? static_cast<size_t>(k + 1) : 1;
    hops.push_back(attention_->hop_memory(embed_memory(*tables_[a], temporal(a), story, story_weights, age_ids),
                                          embed_memory(*tables_[c], temporal(c), story, story_weights, age_ids),
                                          story_lengths));
    if (!adjacent) shared = hops.back();
  }
  const nn::Embedding& question_table = adjacent ? *tables_.front() : *tables_[2];
  const Tensor u = sum(mul(question_table.forward(question), word_weights(question)), {1});  // [B, d]
  attention::MemoryReadout readout = attention_->read(u, hops, linear_start);
  MemN2NOutput out;
  out.logits =
      adjacent ? matmul(readout.state, transpose(tables_.back()->weight(), 0, 1)) : answer_->forward(readout.state);
  out.hop_weights = std::move(readout.weights);
  return out;
}

}  // namespace attnscale::models
