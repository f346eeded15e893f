// What the training tasks share: config checks whose errors name the key, the problem and where the
// key was set (as config/validate.cpp does for the generic rules), and the numbering of evaluation
// batches.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "framework/config/config.h"

namespace attnscale::train::task_config {

// Evaluation batches are numbered from here, far beyond any training batch, so no task ever
// evaluates on a batch it trained on.
inline constexpr int64_t kEvalBatchBase = int64_t{1} << 40;

// Where `key` was set ("configs/x.yaml:4:12", or "default").
std::string origin(const Config& cfg, std::string_view key);

// ConfigError "[config] <key>: <problem> (<origin>)".
[[noreturn]] void fail(const Config& cfg, std::string_view key, std::string_view problem);

// model.type must be `model` (a programming error otherwise) and attention.mechanism one registered
// for it (train/mechanisms/registry.h: mechanism_of).
void check_model_mechanism(const Config& cfg, config::ModelType model);

// A key the model would ignore is an error when it differs from its default, not a silent no-op.
template <typename T>
void reject_unused(const Config& cfg, std::string_view key, const T& value, const T& default_value,
                   std::string_view problem) {
  if (value != default_value) fail(cfg, key, problem);
}

}  // namespace attnscale::train::task_config
