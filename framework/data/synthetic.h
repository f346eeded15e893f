// Synthetic language-modelling tasks generated on the fly, so the quickstart needs no download.
// Batch i is a pure function of (seed, i): the loader's whole state is the next batch index, which
// makes resumed runs see exactly the batches they would have seen.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

inline constexpr int64_t kIgnoreIndex = -100;

struct TokenBatch {
  Tensor inputs;   // int64 [B, N]
  Tensor targets;  // int64 [B, N]; kIgnoreIndex where nothing is scored
};

struct SyntheticSpec {
  std::string task = "associative_recall";  // associative_recall | copy | local_copy
  int64_t seq_len = 64;
  int64_t batch_size = 16;
  int64_t vocab_size = 32;
  int64_t num_pairs = 8;  // associative_recall: key/value pairs shown before the queries
  int64_t copy_span = 64;  // local_copy: tokens per chunk
  uint64_t seed = 1234;
};

class SyntheticTask {
 public:
  explicit SyntheticTask(SyntheticSpec spec);
  TokenBatch batch(int64_t index) const;
  const SyntheticSpec& spec() const { return spec_; }
  // Accuracy a model that guesses uniformly would reach on the scored tokens.
  double chance_accuracy() const;

 private:
  SyntheticSpec spec_;
};

}  // namespace attnscale::data
