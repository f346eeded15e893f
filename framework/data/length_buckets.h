// The batch schedule of a fixed set of examples (documents for HAN, sentence pairs for translation):
// length-bucketed, shuffled training batches and in-order evaluation batches, each a pure function
// of the seed and the batch index.
//
// Training batch i: epoch e = i / batches_per_epoch takes the items shuffled with (seed, e); the
// shuffled order is cut into windows of bucket_batches * batch_size items, each window is sorted by
// the items' length key and cut into batches, and the batches of a window are visited in a
// shuffled order. So a batch holds items of similar length (little padding) while every item is
// seen once per epoch (a set smaller than a batch wraps round).
// Evaluation batch i: the items in order, batch_size at a time, wrapping round; the last batch of a
// pass may be shorter so no item counts twice in a pass.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

namespace attnscale::data {

class LengthBuckets {
 public:
  // The length key of an item: batches group items whose keys sort close together.
  using LengthKey = std::function<std::pair<int64_t, int64_t>(int64_t item)>;

  // UsageError "[where] ..." for a non-positive batch_size or bucket_batches; DataError when
  // `items` is empty.
  LengthBuckets(std::vector<int64_t> items, int64_t batch_size, int64_t bucket_batches, uint64_t seed,
                LengthKey length, const char* where);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  std::vector<int64_t> train_batch(int64_t index) const;
  std::vector<int64_t> eval_batch(int64_t index) const;
  int64_t eval_batches_per_pass() const;
  const std::vector<int64_t>& items() const { return items_; }

 private:
  std::vector<int64_t> items_;
  int64_t batch_size_, bucket_batches_;
  uint64_t seed_;
  LengthKey length_;
  int64_t batches_per_epoch_;
  const char* where_;
};

}  // namespace attnscale::data
