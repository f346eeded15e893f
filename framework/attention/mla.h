// Multi-head latent attention (MLA; DeepSeek-AI 2024, "DeepSeek-V2", arXiv:2405.04434, section 2.1).
// Keys and values are compressed jointly into a low-rank latent c_kv = norm(W_DKV x)
// (kv_lora_rank = d_c) and up-projected per head (W_UK, W_UV); queries optionally through their own
// latent (q_lora_rank). Rotary positions are decoupled: each head has qk_rope_head_dim rotated
// query dimensions, and one rotated key k_pe of that width is shared by all heads. A query/key head
// is [nope | rope] = qk_nope_head_dim + qk_rope_head_dim wide, a value head v_head_dim.
//
// Decoding caches only c_kv and k_pe (kv_lora_rank + qk_rope_head_dim values per token and layer,
// kv_cache_report.h compares that with MHA/GQA/MQA). Two ways to attend over that cache:
//   plain     up-project the cached latents to per-head keys and values, then attend;
//   absorbed  fold W_UK into the queries (q_nope W_UK attends over c_kv directly, an MQA-shaped
//             attention with one latent "head") and apply W_UV to the attended latent.
// Both give the same output (tests/mechanisms); the absorbed one never materialises per-head keys.
//
// Sequences sharded over a cp group (context_parallel set) attend by the absorbed path through
// sequence_parallel_attention: what travels between ranks (ring, halo or block fetch) is the latent
// cache, kv_lora_rank + qk_rope_head_dim key values and kv_lora_rank value values per token, not
// per-head keys and values. Ulysses cannot split its one shared key/value head.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "framework/attention/self_attention.h"
#include "framework/nn/layers.h"
#include "kernels/general_attention.h"
#include "kernels/mask.h"

namespace attnscale::attention {

struct MultiHeadLatentOptions {
  int64_t d_model = 128;
  int64_t n_heads = 4;
  int64_t q_lora_rank = 0;        // query latent width d_c'; 0 = queries projected directly
  int64_t kv_lora_rank = 64;      // key/value latent width d_c (what the cache holds)
  int64_t qk_nope_head_dim = 32;  // per-head query/key dimensions without rotation
  int64_t qk_rope_head_dim = 16;  // decoupled rotary dimensions (even); the key's are shared by all heads
  int64_t v_head_dim = 32;
  double rope_theta = 10000.0;
  kernels::Mask mask;             // positional parts, global positions (causal for a language model)
  bool fused = true;
  double scale = 0.0;             // 0 = 1/sqrt(qk_nope_head_dim + qk_rope_head_dim)
  kernels::Normalizer normalizer = kernels::Normalizer::softmax;
  // As MultiHeadOptions: x holds this rank's shard of each sequence when set (any algorithm that
  // keeps the heads together: not ulysses or hybrid).
  std::shared_ptr<const ContextParallelGroup> context_parallel;
};

// What decoding keeps per token: the normalised latent and the rotated shared rope key, and which
// path attends over them.
struct LatentKvCache : DecodeCache {
  Tensor latent;    // [B, T, kv_lora_rank]; undefined while empty
  Tensor rope_key;  // [B, T, qk_rope_head_dim]
  LatentPath path = LatentPath::absorbed;
  int64_t length() const override { return latent.defined() ? latent.shape()[1] : 0; }
  int64_t elements_per_token() const override {
    return latent.defined() ? latent.shape()[2] + rope_key.shape()[2] : 0;
  }
};

class MultiHeadLatentAttention : public SelfAttention {
 public:
  MultiHeadLatentAttention(const MultiHeadLatentOptions& options, Generator& gen, DType dtype = DType::f32);

  // Training: every token's keys and values up-projected from its latent (the plain path).
  Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const override;

  // The same attention through the absorbed weights (no per-head keys or values).
  Tensor forward_absorbed(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const;

  // Decoding (prefill or one step) over a LatentKvCache by its path (SelfAttention::forward_cached).
  std::unique_ptr<DecodeCache> make_cache(const DecodeOptions& options) const override;
  Tensor forward_cached(const Tensor& x, const Tensor& positions, DecodeCache& cache) const override;

  const MultiHeadLatentOptions& options() const { return options_; }

 private:
  struct Queries {
    Tensor nope, rope;  // [B, H, N, qk_nope_head_dim], [B, H, N, qk_rope_head_dim] (rotated)
  };
  struct Latents {
    Tensor latent, rope_key;  // [B, N, kv_lora_rank] (normalised), [B, N, qk_rope_head_dim] (rotated)
  };
  Queries queries(const Tensor& x, const Tensor& positions) const;
  Latents latents(const Tensor& x, const Tensor& positions) const;
  // Attention of the queries over cached latents at key positions 0..M-1 (or the queries' own).
  Tensor attend(const Queries& q, const Latents& kv, const Tensor& q_positions, const Tensor& k_positions,
                std::span<const int32_t> key_valid, LatentPath path) const;
  void check_input(const Tensor& x, const Tensor& positions) const;

  MultiHeadLatentOptions options_;
  std::shared_ptr<nn::Linear> q_proj_;              // q_lora_rank == 0
  std::shared_ptr<nn::Linear> q_down_, q_up_;       // q_lora_rank > 0
  std::shared_ptr<nn::RMSNorm> q_norm_;
  std::shared_ptr<nn::Linear> kv_down_, kv_up_, o_proj_;
  std::shared_ptr<nn::RMSNorm> kv_norm_;
};

}  // namespace attnscale::attention
