// KV-cache size per token of multi-head latent attention next to MHA, GQA and MQA of the same
// shape (DeepSeek-V2, arXiv:2405.04434, Table 1): the same query heads and the same per-head
// key width (qk_nope_head_dim + qk_rope_head_dim) and value width (v_head_dim).
//   MHA        n_heads key heads and value heads:  n_heads * (key width + value width)
//   GQA g      g shared key/value heads:            g * (key width + value width), 1 < g < n_heads, g | n_heads
//   MQA        one shared key/value head:           key width + value width
//   MLA        the latent and the shared rope key:  kv_lora_rank + qk_rope_head_dim
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/attention/mla.h"

namespace attnscale::attention {

struct KvCacheRow {
  std::string scheme;          // "MHA", "GQA-2", "MQA", "MLA"
  int64_t elements_per_token;  // cached values per token and layer
};

// MHA, GQA for every proper divisor of n_heads (ascending), MQA, then MLA.
std::vector<KvCacheRow> kv_cache_rows(const MultiHeadLatentOptions& options);

// One line per row: elements per token per layer, over n_layers layers, and MLA's size relative to each.
std::string kv_cache_report(const MultiHeadLatentOptions& options, int64_t n_layers);

}  // namespace attnscale::attention
