#include "framework/train/lm_mechanism.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/logging.h"
#include "framework/attention/kv_cache_report.h"
#include "framework/train/from_config.h"

namespace attnscale::train {
namespace {

attention::SelfAttentionKind lm_attention_kind(const Config& cfg) {
  using attention::SelfAttentionKind;
  switch (cfg.attention.mechanism) {
    case config::Mechanism::scaled_dot_product: return SelfAttentionKind::scaled_dot_product;
    case config::Mechanism::self: return SelfAttentionKind::self;
    case config::Mechanism::multi_head: return SelfAttentionKind::multi_head;
    case config::Mechanism::multi_head_latent: return SelfAttentionKind::multi_head_latent;
    case config::Mechanism::sparse: return SelfAttentionKind::sparse;
    case config::Mechanism::adaptive: return SelfAttentionKind::adaptive_span;
    default:
      throw ConfigError(fmt::format(
          "[config] attention.mechanism: '{}' is not a mechanism of model.type = transformer_lm (scaled_dot_product, "
          "self, multi_head, multi_head_latent, sparse, adaptive)",
          config::to_string(cfg.attention.mechanism)));
  }
}

}  // namespace

void apply_lm_mechanism(const Config& cfg, models::TransformerLMOptions& o) {
  o.attention_kind = lm_attention_kind(cfg);
  o.normalizer = dot_product_normalizer(cfg);
  const MlaConfig& m = cfg.mla;
  o.latent.q_lora_rank = m.q_lora_rank;
  o.latent.kv_lora_rank = m.kv_lora_rank;
  o.latent.qk_nope_head_dim = m.qk_nope_head_dim;
  o.latent.qk_rope_head_dim = m.qk_rope_head_dim;
  o.latent.v_head_dim = m.v_head_dim;
  const AdaptiveSpanConfig& s = cfg.adaptive_span;
  o.span.max_span = s.max_span;
  o.span.ramp = s.ramp;
  o.span.init_span = s.init;
  o.span.penalty = s.penalty;
}

void log_lm_mechanism(const models::TransformerLM& model) {
  const models::TransformerLMOptions& o = model.options();
  if (o.attention_kind != attention::SelfAttentionKind::multi_head_latent) return;
  attention::MultiHeadLatentOptions latent = o.latent;
  latent.n_heads = o.n_heads;
  LOG_INFO("{}", attention::kv_cache_report(latent, o.n_layers));
}

void log_lm_mechanism_state(const models::TransformerLM& model) {
  if (model.options().attention_kind != attention::SelfAttentionKind::adaptive_span) return;
  for (size_t i = 0; i < model.blocks().size(); ++i) {
    const auto& span = dynamic_cast<const attention::AdaptiveSpanAttention&>(model.blocks()[i]->attention());
    LOG_INFO("adaptive span, layer {}: spans {:.1f} tokens, {} keys per query", i, fmt::join(span.spans(), " "),
             span.window());
  }
}

}  // namespace attnscale::train
