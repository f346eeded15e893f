#include "framework/train/task_config.h"

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::train::task_config {

std::string origin(const Config& cfg, std::string_view key) {
  const auto it = cfg.origins.find(key);
  return it == cfg.origins.end() ? "default" : it->second;
}

void fail(const Config& cfg, std::string_view key, std::string_view problem) {
  throw ConfigError(fmt::format("[config] {}: {} ({})", key, problem, origin(cfg, key)));
}

void check_model_mechanism(const Config& cfg, config::ModelType model, config::Mechanism mechanism) {
  if (cfg.model.type != model)
    fail(cfg, "model.type", fmt::format("'{}' is not {}", config::to_string(cfg.model.type), config::to_string(model)));
  if (cfg.attention.mechanism != mechanism)
    fail(cfg, "attention.mechanism",
         fmt::format("'{}' does not fit model.type = {}, which takes attention.mechanism = {}",
                     config::to_string(cfg.attention.mechanism), config::to_string(model),
                     config::to_string(mechanism)));
}

}  // namespace attnscale::train::task_config
