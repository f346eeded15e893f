// The one place that maps a mechanism name to the module filling a Transformer block's
// self-attention slot, and checks that the options fit that mechanism (errors name both).
#pragma once

#include <memory>

#include "framework/attention/adaptive_span.h"
#include "framework/attention/mla.h"
#include "framework/attention/multi_head.h"

namespace attnscale::attention {

enum class SelfAttentionKind {
  scaled_dot_product,  // one head: softmax(Q K^T / sqrt(d_model)) V over learned projections
  self,                // multi-head self-attention, a key/value head per query head (Vaswani et al.)
  multi_head,          // multi-head with grouped-query / multi-query key/value heads as options
  multi_head_latent,   // MLA (mla.h)
  sparse,              // multi-head with a block-sparse mask and/or the sparsemax normaliser
  adaptive_span,       // adaptive attention span (adaptive_span.h)
};

const char* self_attention_kind_name(SelfAttentionKind kind);

struct SelfAttentionSpec {
  SelfAttentionKind kind = SelfAttentionKind::multi_head;
  // Every kind reads d_model, n_heads, rope_theta and scale from here; the multi-head kinds and
  // MLA also the mask, fused and normalizer.
  MultiHeadOptions heads;
  // multi_head_latent: the latent and head widths (its shared fields are taken from `heads`).
  MultiHeadLatentOptions latent;
  // adaptive_span: max_span, ramp, init_span, penalty (shared fields from `heads`).
  AdaptiveSpanOptions span;
};

// UsageError "[<mechanism>] ..." naming the option that does not fit.
std::shared_ptr<SelfAttention> make_self_attention(const SelfAttentionSpec& spec, Generator& gen,
                                                   DType dtype = DType::f32);

}  // namespace attnscale::attention
