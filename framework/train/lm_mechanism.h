// How attention.mechanism and its config sections (mla, adaptive_span) configure the attention
// layers of the TransformerLM, and what the log says about them.
#pragma once

#include "framework/config/config.h"
#include "framework/models/transformer_lm.h"

namespace attnscale::train {

// Sets the attention kind, normaliser and the mechanism's own options. ConfigError naming the key
// for a mechanism or normaliser the TransformerLM does not have.
void apply_lm_mechanism(const Config& cfg, models::TransformerLMOptions& options);

// Facts to log once the model is built: MLA's KV cache per token next to MHA/GQA/MQA.
void log_lm_mechanism(const models::TransformerLM& model);

// Which fused kernel the attention layers run (attention.kernel; choose_attention_kernel of
// kernels/attention_kernel.h) and why: one log line for all layers, which share the mask, the shape
// and the element type. `device` is where the model lives (its compute capability counts).
void log_attention_kernel(const Config& cfg, const models::TransformerLMOptions& options, Device device);

// Facts to log at each evaluation: the adaptive spans per layer and the keys each query scores.
void log_lm_mechanism_state(const models::TransformerLM& model);

}  // namespace attnscale::train
