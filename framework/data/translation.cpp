#include "framework/data/translation.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "framework/data/counter_draws.h"
#include "framework/data/synthetic.h"

namespace attnscale::data {

TranslationTask::TranslationTask(const TranslationSpec& spec) : spec_(spec) {
  using T = TranslationTokens;
  ATTNSCALE_CHECK(spec.min_len >= 1 && spec.min_len <= spec.max_len, "data",
                  "translation needs 1 <= min_len <= max_len, got min_len {} and max_len {}", spec.min_len, spec.max_len);
  ATTNSCALE_CHECK(spec.vocab_size >= T::first_word + 2, "data",
                  "translation needs vocab_size >= {} (pad, bos, eos and two words), got {}", T::first_word + 2,
                  spec.vocab_size);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "data", "batch_size must be >= 1, got {}", spec.batch_size);
  // The dictionary is a random permutation of the words (Fisher-Yates on stream 0 of its own seed).
  const int64_t words = spec.vocab_size - T::first_word;
  dictionary_.resize(static_cast<size_t>(words));
  std::iota(dictionary_.begin(), dictionary_.end(), T::first_word);
  CounterDraws draws(spec.seed ^ 0xA5A5A5A5ull, 0);
  for (int64_t i = words - 1; i > 0; --i) std::swap(dictionary_[i], dictionary_[draws.below(i + 1)]);
}

TranslationBatch TranslationTask::batch(int64_t index) const {
  using T = TranslationTokens;
  const int64_t b = spec_.batch_size, s = spec_.max_len, t = s + 1, words = spec_.vocab_size - T::first_word;
  TranslationBatch out{Tensor::full({b, s}, T::pad, DType::i64), std::vector<int32_t>(b * s, 0),
                       Tensor::full({b, t}, T::pad, DType::i64), Tensor::full({b, t}, kIgnoreIndex, DType::i64)};
  int64_t* src = out.source.data<int64_t>();
  int64_t* tin = out.target_inputs.data<int64_t>();
  int64_t* tgt = out.targets.data<int64_t>();
  for (int64_t row = 0; row < b; ++row) {
    CounterDraws draws(spec_.seed, static_cast<uint64_t>(index * b + row) + 1);
    const int64_t len = spec_.min_len + draws.below(spec_.max_len - spec_.min_len + 1);
    for (int64_t i = 0; i < len; ++i) {
      src[row * s + i] = T::first_word + draws.below(words);
      out.source_valid[row * s + i] = 1;
    }
    tin[row * t] = T::bos;
    for (int64_t i = 0; i < len; ++i) {
      const int64_t word = src[row * s + (spec_.reversed ? len - 1 - i : i)];
      tgt[row * t + i] = dictionary_[word - T::first_word];
      tin[row * t + i + 1] = tgt[row * t + i];
    }
    tgt[row * t + len] = T::eos;
  }
  return out;
}

double TranslationTask::chance_accuracy() const {
  return 1.0 / static_cast<double>(spec_.vocab_size - TranslationTokens::first_word + 1);
}

}  // namespace attnscale::data
