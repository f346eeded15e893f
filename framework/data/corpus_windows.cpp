#include "framework/data/corpus_windows.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/data/counter_draws.h"

namespace attnscale::data {

CorpusWindows::CorpusWindows(const DocCorpus& corpus, Split split, int64_t seq_len, int64_t batch_size, uint64_t seed)
    : seq_len_(seq_len), batch_size_(batch_size), seed_(seed) {
  ATTNSCALE_CHECK(seq_len >= 1 && batch_size >= 1, "corpus_windows", "seq_len ({}) and batch_size ({}) must be positive",
                  seq_len, batch_size);
  for (const int64_t d : corpus.split(split))
    for (int64_t s = corpus.document_offsets[d]; s < corpus.document_offsets[d + 1]; ++s) {
      const auto sentence = corpus.sentence(s);
      stream_.insert(stream_.end(), sentence.begin(), sentence.end());
    }
  if (tokens() < seq_len + 1)
    throw DataError(fmt::format("[corpus_windows] the {} split holds {} tokens; a window of data.seq_len = {} needs {}",
                                split_name(split), tokens(), seq_len, seq_len + 1));
}

TokenBatch CorpusWindows::batch_at(const std::vector<int64_t>& starts) const {
  const int64_t b = static_cast<int64_t>(starts.size()), n = seq_len_;
  Tensor inputs = Tensor::empty({b, n}, DType::i64), targets = Tensor::empty({b, n}, DType::i64);
  for (int64_t s = 0; s < b; ++s) {
    const int64_t* from = stream_.data() + starts[s];
    std::copy(from, from + n, inputs.data<int64_t>() + s * n);
    std::copy(from + 1, from + n + 1, targets.data<int64_t>() + s * n);
  }
  return {inputs, targets};
}

TokenBatch CorpusWindows::random_batch(int64_t index) const {
  std::vector<int64_t> starts(batch_size_);
  for (int64_t s = 0; s < batch_size_; ++s)
    starts[s] = CounterDraws(seed_, static_cast<uint64_t>(index * batch_size_ + s)).below(tokens() - seq_len_);
  return batch_at(starts);
}

TokenBatch CorpusWindows::consecutive_batch(int64_t index) const {
  ATTNSCALE_CHECK(index >= 0 && index < consecutive_batches(), "corpus_windows",
                  "evaluation batch {} does not exist: {} tokens make {} windows of {}, {} whole batches of {}", index,
                  tokens(), windows(), seq_len_, consecutive_batches(), batch_size_);
  std::vector<int64_t> starts(batch_size_);
  for (int64_t s = 0; s < batch_size_; ++s) starts[s] = (index * batch_size_ + s) * seq_len_;
  return batch_at(starts);
}

}  // namespace attnscale::data
