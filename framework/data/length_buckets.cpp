#include "framework/data/length_buckets.h"

#include <algorithm>
#include <random>

#include "base/error.h"

namespace attnscale::data {

LengthBuckets::LengthBuckets(std::vector<int64_t> items, int64_t batch_size, int64_t bucket_batches, uint64_t seed,
                             LengthKey length, const char* where)
    : items_(std::move(items)),
      batch_size_(batch_size),
      bucket_batches_(bucket_batches),
      seed_(seed),
      length_(std::move(length)),
      where_(where) {
  ATTNSCALE_CHECK(batch_size >= 1 && bucket_batches >= 1, where, "batch_size ({}) and bucket_batches ({}) must be positive",
                  batch_size, bucket_batches);
  if (items_.empty()) throw DataError(fmt::format("[{}] nothing to batch", where));
  batches_per_epoch_ = std::max<int64_t>(1, static_cast<int64_t>(items_.size()) / batch_size);
}

std::vector<int64_t> LengthBuckets::train_batch(int64_t index) const {
  ATTNSCALE_CHECK(index >= 0, where_, "batch index must be non-negative, got {}", index);
  const int64_t epoch = index / batches_per_epoch_, in_epoch = index % batches_per_epoch_;
  const int64_t batch = batch_size_, n = static_cast<int64_t>(items_.size());
  // The epoch's order (seeded Fisher-Yates on mt19937_64, whose output the standard fixes).
  std::vector<int64_t> order = items_;
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  const int64_t used = batches_per_epoch_ * batch;
  std::vector<int64_t> epoch_items(static_cast<size_t>(used));
  for (int64_t i = 0; i < used; ++i) epoch_items[i] = order[i % n];
  // The window holding this batch, sorted by length, and the batch order inside it.
  const int64_t window = in_epoch / bucket_batches_;
  const int64_t first_batch = window * bucket_batches_;
  const int64_t window_batches = std::min(bucket_batches_, batches_per_epoch_ - first_batch);
  std::vector<int64_t> window_items(epoch_items.begin() + first_batch * batch,
                                    epoch_items.begin() + (first_batch + window_batches) * batch);
  std::stable_sort(window_items.begin(), window_items.end(),
                   [&](int64_t a, int64_t b) { return length_(a) < length_(b); });
  std::vector<int64_t> batch_order(static_cast<size_t>(window_batches));
  for (int64_t i = 0; i < window_batches; ++i) batch_order[i] = i;
  for (size_t i = batch_order.size(); i > 1; --i) std::swap(batch_order[i - 1], batch_order[rng() % i]);
  const int64_t chosen = batch_order[in_epoch - first_batch];
  return {window_items.begin() + chosen * batch, window_items.begin() + (chosen + 1) * batch};
}

int64_t LengthBuckets::eval_batches_per_pass() const {
  return (static_cast<int64_t>(items_.size()) + batch_size_ - 1) / batch_size_;
}

std::vector<int64_t> LengthBuckets::eval_batch(int64_t index) const {
  const int64_t k = index % eval_batches_per_pass(), n = static_cast<int64_t>(items_.size());
  const int64_t begin = k * batch_size_, end = std::min(n, begin + batch_size_);
  return {items_.begin() + begin, items_.begin() + end};
}

}  // namespace attnscale::data
