// data.path = a pair corpus (`attnscale prepare pairs`) for the encoder-decoder model types
// (seq2seq, encoder_decoder): this rank's share of the training and evaluation batches, read from
// the file a batch at a time (data/pair_batches.h), in place of the synthetic task.
// Training batch i is global micro-batch i of the training split (data.batch_size /
// train.accum_steps pairs, length-bucketed, seeded by run.seed); evaluation batch i is the i-th
// batch of data.eval_split in order. Pairs longer than `max_len` tokens on either side (the
// model's seq2seq.max_len / encoder_decoder.max_len) are left out of both, and logged.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "framework/config/config.h"
#include "framework/data/pair_batches.h"
#include "framework/train/parallel_context.h"

namespace attnscale::train {

class PairData {
 public:
  // DataError for a file that is not a pair corpus, or a split with no pair of at most max_len.
  PairData(const Config& cfg, const ParallelContext& parallel, std::int64_t max_len);

  data::TransductionBatch train_batch(std::int64_t index) const;
  data::TransductionBatch eval_batch(std::int64_t index) const;
  // The pair ids of this rank's rows of eval_batch(index), in row order: their texts
  // (store().texts(PairSide::target, ...)) are the references a decoded batch is scored against,
  // and store().model(PairSide::target).decode(ids) turns a model's output row into text.
  std::vector<std::int64_t> eval_pairs(std::int64_t index) const;
  // Evaluation batches that visit every pair of data.eval_split once (the last may be shorter).
  std::int64_t eval_batches_per_pass() const { return eval_.eval_batches_per_pass(); }
  // The model's vocabulary: source and target ids share one id space, as large as the larger side.
  std::int64_t vocab_size() const;
  // Token accuracy of guessing uniformly among the target pieces (pad and bos are never targets).
  double chance_accuracy() const;
  const data::PairStore& store() const { return *store_; }
  data::Split eval_split() const { return eval_split_; }

 private:
  ParallelContext parallel_;
  std::unique_ptr<const data::PairStore> store_;
  data::Split eval_split_;
  data::PairBatcher train_, eval_;
};

}  // namespace attnscale::train
