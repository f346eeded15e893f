#include "framework/train/task_config.h"

#include <fmt/format.h>

#include "base/error.h"
#include "framework/train/mechanisms/registry.h"

namespace attnscale::train::task_config {

std::string origin(const Config& cfg, std::string_view key) {
  const auto it = cfg.origins.find(key);
  return it == cfg.origins.end() ? "default" : it->second;
}

void fail(const Config& cfg, std::string_view key, std::string_view problem) {
  throw ConfigError(fmt::format("[config] {}: {} ({})", key, problem, origin(cfg, key)));
}

void check_model_mechanism(const Config& cfg, config::ModelType model) {
  if (cfg.model.type != model)
    fail(cfg, "model.type", fmt::format("'{}' is not {}", config::to_string(cfg.model.type), config::to_string(model)));
  mechanism_of(cfg);
}

}  // namespace attnscale::train::task_config
