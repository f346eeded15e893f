// Text generation with a TransformerLM, one sequence at a time: each new token is the argmax of the
// last position's logits (temperature 0) or a draw from softmax(logits / temperature).
//   with the cache     the prompt goes through forward_cached once (prefill), then each new token
//                      alone: the cost of a step grows with the cache, not with a recomputed prefix;
//   without the cache  every step runs forward() over the whole prefix: the reference the cached
//                      path must agree with, and the baseline of benchmarks/bench_decode.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/models/transformer_lm.h"

namespace attnscale::models {

struct GenerateOptions {
  int64_t new_tokens = 100;
  double temperature = 0.0;  // 0 = greedy
  uint64_t seed = 1234;      // the sampling stream (temperature > 0)
  bool use_cache = true;
  attention::DecodeOptions decode;  // with the cache: MLA's plain or absorbed path
};

struct Generated {
  std::vector<int64_t> tokens;           // the prompt, then the new tokens
  int64_t cache_elements_per_token = 0;  // summed over layers (0 without the cache)
};

// The model is put in evaluation mode; runs without gradients. UsageError for an empty prompt or a
// token outside the vocabulary.
Generated generate(TransformerLM& model, const std::vector<int64_t>& prompt, const GenerateOptions& options);

}  // namespace attnscale::models
