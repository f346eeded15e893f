// Self-attention (intra-attention; Vaswani et al. 2017, arXiv:1706.03762): queries, keys and values
// are projections of one sequence. This is the interface of a Transformer block's attention layer;
// each mechanism that can fill that slot implements it (multi_head.h for scaled dot-product, self,
// multi-head and sparse attention, mla.h, adaptive_span.h), and its registration
// (framework/train/mechanisms/transformer_lm.cpp) builds it for attention.mechanism.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "framework/nn/module.h"

namespace attnscale::attention {

// What cached decoding keeps of one layer's past tokens, for a batch of sequences; each mechanism
// with a cache derives its own (KvCache in multi_head.h, LatentKvCache in mla.h).
class DecodeCache {
 public:
  virtual ~DecodeCache() = default;
  virtual int64_t length() const = 0;              // tokens held per sequence
  virtual int64_t elements_per_token() const = 0;  // values cached per token of one sequence
};

// How multi-head latent attention attends over its latent cache (mla.h): plain up-projects the
// cached latents to per-head keys and values; absorbed folds W_UK into the queries and W_UV into
// the output and never forms per-head keys.
enum class LatentPath { plain, absorbed };

struct DecodeOptions {
  LatentPath latent_path = LatentPath::absorbed;  // multi_head_latent only
};

class SelfAttention : public nn::Module {
 public:
  // x [B, N, d_model] -> [B, N, d_model]. positions int64 [N]: the tokens' global positions.
  // key_valid [B * N] (batch-major, nonzero = a real token) masks padding keys; empty = none.
  virtual Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const = 0;

  // This layer's term of the training loss (adaptive span's span penalty); undefined = none.
  virtual Tensor auxiliary_loss() const { return Tensor(); }

  // Cached decoding, for the mechanisms that have it: make_cache returns an empty cache (null when
  // the mechanism has none); forward_cached (prefill or one step) appends the keys of x's tokens to
  // `cache` and attends from them over everything it holds. `positions` must continue the cache:
  // cache.length() .. cache.length() + N - 1. Gives what forward gives at those positions.
  virtual std::unique_ptr<DecodeCache> make_cache(const DecodeOptions& /*options*/) const { return nullptr; }
  virtual Tensor forward_cached(const Tensor& x, const Tensor& positions, DecodeCache& cache) const;

 protected:
  // UsageError "[<who>] ..." unless positions continue the cache and x's batch matches what it holds
  // (`batch` = the cache's batch, 0 while empty).
  static void check_continues(const char* who, const Tensor& x, const Tensor& positions, int64_t cached,
                              int64_t batch);
};

}  // namespace attnscale::attention
