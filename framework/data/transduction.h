// Synthetic sequence-to-sequence (transduction) tasks for the encoder-decoder models: a source of
// random symbols, variable length in [min_len, max_len], and a target that is its copy, its reversal
// or its sorted form, followed by eos. Reversal puts the first target token's source at the far end
// of the source (long-range alignment that attention must find); sorting needs content-based
// attention; copying has a monotone alignment (local-m's assumption).
// Batch i is a pure function of (seed, i), like framework/data/synthetic.h. Batches are right-padded
// to their longest sequence.
#pragma once

#include <cstdint>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

enum class Transduction { copy, reverse, sort };

// Token ids: 0 pad, 1 bos, 2 eos; symbols are kFirstSymbol .. vocab_size - 1.
inline constexpr int64_t kPadId = 0, kBosId = 1, kEosId = 2, kFirstSymbol = 3;

struct TransductionSpec {
  Transduction task = Transduction::reverse;
  int64_t min_len = 3;
  int64_t max_len = 10;
  int64_t batch_size = 32;
  int64_t vocab_size = 16;  // including the three special ids
  uint64_t seed = 1234;
};

struct TransductionBatch {
  Tensor source;          // int64 [B, S], kPadId after each sequence's length
  Tensor source_lengths;  // int64 [B]
  Tensor target_inputs;   // int64 [B, T]: bos, y_1 .. y_L, then kPadId
  Tensor target_outputs;  // int64 [B, T]: y_1 .. y_L, eos, then kIgnoreIndex (T = longest L + 1)
};

class TransductionTask {
 public:
  explicit TransductionTask(const TransductionSpec& spec);
  TransductionBatch batch(int64_t index) const;
  const TransductionSpec& spec() const { return spec_; }
  int64_t max_target_steps() const { return spec_.max_len + 1; }  // with eos
  // Token accuracy of guessing uniformly among the symbols.
  double chance_accuracy() const;

 private:
  TransductionSpec spec_;
};

}  // namespace attnscale::data
