#include "framework/train/lm_mechanism.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/logging.h"
#include "framework/attention/kv_cache_report.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "kernels/attention_kernel.h"
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

void log_attention_kernel(const Config& cfg, const models::TransformerLMOptions& o, Device device) {
  const std::string_view requested = kernels::attention_kernel_name(cfg.attention.kernel);
  std::string reason;
  if (!o.fused_attention) {
    reason = "own: attention.impl = plain builds attention from ops";
  } else if (o.normalizer != kernels::Normalizer::softmax) {
    reason = "own: sparsemax runs the general path";
  } else {
    // The one-rank call of a layer: the whole sequence, this build's float32 activations.
    const int64_t head_dim = o.d_model / o.n_heads;
    kernels::AttentionParams params = kernels::default_attention_params(
        {1, o.n_heads, o.n_kv_heads > 0 ? o.n_kv_heads : o.n_heads, cfg.data.seq_len, cfg.data.seq_len, head_dim,
         head_dim});
    params.mask = o.mask;
    kernels::SmVersion sm = 0;
    if (device.is_cuda()) {
      const cuda::DeviceProperties p = cuda::properties(device);
      sm = p.major * 10 + p.minor;
    }
    reason = kernels::choose_attention_kernel(cfg.attention.kernel, params, kernels::AttentionDType::f32, sm,
                                              kernels::cudnn_attention_compiled())
                 .reason;
  }
  LOG_INFO("attention.kernel = {}, layers 0-{}: {}", requested, o.n_layers - 1, reason);
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
