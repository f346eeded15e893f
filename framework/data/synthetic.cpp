#include "framework/data/synthetic.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "framework/core/tensor/random.h"

namespace attnscale::data {
namespace {

// Deterministic integer draws for one sequence: counter-based, so sequence s of batch i is the
// same whatever was drawn before.
class SequenceRng {
 public:
  SequenceRng(uint64_t seed, uint64_t stream) : seed_(seed ^ (stream * 0x9E3779B97F4A7C15ull)) {}
  int64_t below(int64_t n) { return static_cast<int64_t>(Generator::uniform(seed_, counter_++) * n) % n; }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

// Multi-query associative recall (Arora et al. 2023, "Zoology"): pairs k1 v1 ... kP vP, then
// queries "k v" for keys drawn from the pairs; the model must predict v at each query key.
// Keys come from the lower half of the vocabulary (token 0 excluded), values from the upper half.
void associative_recall(const SyntheticSpec& s, SequenceRng& rng, int64_t* in, int64_t* tgt) {
  const int64_t n = s.seq_len, half = s.vocab_size / 2;
  std::vector<int64_t> keys(half - 1);
  std::iota(keys.begin(), keys.end(), 1);
  for (int64_t i = 0; i < s.num_pairs; ++i) std::swap(keys[i], keys[i + rng.below(half - 1 - i)]);
  std::vector<int64_t> values(s.num_pairs);
  for (auto& v : values) v = half + rng.below(s.vocab_size - half);
  std::fill_n(tgt, n, kIgnoreIndex);
  int64_t t = 0;
  for (int64_t i = 0; i < s.num_pairs && t + 1 < n; ++i, t += 2) in[t] = keys[i], in[t + 1] = values[i];
  for (; t + 1 < n; t += 2) {
    const int64_t q = rng.below(s.num_pairs);
    in[t] = keys[q], in[t + 1] = values[q];
    tgt[t] = values[q];
  }
  if (t < n) in[t] = 0;
}

// Copy: x1..xL 0 x1..xL; the model predicts the second copy. Token 0 is the separator.
void copy_task(const SyntheticSpec& s, SequenceRng& rng, int64_t* in, int64_t* tgt) {
  const int64_t n = s.seq_len, len = (n - 1) / 2;
  std::fill_n(tgt, n, kIgnoreIndex);
  for (int64_t i = 0; i < len; ++i) in[i] = 1 + rng.below(s.vocab_size - 1);
  in[len] = 0;
  for (int64_t i = 0; i < len; ++i) in[len + 1 + i] = in[i];
  for (int64_t i = 2 * len + 1; i < n; ++i) in[i] = 0;
  for (int64_t i = 0; i < len; ++i) tgt[len + i] = in[i];  // position len+i predicts token len+1+i
}

// Local copy, for sequences far longer than a window: chunks of x1..xS 0 x1..xS one after another
// (the last one cut at the sequence end); the model predicts every second copy, S + 1 tokens after
// its original, so a sliding window wider than S + 1 sees everything it needs.
void local_copy_task(const SyntheticSpec& s, SequenceRng& rng, int64_t* in, int64_t* tgt) {
  const int64_t n = s.seq_len, span = s.copy_span, chunk = 2 * span + 1;
  std::fill_n(tgt, n, kIgnoreIndex);
  for (int64_t start = 0; start < n; start += chunk) {
    for (int64_t i = 0; i < span && start + i < n; ++i) in[start + i] = 1 + rng.below(s.vocab_size - 1);
    if (start + span < n) in[start + span] = 0;
    for (int64_t i = 0; i < span && start + span + 1 + i < n; ++i) {
      in[start + span + 1 + i] = in[start + i];
      tgt[start + span + i] = in[start + i];  // position start+span+i predicts token start+span+1+i
    }
  }
}

}  // namespace

SyntheticTask::SyntheticTask(SyntheticSpec spec) : spec_(std::move(spec)) {
  ATTNSCALE_CHECK(spec_.task == "associative_recall" || spec_.task == "copy" || spec_.task == "local_copy", "data",
                  "unknown synthetic task '{}' (associative_recall, copy, local_copy)", spec_.task);
  if (spec_.task == "local_copy")
    ATTNSCALE_CHECK(spec_.copy_span >= 1 && 2 * spec_.copy_span + 1 <= spec_.seq_len, "data",
                    "local_copy with copy_span {} needs seq_len >= {}", spec_.copy_span, 2 * spec_.copy_span + 1);
  ATTNSCALE_CHECK(spec_.seq_len >= 4 && spec_.batch_size >= 1 && spec_.vocab_size >= 4, "data",
                  "seq_len >= 4, batch_size >= 1 and vocab_size >= 4 required");
  if (spec_.task == "associative_recall") {
    ATTNSCALE_CHECK(spec_.num_pairs >= 1 && spec_.num_pairs < spec_.vocab_size / 2, "data",
                    "associative_recall needs 1 <= num_pairs < vocab_size/2 ({} pairs, vocab {})", spec_.num_pairs,
                    spec_.vocab_size);
    ATTNSCALE_CHECK(2 * spec_.num_pairs + 2 <= spec_.seq_len, "data",
                    "associative_recall with {} pairs needs seq_len >= {}", spec_.num_pairs, 2 * spec_.num_pairs + 2);
  }
}

TokenBatch SyntheticTask::batch(int64_t index) const {
  const int64_t b = spec_.batch_size, n = spec_.seq_len;
  Tensor inputs = Tensor::empty({b, n}, DType::i64), targets = Tensor::empty({b, n}, DType::i64);
  for (int64_t s = 0; s < b; ++s) {
    SequenceRng rng(spec_.seed, static_cast<uint64_t>(index * b + s));
    int64_t* in = inputs.data<int64_t>() + s * n;
    int64_t* tgt = targets.data<int64_t>() + s * n;
    if (spec_.task == "copy")
      copy_task(spec_, rng, in, tgt);
    else if (spec_.task == "local_copy")
      local_copy_task(spec_, rng, in, tgt);
    else
      associative_recall(spec_, rng, in, tgt);
  }
  return {inputs, targets};
}

double SyntheticTask::chance_accuracy() const {
  if (spec_.task == "copy" || spec_.task == "local_copy") return 1.0 / static_cast<double>(spec_.vocab_size - 1);
  return 1.0 / static_cast<double>(spec_.vocab_size - spec_.vocab_size / 2);
}

}  // namespace attnscale::data
