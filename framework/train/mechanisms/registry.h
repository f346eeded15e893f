// The mechanism registry: every value of attention.mechanism, with the model it fits, its rules over
// the other config keys and what it installs in that model's options (its module's factory and the
// module's own options, translated from its config section). The registrations live by model family
// beside this file (transformer_lm.cpp, seq2seq.cpp, model_owned.cpp); registry.cpp lists them, in
// one place and in the order `attnscale config docs` shows the names. docs/ARCHITECTURE.md section 6
// walks through adding one.
//
// One list rather than self-registering static objects: libattnscale is a static library, so the
// linker would drop a registration file that nothing references (and WHOLE_ARCHIVE on every program
// and test would hide that dependency); the list is grep-able, its order is the documented order,
// and nothing runs before main.
#pragma once

#include <span>
#include <string_view>

#include "framework/config/config.h"
#include "framework/models/seq2seq.h"
#include "framework/models/transformer_lm.h"

namespace attnscale::train {

struct Mechanism {
  std::string_view name;       // attention.mechanism
  config::ModelType model;     // the model it fits; a name may fit several (adaptive)
  config::MechanismRules rules;  // checked by config::validate when a config loads
  // model.type = transformer_lm: installs every block's self-attention factory (and the mechanism's
  // own options) in the options the config filled; ConfigError naming a key that does not fit.
  void (*transformer_lm)(const Config& cfg, models::TransformerLMOptions& options) = nullptr;
  // model.type = seq2seq: installs the decoder's source attention and its wiring, likewise.
  void (*seq2seq)(const Config& cfg, models::Seq2SeqOptions& options) = nullptr;
  // What the TransformerLM task logs once the model is built, and at each evaluation. Null = nothing.
  void (*log_built)(const Config& cfg) = nullptr;
  void (*log_evaluation)(const models::TransformerLM& model) = nullptr;
};
// The other models (encoder_decoder, memn2n, temporal, captioner, han) build their one mechanism
// themselves: its registration names it and the model, and the task checks that the name fits.

// Every registration, in registry.cpp's order.
std::span<const Mechanism> mechanisms();

// The registration of `name` for `model`, or null.
const Mechanism* find_mechanism(std::string_view name, config::ModelType model);

// attention.mechanism's registration for model.type. ConfigError "[config] attention.mechanism: 'x'
// does not fit model.type = m, which takes attention.mechanism = a, b or c (<where set>)" otherwise.
const Mechanism& mechanism_of(const Config& cfg);

}  // namespace attnscale::train
