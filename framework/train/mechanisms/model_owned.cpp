// Mechanisms that are their model's one attention, built by the model itself: the registration names
// the mechanism and the model it belongs to, and the model's task checks that the config's name fits.
#include "framework/train/mechanisms/registry.h"

namespace attnscale::train {

// The Transformer encoder-decoder's cross-attention (and its self-attention layers).
Mechanism cross_mechanism() { return {.name = "cross", .model = config::ModelType::encoder_decoder}; }

// End-To-End Memory Network hops.
Mechanism memory_mechanism() { return {.name = "memory", .model = config::ModelType::memn2n}; }

// The captioning decoder's visual sentinel (the TransformerLM's adaptive span has the same name).
Mechanism visual_sentinel_mechanism() { return {.name = "adaptive", .model = config::ModelType::captioner}; }

// HAN's word and sentence attention pooling.
Mechanism hierarchical_mechanism() { return {.name = "hierarchical", .model = config::ModelType::han}; }

// TemporalAttentionNet's attention over time steps.
Mechanism temporal_mechanism() { return {.name = "temporal", .model = config::ModelType::temporal}; }

}  // namespace attnscale::train
