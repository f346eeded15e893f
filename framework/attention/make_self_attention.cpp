#include "framework/attention/make_self_attention.h"

namespace attnscale::attention {
namespace {

bool one_kv_head_per_query_head(const MultiHeadOptions& h) { return h.n_kv_heads == 0 || h.n_kv_heads == h.n_heads; }

}  // namespace

const char* self_attention_kind_name(SelfAttentionKind kind) {
  switch (kind) {
    case SelfAttentionKind::scaled_dot_product: return "scaled_dot_product";
    case SelfAttentionKind::self: return "self";
    case SelfAttentionKind::multi_head: return "multi_head";
    case SelfAttentionKind::multi_head_latent: return "multi_head_latent";
    case SelfAttentionKind::sparse: return "sparse";
    case SelfAttentionKind::adaptive_span: return "adaptive_span";
  }
  return "?";
}

std::shared_ptr<SelfAttention> make_self_attention(const SelfAttentionSpec& spec, Generator& gen, DType dtype) {
  const MultiHeadOptions& h = spec.heads;
  const char* name = self_attention_kind_name(spec.kind);
  switch (spec.kind) {
    case SelfAttentionKind::scaled_dot_product:
      ATTNSCALE_CHECK(h.n_heads == 1 && (h.n_kv_heads == 0 || h.n_kv_heads == 1), name,
                      "single-head attention needs n_heads = 1 (got {}, kv heads {}); use multi_head for several heads",
                      h.n_heads, h.n_kv_heads);
      return std::make_shared<MultiHeadAttention>(h, gen, dtype);
    case SelfAttentionKind::self:
      ATTNSCALE_CHECK(one_kv_head_per_query_head(h), name,
                      "has a key/value head per query head: n_kv_heads must be 0 or n_heads ({}), got {}; "
                      "grouped-query heads are multi_head's option", h.n_heads, h.n_kv_heads);
      return std::make_shared<MultiHeadAttention>(h, gen, dtype);
    case SelfAttentionKind::multi_head:
      return std::make_shared<MultiHeadAttention>(h, gen, dtype);
    case SelfAttentionKind::sparse:
      ATTNSCALE_CHECK(h.mask.blocks || h.normalizer == kernels::Normalizer::sparsemax, name,
                      "needs a block-sparse mask (mask = block_sparse) or the sparsemax normalizer, or both");
      return std::make_shared<MultiHeadAttention>(h, gen, dtype);
    case SelfAttentionKind::multi_head_latent: {
      ATTNSCALE_CHECK(one_kv_head_per_query_head(h), name,
                      "compresses keys and values into a latent: n_kv_heads (GQA/MQA) does not apply, got {}",
                      h.n_kv_heads);
      ATTNSCALE_CHECK(!h.context_parallel || !splits_heads(h.context_parallel->algo), name,
                      "shares one latent key/value head across all query heads: Ulysses cannot split it over "
                      "ranks; use parallel.algo ring, halo, sparse_fetch or auto");
      MultiHeadLatentOptions o = spec.latent;
      o.d_model = h.d_model, o.n_heads = h.n_heads, o.rope_theta = h.rope_theta, o.mask = h.mask;
      o.fused = h.fused, o.scale = h.scale, o.normalizer = h.normalizer;
      o.context_parallel = h.context_parallel;
      return std::make_shared<MultiHeadLatentAttention>(o, gen, dtype);
    }
    case SelfAttentionKind::adaptive_span: {
      ATTNSCALE_CHECK(one_kv_head_per_query_head(h), name, "n_kv_heads (GQA/MQA) does not apply, got {}",
                      h.n_kv_heads);
      ATTNSCALE_CHECK(h.normalizer == kernels::Normalizer::softmax, name,
                      "its soft span mask reweights a softmax: normalizer must be softmax");
      ATTNSCALE_CHECK(h.mask.causal && !h.mask.window && !h.mask.blocks, name,
                      "makes its own causal span mask: the mask must be plain causal (max_span bounds the window)");
      ATTNSCALE_CHECK(!h.context_parallel || h.context_parallel->layout.kind == kernels::LayoutKind::contiguous, name,
                      "fetches the keys before each shard (its span is a causal window): parallel.layout must be "
                      "contiguous");
      AdaptiveSpanOptions o = spec.span;
      o.d_model = h.d_model, o.n_heads = h.n_heads, o.rope_theta = h.rope_theta, o.scale = h.scale;
      o.context_parallel = h.context_parallel;
      return std::make_shared<AdaptiveSpanAttention>(o, gen, dtype);
    }
  }
  throw UsageError("[attention] unknown self-attention kind");
}

}  // namespace attnscale::attention
