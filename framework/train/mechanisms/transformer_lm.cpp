// The self-attention mechanisms of the TransformerLM (model.type = transformer_lm): the module each
// puts in a block's attention slot with its option checks (UsageError "[<mechanism>] ..." naming the
// option), its own config section, and its rules over the other keys.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/logging.h"
#include "framework/attention/adaptive_span.h"
#include "framework/attention/kv_cache_report.h"
#include "framework/attention/mla.h"
#include "framework/attention/multi_head.h"
#include "framework/train/mechanisms/registry.h"

namespace attnscale::train {
namespace {

using attention::MultiHeadOptions;
using config::fail_rule;
using models::TransformerLMOptions;

bool one_kv_head_per_query_head(const MultiHeadOptions& h) { return h.n_kv_heads == 0 || h.n_kv_heads == h.n_heads; }

std::shared_ptr<attention::SelfAttention> scaled_dot_product(const MultiHeadOptions& h, Generator& gen, DType dtype) {
  ATTNSCALE_CHECK(h.n_heads == 1 && (h.n_kv_heads == 0 || h.n_kv_heads == 1), "scaled_dot_product",
                  "single-head attention needs n_heads = 1 (got {}, kv heads {}); use multi_head for several heads",
                  h.n_heads, h.n_kv_heads);
  return std::make_shared<attention::MultiHeadAttention>(h, gen, dtype);
}

std::shared_ptr<attention::SelfAttention> self(const MultiHeadOptions& h, Generator& gen, DType dtype) {
  ATTNSCALE_CHECK(one_kv_head_per_query_head(h), "self",
                  "has a key/value head per query head: n_kv_heads must be 0 or n_heads ({}), got {}; "
                  "grouped-query heads are multi_head's option", h.n_heads, h.n_kv_heads);
  return std::make_shared<attention::MultiHeadAttention>(h, gen, dtype);
}

std::shared_ptr<attention::SelfAttention> multi_head(const MultiHeadOptions& h, Generator& gen, DType dtype) {
  return std::make_shared<attention::MultiHeadAttention>(h, gen, dtype);
}

std::shared_ptr<attention::SelfAttention> sparse(const MultiHeadOptions& h, Generator& gen, DType dtype) {
  ATTNSCALE_CHECK(h.mask.blocks || h.normalizer == kernels::Normalizer::sparsemax, "sparse",
                  "needs a block-sparse mask (mask = block_sparse) or the sparsemax normalizer, or both");
  return std::make_shared<attention::MultiHeadAttention>(h, gen, dtype);
}

// The mla section; the shared fields come from the block's options.
attention::MultiHeadLatentOptions latent_options(const Config& cfg) {
  attention::MultiHeadLatentOptions o;
  o.q_lora_rank = cfg.mla.q_lora_rank;
  o.kv_lora_rank = cfg.mla.kv_lora_rank;
  o.qk_nope_head_dim = cfg.mla.qk_nope_head_dim;
  o.qk_rope_head_dim = cfg.mla.qk_rope_head_dim;
  o.v_head_dim = cfg.mla.v_head_dim;
  o.n_heads = cfg.model.n_heads;
  return o;
}

void install_multi_head_latent(const Config& cfg, TransformerLMOptions& options) {
  options.make_attention = [latent = latent_options(cfg)](const MultiHeadOptions& h, Generator& gen, DType dtype)
      -> std::shared_ptr<attention::SelfAttention> {
    ATTNSCALE_CHECK(one_kv_head_per_query_head(h), "multi_head_latent",
                    "compresses keys and values into a latent: n_kv_heads (GQA/MQA) does not apply, got {}",
                    h.n_kv_heads);
    ATTNSCALE_CHECK(!h.context_parallel || !splits_heads(h.context_parallel->algo), "multi_head_latent",
                    "shares one latent key/value head across all query heads: Ulysses cannot split it over "
                    "ranks; use parallel.algo ring, halo, sparse_fetch or auto");
    attention::MultiHeadLatentOptions o = latent;
    o.d_model = h.d_model, o.n_heads = h.n_heads, o.rope_theta = h.rope_theta, o.mask = h.mask;
    o.fused = h.fused, o.scale = h.scale, o.normalizer = h.normalizer;
    o.context_parallel = h.context_parallel;
    return std::make_shared<attention::MultiHeadLatentAttention>(o, gen, dtype);
  };
}

void check_multi_head_latent(const Config& cfg) {
  const ParallelConfig& p = cfg.parallel;
  if (p.cp > 1 && p.ulysses > 1)
    fail_rule(cfg, {"parallel.algo", "attention.mechanism"},
              fmt::format("{} cannot split multi_head_latent's one shared latent key/value head over ranks; use "
                          "ring, halo, sparse_fetch or auto",
                          config::to_string(p.algo)));
}

// MLA's KV cache per token next to MHA/GQA/MQA of the same shape.
void log_multi_head_latent(const Config& cfg) {
  LOG_INFO("{}", attention::kv_cache_report(latent_options(cfg), cfg.model.n_layers));
}

// The adaptive_span section; the shared fields come from the block's options.
void install_adaptive_span(const Config& cfg, TransformerLMOptions& options) {
  attention::AdaptiveSpanOptions span;
  span.max_span = cfg.adaptive_span.max_span;
  span.ramp = cfg.adaptive_span.ramp;
  span.init_span = cfg.adaptive_span.init;
  span.penalty = cfg.adaptive_span.penalty;
  options.make_attention = [span](const MultiHeadOptions& h, Generator& gen, DType dtype)
      -> std::shared_ptr<attention::SelfAttention> {
    ATTNSCALE_CHECK(one_kv_head_per_query_head(h), "adaptive_span", "n_kv_heads (GQA/MQA) does not apply, got {}",
                    h.n_kv_heads);
    ATTNSCALE_CHECK(h.normalizer == kernels::Normalizer::softmax, "adaptive_span",
                    "its soft span mask reweights a softmax: normalizer must be softmax");
    ATTNSCALE_CHECK(h.mask.causal && !h.mask.window && !h.mask.blocks, "adaptive_span",
                    "makes its own causal span mask: the mask must be plain causal (max_span bounds the window)");
    ATTNSCALE_CHECK(!h.context_parallel || h.context_parallel->layout.kind == kernels::LayoutKind::contiguous,
                    "adaptive_span",
                    "fetches the keys before each shard (its span is a causal window): parallel.layout must be "
                    "contiguous");
    attention::AdaptiveSpanOptions o = span;
    o.d_model = h.d_model, o.n_heads = h.n_heads, o.rope_theta = h.rope_theta, o.scale = h.scale;
    o.context_parallel = h.context_parallel;
    return std::make_shared<attention::AdaptiveSpanAttention>(o, gen, dtype);
  };
}

void check_adaptive_span(const Config& cfg) {
  if (cfg.model.activation_checkpointing)
    fail_rule(cfg, {"model.activation_checkpointing", "attention.mechanism"},
              "cannot recompute adaptive span (its span penalty is a loss term outside the block's output)");
  const ParallelConfig& p = cfg.parallel;
  const bool span_halo = p.algo == ParallelAlgo::halo || p.algo == ParallelAlgo::auto_;
  if (p.cp > 1 && (!span_halo || p.layout != config::Layout::contiguous))
    fail_rule(cfg, {"parallel.algo", "parallel.layout", "attention.mechanism"},
              fmt::format("adaptive span over parallel.cp = {} ranks fetches the keys before each shard (its span "
                          "is a causal window): use parallel.algo = halo (or auto) and parallel.layout = contiguous, "
                          "got {} and {}",
                          p.cp, config::to_string(p.algo), config::to_string(p.layout)));
}

// The spans per layer and the keys each query scores.
void log_adaptive_span(const models::TransformerLM& model) {
  for (size_t i = 0; i < model.blocks().size(); ++i) {
    const auto& span = dynamic_cast<const attention::AdaptiveSpanAttention&>(model.blocks()[i]->attention());
    LOG_INFO("adaptive span, layer {}: spans {:.1f} tokens, {} keys per query", i, fmt::join(span.spans(), " "),
             span.window());
  }
}

// Multi-query attention (Shazeer 2019): every query head reads one shared key/value head, so the
// decoding cache is 1/n_heads of multi-head attention's. model.n_kv_heads = 0 means that one head.
void install_multi_query(const Config&, TransformerLMOptions& o) {
  o.attention.n_kv_heads = 1;
  o.make_attention = multi_head;
}

void check_multi_query(const Config& cfg) {
  if (cfg.model.n_kv_heads > 1)
    fail_rule(cfg, {"model.n_kv_heads", "attention.mechanism"},
              fmt::format("{} key/value heads, but multi_query shares one across all query heads: leave "
                          "model.n_kv_heads at 0 (or 1), or use multi_head for grouped-query heads",
                          cfg.model.n_kv_heads));
}

}  // namespace

Mechanism scaled_dot_product_mechanism() {
  return {.name = "scaled_dot_product",
          .model = config::ModelType::transformer_lm,
          .transformer_lm = [](const Config&, TransformerLMOptions& o) { o.make_attention = scaled_dot_product; }};
}

Mechanism self_mechanism() {
  return {.name = "self",
          .model = config::ModelType::transformer_lm,
          .transformer_lm = [](const Config&, TransformerLMOptions& o) { o.make_attention = self; }};
}

Mechanism multi_head_mechanism() {
  return {.name = "multi_head",
          .model = config::ModelType::transformer_lm,
          .transformer_lm = [](const Config&, TransformerLMOptions& o) { o.make_attention = multi_head; }};
}

Mechanism multi_query_mechanism() {
  return {.name = "multi_query",
          .model = config::ModelType::transformer_lm,
          .rules = {.check = check_multi_query},
          .transformer_lm = install_multi_query};
}

Mechanism multi_head_latent_mechanism() {
  return {.name = "multi_head_latent",
          .model = config::ModelType::transformer_lm,
          .rules = {.check = check_multi_head_latent},
          .transformer_lm = install_multi_head_latent,
          .log_built = log_multi_head_latent};
}

Mechanism sparse_mechanism() {
  return {.name = "sparse",
          .model = config::ModelType::transformer_lm,
          .transformer_lm = [](const Config&, TransformerLMOptions& o) { o.make_attention = sparse; }};
}

Mechanism adaptive_span_mechanism() {
  return {.name = "adaptive",
          .model = config::ModelType::transformer_lm,
          .rules = {.check = check_adaptive_span, .causal_window = true},
          .transformer_lm = install_adaptive_span,
          .log_evaluation = log_adaptive_span};
}

}  // namespace attnscale::train
