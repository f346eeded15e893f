// Language-model batches cut from a prepared corpus (doc_store.h, `attnscale prepare docs`, word or
// character unit): the documents of one split, in the order the split lists them, read back to back
// as one token stream. A window is seq_len input tokens and, as targets, the token after each.
//   random_batch(i)       batch_size windows starting at positions drawn from (seed, i): training.
//                         Batch i is a pure function of i, like the synthetic tasks' batches.
//   consecutive_batch(i)  windows i * batch_size .. (i + 1) * batch_size - 1 of the stream cut into
//                         non-overlapping windows: evaluation, every token scored at most once.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/data/doc_store.h"
#include "framework/data/synthetic.h"

namespace attnscale::data {

class CorpusWindows {
 public:
  // DataError when the split holds fewer than seq_len + 1 tokens.
  CorpusWindows(const DocCorpus& corpus, Split split, int64_t seq_len, int64_t batch_size, uint64_t seed);

  TokenBatch random_batch(int64_t index) const;
  TokenBatch consecutive_batch(int64_t index) const;  // UsageError past the last whole batch

  int64_t tokens() const { return static_cast<int64_t>(stream_.size()); }
  int64_t windows() const { return (tokens() - 1) / seq_len_; }  // non-overlapping windows
  int64_t consecutive_batches() const { return windows() / batch_size_; }

 private:
  TokenBatch batch_at(const std::vector<int64_t>& starts) const;

  std::vector<int64_t> stream_;
  int64_t seq_len_, batch_size_;
  uint64_t seed_;
};

}  // namespace attnscale::data
