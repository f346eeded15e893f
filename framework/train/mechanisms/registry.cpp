// The one list of registrations, and the lookups over it.
#include "framework/train/mechanisms/registry.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/train/task_config.h"

namespace attnscale::train {

// Defined beside this file, one per mechanism and model.
Mechanism scaled_dot_product_mechanism();
Mechanism self_mechanism();
Mechanism cross_mechanism();
Mechanism multi_head_mechanism();
Mechanism multi_query_mechanism();
Mechanism multi_head_latent_mechanism();
Mechanism soft_mechanism();
Mechanism hard_mechanism();
Mechanism additive_mechanism();
Mechanism global_mechanism();
Mechanism local_mechanism();
Mechanism sparse_mechanism();
Mechanism memory_mechanism();
Mechanism adaptive_span_mechanism();
Mechanism visual_sentinel_mechanism();
Mechanism hierarchical_mechanism();
Mechanism temporal_mechanism();

namespace {

// A registration that its model could not build is a programming error, reported on first use.
void check_registration(const Mechanism& m, std::span<const Mechanism> before) {
  for (const Mechanism& other : before)
    ATTNSCALE_CHECK(other.name != m.name || other.model != m.model, "mechanisms", "'{}' is registered twice for {}",
                    m.name, config::to_string(m.model));
  ATTNSCALE_CHECK((m.model == config::ModelType::transformer_lm) == (m.transformer_lm != nullptr), "mechanisms",
                  "'{}' ({}): a transformer_lm mechanism installs its self-attention, and only it",
                  m.name, config::to_string(m.model));
  ATTNSCALE_CHECK((m.model == config::ModelType::seq2seq) == (m.seq2seq != nullptr), "mechanisms",
                  "'{}' ({}): a seq2seq mechanism installs its source attention, and only it", m.name,
                  config::to_string(m.model));
}

struct Registry {
  std::vector<Mechanism> list;
  std::vector<std::string_view> names;  // each once, in list order

  Registry() {
    list = {
        scaled_dot_product_mechanism(),
        self_mechanism(),
        cross_mechanism(),
        multi_head_mechanism(),
        multi_query_mechanism(),
        multi_head_latent_mechanism(),
        soft_mechanism(),
        hard_mechanism(),
        additive_mechanism(),
        global_mechanism(),
        local_mechanism(),
        sparse_mechanism(),
        memory_mechanism(),
        adaptive_span_mechanism(),
        visual_sentinel_mechanism(),
        hierarchical_mechanism(),
        temporal_mechanism(),
    };
    for (size_t i = 0; i < list.size(); ++i) {
      check_registration(list[i], std::span(list).first(i));
      if (std::find(names.begin(), names.end(), list[i].name) == names.end()) names.push_back(list[i].name);
    }
  }
};

const Registry& registry() {
  static const Registry instance;
  return instance;
}

}  // namespace

std::span<const Mechanism> mechanisms() { return registry().list; }

const Mechanism* find_mechanism(std::string_view name, config::ModelType model) {
  for (const Mechanism& m : mechanisms())
    if (m.name == name && m.model == model) return &m;
  return nullptr;
}

const Mechanism& mechanism_of(const Config& cfg) {
  if (const Mechanism* m = find_mechanism(cfg.attention.mechanism.name, cfg.model.type)) return *m;
  std::vector<std::string_view> fitting;
  for (const Mechanism& m : mechanisms())
    if (m.model == cfg.model.type) fitting.push_back(m.name);
  std::string names;
  for (size_t i = 0; i < fitting.size(); ++i)
    names += fmt::format("{}{}", i == 0 ? "" : (i + 1 == fitting.size() ? " or " : ", "), fitting[i]);
  task_config::fail(cfg, "attention.mechanism",
                    fmt::format("'{}' does not fit model.type = {}, which takes attention.mechanism = {}",
                                config::to_string(cfg.attention.mechanism), config::to_string(cfg.model.type), names));
}

}  // namespace attnscale::train

// What the config layer reads of the registry (framework/config/config.h).
namespace attnscale::config {

std::span<const std::string_view> mechanism_names() { return train::registry().names; }

const MechanismRules* mechanism_rules(const Config& cfg) {
  const train::Mechanism* m = train::find_mechanism(cfg.attention.mechanism.name, cfg.model.type);
  return m ? &m->rules : nullptr;
}

}  // namespace attnscale::config
