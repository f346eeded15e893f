// Batches of sentence pairs from a pair corpus (pair_store.h) for the encoder-decoder models:
// which pairs form batch i (length_buckets.h with a pair's length = (source, target) tokens), and
// this rank's share of a batch as the tensors the synthetic transduction task gives
// (transduction.h): source right-padded with 0, target inputs bos y_1 .. y_L, target outputs
// y_1 .. y_L eos then kIgnoreIndex. Only the batch's pairs are read from the file.
//
// Pairs longer than max_len tokens on either side are left out of every batch (the models have a
// longest sequence; the paper reproductions cut long sentences the same way), and counted.
// Sharding: data-parallel rank r of dp takes pairs [r B / dp, (r + 1) B / dp) of the global
// batch, so the ranks together hold exactly the batch one rank would take, whatever their count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "framework/data/length_buckets.h"
#include "framework/data/pair_store.h"
#include "framework/data/transduction.h"

namespace attnscale::data {

struct PairBatchSpec {
  int64_t batch_size = 32;     // pairs per global (micro-)batch
  int64_t bucket_batches = 16;
  int64_t max_len = 0;         // longest kept pair side in tokens (eos not counted); 0 = no limit
  uint64_t seed = 1234;
};

class PairBatcher {
 public:
  // DataError when no pair of the split fits max_len.
  PairBatcher(const PairStore& store, Split split, const PairBatchSpec& spec);

  int64_t pairs() const { return static_cast<int64_t>(buckets_.items().size()); }
  int64_t left_out() const { return left_out_; }  // pairs of the split longer than max_len
  int64_t batches_per_epoch() const { return buckets_.batches_per_epoch(); }
  std::vector<int64_t> train_batch(int64_t index) const { return buckets_.train_batch(index); }
  std::vector<int64_t> eval_batch(int64_t index) const { return buckets_.eval_batch(index); }
  int64_t eval_batches_per_pass() const { return buckets_.eval_batches_per_pass(); }

 private:
  int64_t left_out_ = 0;
  LengthBuckets buckets_;
};

// Data-parallel rank dp_rank's share of the global batch `pairs`: [r B / dp, (r + 1) B / dp).
// UsageError when it is empty (fewer pairs than ranks).
std::span<const int64_t> rank_share(std::span<const int64_t> pairs, int dp_rank, int dp_size);

// The tensors of that share, read from the store.
TransductionBatch make_pair_batch(const PairStore& store, std::span<const int64_t> pairs, int dp_rank, int dp_size);

}  // namespace attnscale::data
