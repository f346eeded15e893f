#include "framework/attention/kv_cache_report.h"

#include <fmt/format.h>

namespace attnscale::attention {

std::vector<KvCacheRow> kv_cache_rows(const MultiHeadLatentOptions& o) {
  const int64_t per_head = o.qk_nope_head_dim + o.qk_rope_head_dim + o.v_head_dim;
  std::vector<KvCacheRow> rows{{"MHA", o.n_heads * per_head}};
  for (int64_t g = 2; g < o.n_heads; ++g)
    if (o.n_heads % g == 0) rows.push_back({fmt::format("GQA-{}", g), g * per_head});
  rows.push_back({"MQA", per_head});
  rows.push_back({"MLA", o.kv_lora_rank + o.qk_rope_head_dim});
  return rows;
}

std::string kv_cache_report(const MultiHeadLatentOptions& o, int64_t n_layers) {
  const std::vector<KvCacheRow> rows = kv_cache_rows(o);
  const double mla = static_cast<double>(rows.back().elements_per_token);
  std::string text = fmt::format(
      "KV cache per token ({} heads, key {}+{}, value {}, latent {}; {} layer{}):", o.n_heads, o.qk_nope_head_dim,
      o.qk_rope_head_dim, o.v_head_dim, o.kv_lora_rank, n_layers, n_layers == 1 ? "" : "s");
  for (const KvCacheRow& r : rows)
    text += fmt::format("\n  {:<7} {:>7} elements/layer {:>9} total   MLA = {:.3f}x", r.scheme, r.elements_per_token,
                        r.elements_per_token * n_layers, mla / static_cast<double>(r.elements_per_token));
  return text;
}

}  // namespace attnscale::attention
