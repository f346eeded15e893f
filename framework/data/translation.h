// A synthetic translation task for encoder-decoder models: a source sentence of random words,
// variable length in [min_len, max_len], and its translation: every word mapped through a fixed
// random dictionary (a bijection of the words, drawn from the seed), in the same or the reversed
// order, then eos. The decoder must find the aligned source word (cross-attention), far away for
// the reversed order, and translate it. Batch i is a pure function of (seed, i), like
// framework/data/synthetic.h; source rows are right-padded to max_len.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

// Token ids of the task: 0 pad, 1 bos, 2 eos; words are first_word .. vocab_size - 1.
struct TranslationTokens {
  static constexpr int64_t pad = 0, bos = 1, eos = 2, first_word = 3;
};

struct TranslationSpec {
  bool reversed = true;
  int64_t min_len = 4;
  int64_t max_len = 12;
  int64_t batch_size = 16;
  int64_t vocab_size = 16;  // including the three special ids
  uint64_t seed = 1234;
};

struct TranslationBatch {
  Tensor source;                     // int64 [B, max_len], pad after each sentence
  std::vector<int32_t> source_valid; // [B * max_len], 1 = a word, 0 = padding
  Tensor target_inputs;              // int64 [B, max_len + 1]: bos y_1 .. y_L, then pad
  Tensor targets;                    // int64 [B, max_len + 1]: y_1 .. y_L eos, then kIgnoreIndex
};

class TranslationTask {
 public:
  explicit TranslationTask(const TranslationSpec& spec);  // UsageError "[data] ..." on bad sizes
  TranslationBatch batch(int64_t index) const;
  const TranslationSpec& spec() const { return spec_; }
  // The dictionary: translation of word w is dictionary()[w - first_word].
  const std::vector<int64_t>& dictionary() const { return dictionary_; }
  // Token accuracy of guessing uniformly among the words and eos.
  double chance_accuracy() const;

 private:
  TranslationSpec spec_;
  std::vector<int64_t> dictionary_;
};

}  // namespace attnscale::data
