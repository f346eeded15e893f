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

// Facts to log at each evaluation: the adaptive spans per layer and the keys each query scores.
void log_lm_mechanism_state(const models::TransformerLM& model);

}  // namespace attnscale::train
